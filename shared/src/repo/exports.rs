//! Data exports (migration V22): asked for, built by the cron's `build-exports` job, expired; and the
//! reads that gather what an export holds.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_postgres::{Error, GenericClient, Row};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct ExportRow {
    pub id: Uuid,
    /// `user` or `workspace`.
    pub kind: String,
    pub user_id: Option<Uuid>,
    pub workspace_id: Option<Uuid>,
    /// `pending`, `ready` or `failed`.
    pub status: String,
    pub file_key: Option<String>,
    pub bytes: Option<i64>,
    pub error: Option<String>,
    /// Runs of the build job that took it.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, kind, user_id, workspace_id, status, file_key, bytes, error, attempts, created_at, finished_at, expires_at";

fn from_row(r: &Row) -> ExportRow {
    ExportRow {
        id: r.get("id"),
        kind: r.get("kind"),
        user_id: r.get("user_id"),
        workspace_id: r.get("workspace_id"),
        status: r.get("status"),
        file_key: r.get("file_key"),
        bytes: r.get("bytes"),
        error: r.get("error"),
        attempts: r.get("attempts"),
        created_at: r.get("created_at"),
        finished_at: r.get("finished_at"),
        expires_at: r.get("expires_at"),
    }
}

/// Who an export is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A person's data.
    User(Uuid),
    /// A whole workspace, asked for by its owner `by`.
    Workspace { workspace: Uuid, by: Uuid },
}

impl Subject {
    fn filter(self) -> (&'static str, Uuid) {
        match self {
            Subject::User(user) => ("kind = 'user' AND user_id = $1", user),
            Subject::Workspace { workspace, .. } => {
                ("kind = 'workspace' AND workspace_id = $1", workspace)
            }
        }
    }
}

/// The subject's latest export, if any.
pub async fn latest(db: &impl GenericClient, subject: Subject) -> Result<Option<ExportRow>, Error> {
    let (filter, id) = subject.filter();
    let sql = format!(
        "SELECT {COLUMNS} FROM data_exports WHERE {filter} ORDER BY created_at DESC, id DESC LIMIT 1"
    );
    Ok(db.query_opt(&sql, &[&id]).await?.as_ref().map(from_row))
}

/// Records a new pending export of `subject`.
pub async fn insert(
    db: &impl GenericClient,
    id: Uuid,
    subject: Subject,
) -> Result<ExportRow, Error> {
    let (kind, user, workspace) = match subject {
        Subject::User(user) => ("user", user, None),
        Subject::Workspace { workspace, by } => ("workspace", by, Some(workspace)),
    };
    let sql = format!(
        "INSERT INTO data_exports (id, kind, user_id, workspace_id) VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"
    );
    Ok(from_row(
        &db.query_one(&sql, &[&id, &kind, &user, &workspace]).await?,
    ))
}

/// Takes the oldest pending export no other run holds (the row stays locked for the transaction).
pub async fn claim_pending(db: &impl GenericClient) -> Result<Option<ExportRow>, Error> {
    let sql = format!(
        "UPDATE data_exports SET attempts = attempts + 1
          WHERE id = (SELECT id FROM data_exports WHERE status = 'pending' AND not_before <= now()
                       ORDER BY not_before, id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING {COLUMNS}"
    );
    Ok(db.query_opt(&sql, &[]).await?.as_ref().map(from_row))
}

pub async fn mark_ready(
    db: &impl GenericClient,
    id: Uuid,
    key: &str,
    bytes: i64,
    expires_at: DateTime<Utc>,
) -> Result<(), Error> {
    db.execute(
        "UPDATE data_exports SET status = 'ready', file_key = $2, bytes = $3, expires_at = $4,
                finished_at = now(), error = NULL
          WHERE id = $1",
        &[&id, &key, &bytes, &expires_at],
    )
    .await
    .map(drop)
}

/// Fails the export with `error`, or (`final_attempt` false) leaves it pending, retried after a back-off
/// of a minute per attempt.
pub async fn record_failure(
    db: &impl GenericClient,
    id: Uuid,
    error: &str,
    final_attempt: bool,
) -> Result<(), Error> {
    db.execute(
        "UPDATE data_exports
            SET error = $2,
                status = CASE WHEN $3 THEN 'failed' ELSE status END,
                finished_at = CASE WHEN $3 THEN now() ELSE finished_at END,
                expires_at = CASE WHEN $3 THEN now() + interval '7 days' ELSE expires_at END,
                not_before = now() + make_interval(mins => attempts)
          WHERE id = $1",
        &[&id, &error, &final_attempt],
    )
    .await
    .map(drop)
}

/// Exports past their expiry (their files are deleted first, then [`delete`]).
pub async fn expired(db: &impl GenericClient, limit: i64) -> Result<Vec<ExportRow>, Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM data_exports WHERE expires_at < now() ORDER BY expires_at LIMIT $1"
    );
    Ok(db
        .query(&sql, &[&limit])
        .await?
        .iter()
        .map(from_row)
        .collect())
}

