//! The devserver's widget demo, set up at each start: a demo account owning a demo workspace, a fresh
//! password for it, a fresh publishable key for the demo page's origins (the previous one revoked), and,
//! while the workspace has no documents, a welcome document for the widget to answer from. Everything
//! goes through the same use cases as the API (keys audited, the document ingested by the worker).
//!
//! For local development only: nothing on Lambda calls it.

use crate::auth::api_keys::KeyKind;
use crate::auth::{Admin, MemberRole, Tenant};
use crate::error::ApiError;
use crate::ids::{Role, WorkspaceId};
use crate::knowledge::chunking::ContentType;
use crate::repo::{self, documents::NewDocument};
use crate::services::{api_keys, knowledge, workspaces};
use crate::state::KnowledgeState;
use secrecy::SecretString;
use uuid::Uuid;

/// The demo account's email.
pub const EMAIL: &str = "demo@example.com";
/// The demo account's name.
pub const NAME: &str = "Demo";
/// The demo workspace's name.
pub const WORKSPACE: &str = "Demo workspace";
/// The name of the publishable key each start makes (earlier ones with this name are revoked).
pub const KEY_NAME: &str = "devserver demo";
/// The welcome document's title.
pub const WELCOME_TITLE: &str = "Welcome to the demo";

const WELCOME: &str = "# Welcome to the demo

This chat is the Soft Systems Studio widget: the customer-service agent of the Demo workspace, added to \
this page with one script tag. It answers questions from the documents in the Demo workspace's \
knowledge base, and shows the source of each answer.

The documents you add to the Demo workspace are what it answers from. Log in as the workspace's owner \
(the devserver prints the email and a new password each time it starts), add a document with \
POST /api/v1/agents/ingest, and ask the widget about it.

It can also hand the conversation to a person: ask for one, and a member of the workspace replies from \
the inbox.
";

/// What the demo set-up made: print it for the developer.
#[derive(Debug, Clone)]
pub struct Demo {
    pub user_id: Uuid,
    pub workspace_id: Uuid,
    pub email: String,
    /// The demo account's password, new at each start.
    pub password: String,
    /// The publishable key for the demo page, new at each start.
    pub key: String,
    pub key_id: Uuid,
    /// The welcome document, when this start added it.
    pub welcome_document: Option<Uuid>,
}

fn random_password() -> Result<String, ApiError> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("OS random source: {e}")))?;
    Ok(hex::encode(bytes))
}

/// Sets up the demo (see the module's documentation); `origins` are the demo page's origins, which the
/// new key allows. Run it again and it finds the same account and workspace.
pub async fn bootstrap(state: &KnowledgeState, origins: &[String]) -> Result<Demo, ApiError> {
    let app = &state.app;
    let password = random_password()?;
    let hash = app
        .passwords
        .hash(SecretString::from(password.clone()))
        .await?;
    let (user_id, workspace_id) = {
        let mut client = app.db.get().await?;
        let tx = client.transaction().await?;
        let user_id = match repo::users::find_active_by_email(&*tx, EMAIL).await? {
            Some(user) => {
                repo::users::set_password(&*tx, user.id, &hash).await?;
                user.id
            }
            None => {
                let id = Uuid::now_v7();
                repo::users::insert(&*tx, id, EMAIL, &hash, NAME).await?;
                id
            }
        };
        let owned = repo::workspaces::list_for_user(&*tx, user_id, None, 1000)
            .await?
            .into_iter()
            .find(|m| m.workspace.name == WORKSPACE && m.role == Role::Owner.as_str());
        let workspace_id = match owned {
            Some(m) => m.workspace.id,
            None => {
                let row = workspaces::create_in(&*tx, user_id, WORKSPACE).await?;
                repo::users::set_last_workspace(&*tx, user_id, row.id).await?;
                row.id
            }
        };
        tx.commit().await?;
        (user_id, workspace_id)
    };
    let ws = WorkspaceId::from_trusted_source(workspace_id);

    // The account owns the workspace: checked just above, from our own rows.
    let admin: Tenant<Admin> = Tenant::checked(ws, user_id, Role::Owner);
    let earlier = {
        let client = app.db.get().await?;
        repo::api_keys::list(&**client, ws, None, 1000).await?
    };
    for key in earlier
        .iter()
        .filter(|k| k.name == KEY_NAME && k.revoked_at.is_none())
    {
        api_keys::revoke(app, &admin, key.id).await?;
    }
    let created = api_keys::create(
        app,
        &admin,
        api_keys::KeyRequest {
            name: KEY_NAME,
            kind: KeyKind::Publishable,
            allowed_origins: Some(origins),
            scopes: None,
        },
    )
    .await?;

    let has_documents = {
        let client = app.db.get().await?;
        !repo::documents::list(&**client, ws, None, None, 1)
            .await?
            .is_empty()
    };
    let welcome_document = if has_documents {
        None
    } else {
        let member: Tenant<MemberRole> = Tenant::checked(ws, user_id, Role::Owner);
        let doc = NewDocument {
            id: Uuid::now_v7(),
            title: WELCOME_TITLE.to_owned(),
            content: WELCOME.to_owned(),
            content_type: ContentType::Markdown.mime().to_owned(),
            source_url: None,
            metadata: serde_json::json!({"demo": true}),
            external_id: None,
            source_id: None,
        };
        let accepted = knowledge::accept(state, &member, vec![doc], false, None).await?;
        accepted.document_ids.first().copied()
    };
    tracing::info!(user_id = %user_id, workspace_id = %workspace_id, key_id = %created.view.id, "widget demo set up");
    Ok(Demo {
        user_id,
        workspace_id,
        email: EMAIL.to_owned(),
        password,
        key: created.key,
        key_id: created.view.id,
        welcome_document,
    })
}
