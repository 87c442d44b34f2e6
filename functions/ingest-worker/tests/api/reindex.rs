//! Re-index steps on the ingest queue: a new collection (what a change of embedding model gives) filled
//! from PostgreSQL, step by step, resumed after a step that died, through the worker's own entry point.

use serde_json::json;
use studio::knowledge::{Embedder, PreviousIndex, VectorStore};
use studio::services::reindex::{self, Budget, ReindexMessage};
use studio::state::KnowledgeState;
use studio_testing::{
    TempDir, assert_error, index_queued, ingest_indexed, knowledge_app, local_queue, search_hits,
};

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

/// The switch after a change of embedding model, as the README's procedure does it: the deployment
/// names the old model as the previous one, and the new collection starts empty.
struct Switch {
    app: studio_testing::TestApp,
    /// The state before the change: BM25 alone (no dense embedder), its collection.
    old: KnowledgeState,
    /// The state after it: the offline dense embedder, a new collection, the old one as the previous.
    new: KnowledgeState,
    rx: tokio::sync::mpsc::UnboundedReceiver<String>,
    /// The old deployment's app: it keeps the old collection's directory.
    _old_app: studio_testing::TestApp,
    _dir: TempDir,
}

async fn switch_setup() -> Switch {
    let (queue, rx) = local_queue();
    let (app, old) = knowledge_app(Embedder::none(), queue, agents_api::routes()).await;
    let dir = TempDir::new("reindex-switch");
    let new = KnowledgeState {
        embedder: Embedder::offline(),
        vectors: VectorStore::embedded(dir.path_str(), Some(Embedder::offline().dimensions()))
            .unwrap(),
        previous: Some(std::sync::Arc::new(PreviousIndex::new(
            Embedder::none(),
            old.vectors.clone(),
        ))),
        ..old.clone()
    };
    // The API as the new deployment runs it (same database, same tokens).
    let new_app = studio_testing::TestApp::with_router(
        studio::http::app(agents_api::routes(), new.clone()),
        app.state.clone(),
        app.db_url.clone(),
    );
    Switch {
        app: new_app,
        _old_app: app,
        old,
        new,
        rx,
        _dir: dir,
    }
}

/// Runs the cron's `reindex` job.
async fn cron_reindex(k: &KnowledgeState) -> studio::services::jobs::JobReport {
    studio::services::jobs::run(k, studio::services::jobs::Job::Reindex)
        .await
        .unwrap()
}

async fn serving_collection(k: &KnowledgeState) -> String {
    reindex::serving_index(k)
        .await
        .unwrap()
        .vectors
        .collection()
        .to_owned()
}

