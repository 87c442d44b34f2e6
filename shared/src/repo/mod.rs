//! Every SQL statement, one module per aggregate, always parameterised. Functions take any
//! [`GenericClient`](deadpool_postgres::GenericClient) so callers decide the transaction.

pub mod conversations;
pub mod documents;
pub mod idempotency;
pub mod intakes;
pub mod members;
pub mod outbox;
pub mod refresh_tokens;
pub mod users;
pub mod workspaces;
