//! Re-index steps on the ingest queue: a new collection (what a change of embedding model gives) filled
//! from PostgreSQL, step by step, resumed after a step that died, through the worker's own entry point.

use serde_json::json;
use studio::knowledge::{Embedder, VectorStore};
use studio::services::reindex::{self, Budget, ReindexMessage};
use studio::state::KnowledgeState;
use studio_testing::{TempDir, index_queued, knowledge_app, local_queue};

async fn job(k: &KnowledgeState, id: uuid::Uuid) -> reindex::ReindexJobView {
    reindex::get(k, id).await.unwrap()
}

#[tokio::test]
async fn when_a_reindex_step_dies_the_next_delivery_resumes_at_its_cursor_and_fills_the_new_collection()
 {
    let (queue, mut rx) = local_queue();
    let (app, k) = knowledge_app(Embedder::offline(), queue, agents_api::routes()).await;
    let ada = app.user("Ada").await;
    let bob = app.user("Bob").await;
    for (user, name, n) in [(&ada, "Ada", 4), (&bob, "Bob", 2)] {
        let docs: Vec<_> = (0..n)
            .map(|i| json!({"title": format!("Doc {i}"), "content": format!("Topic{i} is explained here for {name}.")}))
            .collect();
        let res = app
            .post(
                "/api/v1/agents/ingest",
                Some(&user.access_token),
                json!({"documents": docs}),
            )
            .await;
        assert_eq!(res.status, http::StatusCode::ACCEPTED, "{}", res.body);
    }
    assert_eq!(index_queued(&k, &mut rx).await, 2);

    // A new collection beside the old one (as after a change of embedding model): empty until re-indexed.
    let dir = TempDir::new("reindex-new-collection");
    let fresh = KnowledgeState {
        vectors: VectorStore::embedded(dir.path_str(), Some(Embedder::offline().dimensions()))
            .unwrap(),
        ..k.clone()
    };
    let ws_a = studio::WorkspaceId::from_trusted_source(ada.workspace_id);
    let ws_b = studio::WorkspaceId::from_trusted_source(bob.workspace_id);
    assert_eq!(fresh.vectors.count(ws_a, None).await.unwrap(), 0);

    let (started, created) = reindex::start(&fresh, None, reindex::Reason::Requested)
        .await
        .unwrap();
    assert!(created);
    assert_eq!(
        (started.status.as_str(), started.total, started.done),
        ("queued", 6, 0)
    );
    // A second request while it is open answers the same job.
    let (again, created) = reindex::start(&fresh, None, reindex::Reason::Requested)
        .await
        .unwrap();
    assert_eq!((again.id, created), (started.id, false));
    let body = rx
        .try_recv()
        .expect("the first step is announced on the ingest queue");
    assert!(rx.try_recv().is_err(), "one announcement");
    let message: ReindexMessage = serde_json::from_str(&body).unwrap();
    assert_eq!(message.reindex_job_id, started.id);

    // The first step writes three documents, then dies (nothing handed on).
    let dies = Budget {
        documents: 3,
        hand_on: false,
        ..Budget::default()
    };
    reindex::step(&fresh, &message, false, dies).await.unwrap();
    let after_first = job(&fresh, started.id).await;
    assert_eq!(
        (
            after_first.status.as_str(),
            after_first.done,
            after_first.steps
        ),
        ("running", 3, 1)
    );
    assert!(rx.try_recv().is_err(), "the step died before handing on");

    // The queue redelivers at once: the job is still held by the dead step, so nothing happens.
    ingest_worker::process_body(&fresh, &body, 2).await.unwrap();
    assert_eq!(
        job(&fresh, started.id).await.done,
        3,
        "held: not run twice at once"
    );

    // Once the hold lapses, the redelivery resumes at the cursor and finishes.
    let db = fresh.app.db.get().await.unwrap();
    db.execute(
        "UPDATE kb_reindex_jobs SET step_until = now() - interval '1 second' WHERE id = $1",
        &[&started.id],
    )
    .await
    .unwrap();
    ingest_worker::process_body(&fresh, &body, 3).await.unwrap();
    let done = job(&fresh, started.id).await;
    assert_eq!(
        (done.status.as_str(), done.done, done.failed, done.steps),
        ("completed", 6, 0, 2),
        "each document written once: {done:?}"
    );
    assert!(done.finished_at.is_some());
    assert_eq!(fresh.vectors.count(ws_a, None).await.unwrap(), 4);
    assert_eq!(fresh.vectors.count(ws_b, None).await.unwrap(), 2);
    // The re-indexed collection answers searches, each tenant its own.
    let hits = studio::services::knowledge::retrieve(
        &fresh,
        ws_a,
        studio::services::knowledge::Retrieval {
            query: "Topic2",
            limit: 5,
            score_threshold: None,
            mode: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        hits.first().map(|h| h.title.as_str()),
        Some("Doc 2"),
        "{hits:?}"
    );
    assert!(hits.iter().all(|h| h.text.contains("Ada")), "{hits:?}");

    // A finished job's message, delivered late, does nothing.
    ingest_worker::process_body(&fresh, &body, 1).await.unwrap();
    assert_eq!(job(&fresh, started.id).await.steps, 2);
}

#[tokio::test]
async fn when_a_step_spends_its_budget_it_hands_on_through_the_queue_and_one_workspace_is_reindexed_alone()
 {
    let (queue, mut rx) = local_queue();
    let (app, k) = knowledge_app(Embedder::offline(), queue, agents_api::routes()).await;
    let ada = app.user("Ada").await;
    let bob = app.user("Bob").await;
    for (user, name) in [(&ada, "Ada"), (&bob, "Bob")] {
        let docs: Vec<_> = (0..3)
            .map(|i| json!({"title": format!("{name} {i}"), "content": format!("Text {i} of {name}")}))
            .collect();
        app.post(
            "/api/v1/agents/ingest",
            Some(&user.access_token),
            json!({"documents": docs}),
        )
        .await;
    }
    index_queued(&k, &mut rx).await;
    let ws_a = studio::WorkspaceId::from_trusted_source(ada.workspace_id);
    let (started, _) = reindex::start(&k, Some(ws_a), reindex::Reason::Requested)
        .await
        .unwrap();
    assert_eq!(started.total, 3, "Ada's documents only");
    let body = rx.try_recv().unwrap();
    let message: ReindexMessage = serde_json::from_str(&body).unwrap();
    let one_at_a_time = Budget {
        documents: 1,
        ..Budget::default()
    };
    for step in 1..=2 {
        reindex::step(&k, &message, false, one_at_a_time)
            .await
            .unwrap();
        let next = rx
            .try_recv()
            .unwrap_or_else(|_| panic!("step {step} handed on"));
        assert_eq!(next, body, "the same job's next step");
        let progress = job(&k, started.id).await;
        assert_eq!((progress.status.as_str(), progress.done), ("running", step));
    }
    // The third step writes the last document and finds no more: the job is complete.
    reindex::step(&k, &message, false, one_at_a_time)
        .await
        .unwrap();
    let done = job(&k, started.id).await;
    assert_eq!(
        (done.status.as_str(), done.done, done.total, done.steps),
        ("completed", 3, 3, 3)
    );
    assert!(rx.try_recv().is_err(), "a finished job hands nothing on");
    reindex::step(&k, &message, false, one_at_a_time)
        .await
        .unwrap();
    assert_eq!(
        job(&k, started.id).await.steps,
        3,
        "a late message does nothing"
    );
}

#[tokio::test]
async fn when_a_message_is_neither_ingest_nor_reindex_it_is_refused_for_the_dead_letter_queue() {
    let (queue, _rx) = local_queue();
    let (_app, k) = knowledge_app(Embedder::offline(), queue, agents_api::routes()).await;
    let err = ingest_worker::process_body(&k, r#"{"reindexJobId": "nope"}"#, 1)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("neither an ingest nor a re-index message"),
        "{err}"
    );
    // A job id that does not exist is nothing to do (an old message after a purge).
    ingest_worker::process_body(
        &k,
        &json!({"reindexJobId": uuid::Uuid::now_v7()}).to_string(),
        1,
    )
    .await
    .unwrap();
}
