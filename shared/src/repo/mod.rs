//! Every SQL statement, one module per aggregate, always parameterised. Functions take any
//! [`GenericClient`](deadpool_postgres::GenericClient) so callers decide the transaction.

pub mod admin;
pub mod audit;
pub mod billing;
pub mod conversations;
pub mod documents;
pub mod email_deliveries;
pub mod idempotency;
pub mod intakes;
pub mod invitations;
pub mod maintenance;
pub mod members;
pub mod outbox;
pub mod password_resets;
pub mod refresh_tokens;
pub mod users;
pub mod workspaces;
