//! The cron function: each EventBridge schedule invokes it with `{"job": "<name>"}` (the schedule's
//! `Input`), and it runs that one job (see [`studio::services::jobs`]). A failed job fails the
//! invocation, so Lambda's asynchronous retries and the function's error metric see it.

use serde::Deserialize;
use studio::services::jobs::{self, Job, JobReport};
use studio::state::KnowledgeState;

/// The schedule's input.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronEvent {
    pub job: String,
}

pub async fn handle(state: &KnowledgeState, event: CronEvent) -> anyhow::Result<JobReport> {
    let job = Job::parse(&event.job).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown job {:?}: the schedule's Input must be {{\"job\": \"<name>\"}} with one of: {}",
            event.job,
            Job::names()
        )
    })?;
    jobs::run(state, job).await
}
