//! Transactional email.
//!
//! A flow renders its [`EmailMessage`] (plain text and HTML) and [`queue`]s it in the outbox, in the same
//! transaction as the rows it announces; after the commit the message goes to the email queue, and the
//! email worker hands it to a [`Mailer`]: Amazon SES v2 in AWS, or `.eml`-like files in a directory
//! locally. Logs name a message by id and kind, never by address or content.
//!
//! [`message`] is the message and its outbox entry, [`mailer`] the delivery, [`templates`] the texts.

pub mod mailer;
pub mod message;
pub mod templates;

pub use mailer::Mailer;
pub use message::{EmailKind, EmailMessage, MAX_BODY_BYTES, QueuedMail, queue};
