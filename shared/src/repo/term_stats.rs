//! Each workspace's BM25 statistics (see [`crate::knowledge::bm25`]): written per indexed document
//! version, counted per search over the live documents' searchable versions only.

use crate::ids::WorkspaceId;
use crate::knowledge::bm25::{CorpusStats, DocumentStats};
use tokio_postgres::types::Type;
use tokio_postgres::{Error, GenericClient};
use uuid::Uuid;

/// Records what one document version adds (replacing what an earlier attempt at it recorded).
pub async fn write(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    document: Uuid,
    version: i32,
    stats: &DocumentStats,
) -> Result<(), Error> {
    let chunks = i32::try_from(stats.chunks).unwrap_or(i32::MAX);
    let terms = i64::try_from(stats.terms).unwrap_or(i64::MAX);
    db.execute(
        "INSERT INTO kb_text_stats (document_id, version, workspace_id, chunks, terms) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (document_id, version) DO UPDATE SET chunks = EXCLUDED.chunks, terms = EXCLUDED.terms",
        &[&document, &version, workspace.as_uuid(), &chunks, &terms],
    )
    .await?;
    let (ids, counts): (Vec<i64>, Vec<i32>) = stats
        .chunk_frequency
        .iter()
        .map(|(t, n)| (i64::from(*t), i32::try_from(*n).unwrap_or(i32::MAX)))
        .unzip();
    db.execute(
        "DELETE FROM kb_term_stats WHERE document_id = $1 AND version = $2",
        &[&document, &version],
    )
    .await?;
    db.execute_typed(
        "INSERT INTO kb_term_stats (document_id, version, workspace_id, term, chunks)
         SELECT $1, $2, $3, t, n FROM unnest($4::bigint[], $5::int[]) AS u(t, n)",
        &[
            (&document, Type::UUID),
            (&version, Type::INT4),
            (workspace.as_uuid(), Type::UUID),
            (&ids, Type::INT8_ARRAY),
            (&counts, Type::INT4_ARRAY),
        ],
    )
    .await?;
    Ok(())
}

/// The workspace's searchable chunks and their total length in terms, leaving out one document (the
/// one being indexed, whose older version may still be searchable).
pub async fn totals(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    except: Option<Uuid>,
) -> Result<(u64, u64), Error> {
    let row = db
        .query_one(
            "SELECT coalesce(sum(s.chunks), 0)::bigint, coalesce(sum(s.terms), 0)::bigint
               FROM kb_text_stats s
               JOIN kb_documents d ON d.id = s.document_id AND d.version = s.version
              WHERE s.workspace_id = $1 AND d.workspace_id = $1 AND d.deleted_at IS NULL
                AND ($2::uuid IS NULL OR s.document_id <> $2)",
            &[workspace.as_uuid(), &except],
        )
        .await?;
    let (chunks, terms): (i64, i64) = (row.get(0), row.get(1));
    Ok((
        u64::try_from(chunks).unwrap_or(0),
        u64::try_from(terms).unwrap_or(0),
    ))
}

/// What a query needs: the workspace's searchable chunk count and, for each of `terms`, how many of
/// those chunks contain it — in one round trip.
pub async fn for_query(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    terms: &[u32],
) -> Result<CorpusStats, Error> {
    let ids: Vec<i64> = terms.iter().map(|t| i64::from(*t)).collect();
    let rows = db
        .query_typed(
            "WITH live AS (
                 SELECT id, version FROM kb_documents
                  WHERE workspace_id = $1 AND deleted_at IS NULL AND version > 0
             )
             SELECT NULL::bigint, coalesce(sum(s.chunks), 0)::bigint
               FROM kb_text_stats s JOIN live ON live.id = s.document_id AND live.version = s.version
              WHERE s.workspace_id = $1
             UNION ALL
             SELECT t.term, sum(t.chunks)::bigint
               FROM kb_term_stats t JOIN live ON live.id = t.document_id AND live.version = t.version
              WHERE t.workspace_id = $1 AND t.term = ANY($2)
              GROUP BY t.term",
            &[
                (workspace.as_uuid(), Type::UUID),
                (&ids, Type::INT8_ARRAY),
            ],
        )
        .await?;
    let mut stats = CorpusStats::default();
    for row in rows {
        let term: Option<i64> = row.get(0);
        let n = u64::try_from(row.get::<_, i64>(1)).unwrap_or(0);
        match term.and_then(|t| u32::try_from(t).ok()) {
            Some(t) => {
                stats.document_frequency.insert(t, n);
            }
            None => stats.chunks = n,
        }
    }
    Ok(stats)
}

/// Drops a document's statistics of versions before `current` (once `current` is searchable).
pub async fn delete_versions_before(
    db: &impl GenericClient,
    workspace: WorkspaceId,
    document: Uuid,
    current: i32,
) -> Result<u64, Error> {
    db.execute(
        "DELETE FROM kb_text_stats WHERE document_id = $1 AND workspace_id = $2 AND version < $3",
        &[&document, workspace.as_uuid(), &current],
    )
    .await
}

/// The language a workspace's text is analysed in.
pub async fn language(db: &impl GenericClient, workspace: WorkspaceId) -> Result<String, Error> {
    Ok(db
        .query_opt(
            "SELECT search_language FROM workspaces WHERE id = $1",
            &[workspace.as_uuid()],
        )
        .await?
        .map_or_else(|| "en".to_owned(), |r| r.get(0)))
}