#[tokio::test]
async fn after_a_change_of_embedding_model_searches_stay_on_the_previous_collection_until_the_reindex_completes_then_switch()
 {
    let mut s = switch_setup().await;
    let ada = s.app.user("Ada").await;
    let bob = s.app.user("Bob").await;
    let ws_a = studio::WorkspaceId::from_trusted_source(ada.workspace_id);
    let ws_b = studio::WorkspaceId::from_trusted_source(bob.workspace_id);
    // Indexed before the change, into the old (BM25-only) collection.
    let docs: Vec<_> = (0..3)
        .map(|i| json!({"title": format!("Doc {i}"), "content": format!("Topic{i} is explained here.")}))
        .collect();
    let accepted = ingest_indexed(&s.app, &s.old, &mut s.rx, &ada.access_token, json!(docs)).await;
    let doc0: uuid::Uuid = accepted.body["documentIds"][0]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    ingest_indexed(
        &s.app,
        &s.old,
        &mut s.rx,
        &bob.access_token,
        json!([{"title": "Bob's", "content": "Topic1 for Bob."}]),
    )
    .await;
    let (old_name, new_name) = (
        s.old.vectors.collection().to_owned(),
        s.new.vectors.collection().to_owned(),
    );
    assert_ne!(old_name, new_name);
    assert_eq!(
        s.new.vectors.count(ws_a, None).await.unwrap(),
        0,
        "the new collection starts empty"
    );

    // Before the re-index: the client's searches are answered from the previous collection, in its
    // mode (BM25 alone: dense is refused as it was before the change).
    assert_eq!(serving_collection(&s.new).await, old_name);
    let hits = search_hits(&s.app, &ada, "Topic1").await;
    assert_eq!(hits[0]["title"], "Doc 1", "{hits:?}");
    let dense = s
        .app
        .post(
            "/api/v1/agents/search",
            Some(&ada.access_token),
            json!({"query": "Topic1", "mode": "dense"}),
        )
        .await;
    assert_error(
        &dense,
        http::StatusCode::BAD_REQUEST,
        "dense_search_unavailable",
    );

    // Meanwhile writes reach both collections: a document ingested is searchable at once (from the
    // previous one) and already in the new one; a document deleted leaves both.
    let late = ingest_indexed(
        &s.app,
        &s.new,
        &mut s.rx,
        &ada.access_token,
        json!([{"title": "Late", "content": "Zebra4411 arrived late."}]),
    )
    .await;
    let late: uuid::Uuid = late.body["documentIds"][0]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(s.old.vectors.count(ws_a, Some(late)).await.unwrap(), 1);
    assert_eq!(s.new.vectors.count(ws_a, Some(late)).await.unwrap(), 1);
    assert_eq!(
        search_hits(&s.app, &ada, "Zebra4411").await[0]["title"],
        "Late"
    );
    let deleted = s
        .app
        .delete(
            &format!("/api/v1/agents/documents/{doc0}"),
            Some(&ada.access_token),
        )
        .await;
    assert_eq!(
        deleted.status,
        http::StatusCode::NO_CONTENT,
        "{}",
        deleted.body
    );
    assert_eq!(s.old.vectors.count(ws_a, Some(doc0)).await.unwrap(), 0);

    // The cron job starts the re-index of every workspace (once), naming the collection it replaces.
    let report = cron_reindex(&s.new).await;
    assert_eq!(report.counts["started"], 1, "{report:?}");
    let again = cron_reindex(&s.new).await;
    assert_eq!(again.counts["started"], 0, "one job: {again:?}");
    let body = s.rx.try_recv().expect("the first step announced");
    let message: ReindexMessage = serde_json::from_str(&body).unwrap();
    let started = job(&s.new, message.reindex_job_id).await;
    assert_eq!(
        (
            started.reason.as_str(),
            started.replaces.as_deref(),
            started.collection.as_str(),
            started.total
        ),
        ("model", Some(old_name.as_str()), new_name.as_str(), 4),
        "Ada's three live documents and Bob's: {started:?}"
    );

    // Half-way (a step that wrote one document): searches still use the previous collection.
    let one = Budget {
        documents: 1,
        hand_on: false,
        ..Budget::default()
    };
    reindex::step(&s.new, &message, false, one).await.unwrap();
    assert_eq!(job(&s.new, started.id).await.status, "running");
    assert_eq!(serving_collection(&s.new).await, old_name);
    assert_eq!(
        search_hits(&s.app, &ada, "Topic2").await[0]["title"],
        "Doc 2"
    );

    // Complete: searches switch — dense search works now — and the previous collection is no longer
    // written.
    let db = s.new.app.db.get().await.unwrap();
    db.execute(
        "UPDATE kb_reindex_jobs SET step_until = NULL WHERE id = $1",
        &[&started.id],
    )
    .await
    .unwrap();
    ingest_worker::process_body(&s.new, &body, 2).await.unwrap();
    assert_eq!(job(&s.new, started.id).await.status, "completed");
    assert_eq!(serving_collection(&s.new).await, new_name);
    let dense = s
        .app
        .post(
            "/api/v1/agents/search",
            Some(&ada.access_token),
            json!({"query": "Topic2", "mode": "dense", "limit": 3}),
        )
        .await;
    assert_eq!(dense.status, http::StatusCode::OK, "{}", dense.body);
    assert_eq!(dense.body[0]["title"], "Doc 2", "{}", dense.body);
    assert_eq!(
        s.new.vectors.count(ws_a, Some(doc0)).await.unwrap(),
        0,
        "the deleted document was not re-indexed"
    );
    assert_eq!(
        s.new.vectors.count(ws_b, None).await.unwrap(),
        1,
        "Bob's document, in Bob's workspace"
    );
    let after = ingest_indexed(
        &s.app,
        &s.new,
        &mut s.rx,
        &ada.access_token,
        json!([{"title": "After", "content": "Written after the switch."}]),
    )
    .await;
    let after: uuid::Uuid = after.body["documentIds"][0]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(s.new.vectors.count(ws_a, Some(after)).await.unwrap(), 1);
    assert_eq!(
        s.old.vectors.count(ws_a, Some(after)).await.unwrap(),
        0,
        "the previous collection is retired"
    );

    // Another container (its own state, not the one that ran the last step) sees the switch in
    // PostgreSQL; a container whose previous collection is another one (an earlier change of model)
    // does not count this job as its switch.
    let other = KnowledgeState {
        previous: Some(std::sync::Arc::new(PreviousIndex::new(
            Embedder::none(),
            s.old.vectors.clone(),
        ))),
        ..s.new.clone()
    };
    assert_eq!(serving_collection(&other).await, new_name);
    let elsewhere_dir = TempDir::new("reindex-switch-other");
    let elsewhere = VectorStore::embedded(elsewhere_dir.path_str(), None).unwrap();
    let unrelated = KnowledgeState {
        previous: Some(std::sync::Arc::new(PreviousIndex::new(
            Embedder::none(),
            elsewhere.clone(),
        ))),
        ..s.new.clone()
    };
    assert_eq!(serving_collection(&unrelated).await, elsewhere.collection());
    let report = cron_reindex(&s.new).await;
    assert_eq!(
        report.counts["started"], 0,
        "switched: nothing more to start"
    );
}