pub async fn delete(db: &impl GenericClient, ids: &[Uuid]) -> Result<u64, Error> {
    db.execute("DELETE FROM data_exports WHERE id = ANY($1)", &[&ids])
        .await
}

/// The files of the exports `user` asked for (their own, and workspaces' they exported).
pub async fn files_of_user(db: &impl GenericClient, user: Uuid) -> Result<Vec<String>, Error> {
    Ok(db
        .query(
            "SELECT file_key FROM data_exports WHERE user_id = $1 AND file_key IS NOT NULL",
            &[&user],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// The files of a workspace's exports (the workspace's purge deletes them).
pub async fn files_of_workspaces(
    db: &impl GenericClient,
    workspaces: &[Uuid],
) -> Result<Vec<String>, Error> {
    Ok(db
        .query(
            "SELECT file_key FROM data_exports WHERE workspace_id = ANY($1) AND file_key IS NOT NULL",
            &[&workspaces],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// One JSON array of what `sql` selects (one `jsonb` column per row), in its order.
async fn array(db: &impl GenericClient, sql: &str, id: &Uuid) -> Result<Value, Error> {
    let rows = db.query(sql, &[id]).await?;
    Ok(Value::Array(
        rows.iter().map(|r| r.get::<_, Value>(0)).collect(),
    ))
}

/// Everything stored about a person: their account, memberships, sign-in identities, the conversations
/// they had with the agent (with every message), the replies they wrote to visitors, their ratings,
/// and the audit entries about them. Secrets (the password hash, token hashes) are never included.
pub async fn user_data(db: &impl GenericClient, user: Uuid) -> Result<Value, Error> {
    let account = db
        .query_opt(
            "SELECT jsonb_build_object('id', id, 'email', email, 'name', name,
                    'hasPassword', password_hash IS NOT NULL, 'isPlatformAdmin', is_platform_admin,
                    'defaultWorkspaceId', last_workspace_id, 'createdAt', created_at, 'updatedAt', updated_at)
               FROM users WHERE id = $1",
            &[&user],
        )
        .await?
        .map(|r| r.get::<_, Value>(0))
        .unwrap_or(Value::Null);
    let memberships = array(
        db,
        "SELECT jsonb_build_object('workspaceId', w.id, 'workspaceName', w.name, 'role', m.role,
                'joinedAt', m.created_at, 'workspaceDeletedAt', w.deleted_at)
           FROM workspace_members m JOIN workspaces w ON w.id = m.workspace_id
          WHERE m.user_id = $1 ORDER BY m.created_at",
        &user,
    )
    .await?;
    let identities = array(
        db,
        "SELECT jsonb_build_object('issuer', issuer, 'subject', subject, 'email', email, 'linkedAt', created_at)
           FROM user_identities WHERE user_id = $1 ORDER BY created_at",
        &user,
    )
    .await?;
    let conversations = array(
        db,
        "SELECT jsonb_build_object('id', c.id, 'workspaceId', c.workspace_id, 'title', c.title,
                'createdAt', c.created_at, 'deletedAt', c.deleted_at,
                'messages', COALESCE((SELECT jsonb_agg(jsonb_build_object('id', m.id, 'role', m.role,
                        'content', m.content, 'createdAt', m.created_at) ORDER BY m.created_at, m.id)
                    FROM messages m WHERE m.conversation_id = c.id), '[]'::jsonb))
           FROM conversations c WHERE c.user_id = $1 ORDER BY c.created_at",
        &user,
    )
    .await?;
    let replies = array(
        db,
        "SELECT jsonb_build_object('id', id, 'workspaceId', workspace_id, 'conversationId', conversation_id,
                'content', content, 'createdAt', created_at)
           FROM messages WHERE author_user_id = $1 ORDER BY created_at, id",
        &user,
    )
    .await?;
    let feedback = array(
        db,
        "SELECT to_jsonb(f) - 'user_id' FROM message_feedback f WHERE f.user_id = $1",
        &user,
    )
    .await?;
    let audit = array(
        db,
        "SELECT jsonb_build_object('at', at, 'action', action, 'workspaceId', workspace_id,
                'byThisAccount', actor_user_id IS NOT DISTINCT FROM $1,
                'targetType', target_type, 'targetId', target_id, 'details', details)
           FROM audit_log
          WHERE actor_user_id = $1 OR (target_type = 'user' AND target_id = $1::text)
          ORDER BY at, id",
        &user,
    )
    .await?;
    Ok(serde_json::json!({
        "account": account,
        "memberships": memberships,
        "identities": identities,
        "conversations": conversations,
        "repliesToVisitors": replies,
        "feedback": feedback,
        "auditEntries": audit,
    }))
}

/// Everything a workspace holds that its owner may take elsewhere: its settings, members, agent
/// configuration, widget settings, documents (with their text), website sources, conversations with
/// their messages and ratings, visitors, invitations, API keys (never their secrets), the audit log and
/// the usage history. Derived data (vectors, statistics, caches) and secrets are left out.
pub async fn workspace_data(db: &impl GenericClient, workspace: Uuid) -> Result<Value, Error> {
    let one = |sql: &'static str| async move {
        Ok::<_, Error>(
            db.query_opt(sql, &[&workspace])
                .await?
                .map(|r| r.get::<_, Value>(0))
                .unwrap_or(Value::Null),
        )
    };
    let settings = one(
        "SELECT to_jsonb(w) - 'stripe_customer_id' - 'stripe_subscription_id' FROM workspaces w WHERE id = $1",
    )
    .await?;
    let intake =
        one("SELECT to_jsonb(i) - 'workspace_id' FROM workspace_intakes i WHERE workspace_id = $1")
            .await?;
    let widget =
        one("SELECT to_jsonb(s) - 'workspace_id' FROM widget_settings s WHERE workspace_id = $1")
            .await?;
    let members = array(
        db,
        "SELECT jsonb_build_object('userId', u.id, 'name', u.name, 'email', u.email, 'role', m.role,
                'joinedAt', m.created_at)
           FROM workspace_members m JOIN users u ON u.id = m.user_id
          WHERE m.workspace_id = $1 ORDER BY m.created_at",
        &workspace,
    )
    .await?;
    let documents = array(
        db,
        "SELECT to_jsonb(d) - 'workspace_id' - 'content_hash' FROM kb_documents d
          WHERE d.workspace_id = $1 AND d.deleted_at IS NULL ORDER BY d.created_at, d.id",
        &workspace,
    )
    .await?;
    let sources = array(
        db,
        "SELECT to_jsonb(s) - 'workspace_id' FROM kb_sources s WHERE s.workspace_id = $1 ORDER BY s.created_at, s.id",
        &workspace,
    )
    .await?;
    let conversations = array(
        db,
        "SELECT to_jsonb(c) - 'workspace_id' || jsonb_build_object(
                'messages', COALESCE((SELECT jsonb_agg(to_jsonb(m) - 'workspace_id' - 'conversation_id'
                        ORDER BY m.created_at, m.id)
                    FROM messages m WHERE m.conversation_id = c.id), '[]'::jsonb),
                'feedback', COALESCE((SELECT jsonb_agg(to_jsonb(f) - 'workspace_id')
                    FROM message_feedback f JOIN messages m ON m.id = f.message_id
                   WHERE m.conversation_id = c.id), '[]'::jsonb))
           FROM conversations c WHERE c.workspace_id = $1 AND c.deleted_at IS NULL
          ORDER BY c.created_at, c.id",
        &workspace,
    )
    .await?;
    let visitors = array(
        db,
        "SELECT to_jsonb(v) - 'workspace_id' - 'token_hash' FROM visitors v WHERE v.workspace_id = $1 ORDER BY v.created_at, v.id",
        &workspace,
    )
    .await?;
    let invitations = array(
        db,
        "SELECT to_jsonb(i) - 'workspace_id' - 'token_hash' FROM invitations i
          WHERE i.workspace_id = $1 ORDER BY i.created_at, i.id",
        &workspace,
    )
    .await?;
    let api_keys = array(
        db,
        "SELECT to_jsonb(k) - 'workspace_id' - 'key_hash' FROM api_keys k
          WHERE k.workspace_id = $1 ORDER BY k.created_at, k.id",
        &workspace,
    )
    .await?;
    let audit = array(
        db,
        "SELECT to_jsonb(a) - 'workspace_id' FROM audit_log a WHERE a.workspace_id = $1 ORDER BY a.at, a.id",
        &workspace,
    )
    .await?;
    let usage = array(
        db,
        "SELECT to_jsonb(p) - 'workspace_id' FROM usage_periods p WHERE p.workspace_id = $1 ORDER BY p.month",
        &workspace,
    )
    .await?;
    Ok(serde_json::json!({
        "workspace": settings,
        "members": members,
        "intake": intake,
        "widgetSettings": widget,
        "documents": documents,
        "sources": sources,
        "conversations": conversations,
        "visitors": visitors,
        "invitations": invitations,
        "apiKeys": api_keys,
        "auditLog": audit,
        "usage": usage,
    }))
}
