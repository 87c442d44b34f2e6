//! Mail the app wrote: the outbox, and the one-time tokens in links.

use crate::*;

/// The mail the app has written to its outbox and not yet sent (tests run without an email queue, so
/// every message waits there), oldest first.
pub async fn outbox_mail(db_url: &str) -> Vec<studio::email::EmailMessage> {
    admin_client(db_url)
        .await
        .query(
            "SELECT payload FROM outbox WHERE topic = 'email' AND sent_at IS NULL ORDER BY created_at, id",
            &[],
        )
        .await
        .expect("outbox")
        .iter()
        .map(|r| serde_json::from_value(r.get(0)).expect("an email message"))
        .collect()
}

/// The one-time token in a mailed link (`…/invitations/<token>` or `…?token=<token>`).
pub fn token_in(message: &studio::email::EmailMessage) -> String {
    let text = &message.text;
    let start = text
        .find("token=")
        .map(|i| i + "token=".len())
        .or_else(|| {
            text.find("/invitations/")
                .map(|i| i + "/invitations/".len())
        })
        .expect("a link with a token");
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}