#[tokio::test]
async fn when_a_reindex_job_stops_moving_the_cron_announces_its_step_again_and_leaves_held_or_failed_ones()
 {
    let mut s = switch_setup().await;
    let ada = s.app.user("Ada").await;
    ingest_indexed(
        &s.app,
        &s.new,
        &mut s.rx,
        &ada.access_token,
        json!([{"title": "One", "content": "Text."}]),
    )
    .await;
    let ws_a = studio::WorkspaceId::from_trusted_source(ada.workspace_id);
    let (open, _) = reindex::start(&s.new, Some(ws_a), reindex::Reason::Requested)
        .await
        .unwrap();
    assert_eq!(
        open.replaces, None,
        "a job of one workspace completes no collection"
    );
    s.rx.try_recv().expect("announced");
    let db = s.new.app.db.get().await.unwrap();

    // A failed switch job is not started again on its own: the operator fixes the cause first.
    let failed = uuid::Uuid::now_v7();
    db.execute(
        "INSERT INTO kb_reindex_jobs (id, reason, status, collection, replaces, error)
         VALUES ($1, 'model', 'failed', $2, $3, 'the embeddings API failed')",
        &[
            &failed,
            &s.new.vectors.collection(),
            &s.old.vectors.collection(),
        ],
    )
    .await
    .unwrap();
    // Fresh and moving: nothing to do.
    let report = cron_reindex(&s.new).await;
    assert_eq!(
        (report.counts["started"], report.counts["resumed"]),
        (0, 0),
        "{report:?}"
    );
    assert!(s.rx.try_recv().is_err());

    // Its step message lost twenty minutes ago: announced again, once.
    db.execute(
        "UPDATE kb_reindex_jobs SET updated_at = now() - interval '21 minutes' WHERE id = $1",
        &[&open.id],
    )
    .await
    .unwrap();
    let report = cron_reindex(&s.new).await;
    assert_eq!(report.counts["resumed"], 1, "{report:?}");
    let body = s.rx.try_recv().expect("the step announced again");
    assert_eq!(
        serde_json::from_str::<ReindexMessage>(&body)
            .unwrap()
            .reindex_job_id,
        open.id
    );
    let report = cron_reindex(&s.new).await;
    assert_eq!(report.counts["resumed"], 0, "touched: not again at once");

    // Held by a step that is still running: left alone however old.
    db.execute(
        "UPDATE kb_reindex_jobs SET updated_at = now() - interval '1 hour', step_until = now() + interval '2 minutes' WHERE id = $1",
        &[&open.id],
    )
    .await
    .unwrap();
    let report = cron_reindex(&s.new).await;
    assert_eq!(report.counts["resumed"], 0, "{report:?}");
    assert!(s.rx.try_recv().is_err());
    // The announced step finishes the job.
    db.execute(
        "UPDATE kb_reindex_jobs SET step_until = NULL WHERE id = $1",
        &[&open.id],
    )
    .await
    .unwrap();
    ingest_worker::process_body(&s.new, &body, 1).await.unwrap();
    assert_eq!(job(&s.new, open.id).await.status, "completed");
}
