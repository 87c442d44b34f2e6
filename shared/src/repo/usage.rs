//! What each workspace uses (migration V24): the tokens of every model call, per day, kind and model;
//! and the usage API's reads, per day or per month.

use chrono::NaiveDate;
use tokio_postgres::{Error, GenericClient};
use uuid::Uuid;

/// What a model call was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// A chat completion: prompt and completion tokens.
    Chat,
    /// An embedding call: the text's tokens (as prompt tokens).
    Embedding,
}

impl CallKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            CallKind::Chat => "chat",
            CallKind::Embedding => "embedding",
        }
    }
}

/// Adds `calls` calls of `model` and their tokens to the workspace's usage of today (UTC).
pub async fn record(
    db: &impl GenericClient,
    workspace: Uuid,
    kind: CallKind,
    model: &str,
    calls: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
) -> Result<(), Error> {
    db.execute(
        "INSERT INTO usage_daily AS u (workspace_id, day, kind, model, calls, prompt_tokens, completion_tokens)
         VALUES ($1, (now() AT TIME ZONE 'UTC')::date, $2, $3, $4, $5, $6)
         ON CONFLICT (workspace_id, day, kind, model) DO UPDATE
            SET calls = u.calls + EXCLUDED.calls,
                prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens,
                completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens",
        &[
            &workspace,
            &kind.as_str(),
            &model,
            &calls,
            &prompt_tokens,
            &completion_tokens,
        ],
    )
    .await
    .map(drop)
}

/// One model's use in a period.
#[derive(Debug, Clone)]
pub struct ModelUse {
    pub kind: String,
    pub model: String,
    pub calls: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

/// One period of a workspace's usage.
#[derive(Debug, Clone)]
pub struct PeriodRow {
    /// The period's first day.
    pub start: NaiveDate,
    /// Messages written in the period (questions, answers and people's replies).
    pub messages: i64,
    /// The agent's answers in the period.
    pub turns: i64,
    /// Documents added in the period, and the bytes of their text.
    pub documents: i64,
    pub storage_bytes: i64,
    pub models: Vec<ModelUse>,
}

/// `day` or `month`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    Month,
}

impl Granularity {
    const fn unit(self) -> &'static str {
        match self {
            Granularity::Day => "day",
            Granularity::Month => "month",
        }
    }
}

/// The workspace's usage in each period from the one holding `from` to the one holding `to` (UTC days,
/// both included), every period listed, empty ones too.
pub async fn periods(
    db: &impl GenericClient,
    workspace: Uuid,
    from: NaiveDate,
    to: NaiveDate,
    granularity: Granularity,
) -> Result<Vec<PeriodRow>, Error> {
    let unit = granularity.unit();
    let rows = db
        .query(
            "WITH p AS (
                 SELECT generate_series(date_trunc($4, $2::date::timestamp), $3::date::timestamp,
                                        ('1 ' || $4)::interval)::date AS start),
             m AS (
                 SELECT date_trunc($4, created_at AT TIME ZONE 'UTC')::date AS start, count(*) AS messages,
                        count(*) FILTER (WHERE role = 'assistant') AS turns
                   FROM messages
                  WHERE workspace_id = $1 AND created_at >= $2::date::timestamp AT TIME ZONE 'UTC'
                    AND created_at < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'
                  GROUP BY 1),
             d AS (
                 SELECT date_trunc($4, created_at AT TIME ZONE 'UTC')::date AS start, count(*) AS documents,
                        sum(octet_length(content))::bigint AS bytes
                   FROM kb_documents
                  WHERE workspace_id = $1 AND created_at >= $2::date::timestamp AT TIME ZONE 'UTC'
                    AND created_at < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'
                  GROUP BY 1),
             u AS (
                 SELECT date_trunc($4, day)::date AS start,
                        jsonb_agg(jsonb_build_object('kind', kind, 'model', model, 'calls', calls,
                                  'prompt', prompt_tokens, 'completion', completion_tokens)
                                  ORDER BY kind, model) AS models
                   FROM (SELECT kind, model, date_trunc($4, day) AS day, sum(calls)::bigint AS calls,
                                sum(prompt_tokens)::bigint AS prompt_tokens,
                                sum(completion_tokens)::bigint AS completion_tokens
                           FROM usage_daily
                          WHERE workspace_id = $1 AND day BETWEEN $2::date AND $3::date
                          GROUP BY 1, 2, 3) s
                  GROUP BY 1)
             SELECT p.start, COALESCE(m.messages, 0), COALESCE(m.turns, 0), COALESCE(d.documents, 0),
                    COALESCE(d.bytes, 0), COALESCE(u.models, '[]'::jsonb)
               FROM p LEFT JOIN m USING (start) LEFT JOIN d USING (start) LEFT JOIN u USING (start)
              ORDER BY p.start",
            &[&workspace, &from, &to, &unit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let models: serde_json::Value = r.get(5);
            PeriodRow {
                start: r.get(0),
                messages: r.get(1),
                turns: r.get(2),
                documents: r.get(3),
                storage_bytes: r.get(4),
                models: models
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|m| ModelUse {
                                kind: m["kind"].as_str().unwrap_or_default().to_owned(),
                                model: m["model"].as_str().unwrap_or_default().to_owned(),
                                calls: m["calls"].as_i64().unwrap_or_default(),
                                prompt_tokens: m["prompt"].as_i64().unwrap_or_default(),
                                completion_tokens: m["completion"].as_i64().unwrap_or_default(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect())
}

/// The price table as the CTE `price (model, input, output)`, from the statement's parameters $1–$3
/// (models, input and output prices per million tokens: `UsageConfig::columns`).
pub(crate) const PRICE_CTE: &str = "price AS (SELECT * FROM unnest($1::text[], $2::float8[], $3::float8[]) AS p(model, input, output))";

/// What the usage rows `u` joined to `price p` cost (an unpriced model costs 0), to `sum`.
pub(crate) const ROW_COST: &str =
    "(u.prompt_tokens * COALESCE(p.input, 0) + u.completion_tokens * COALESCE(p.output, 0)) / 1e6";

/// The workspace's plan, and what its model calls cost this calendar month (UTC) with the price table
/// `prices` (models, input and output prices per million tokens; unpriced models cost 0).
pub async fn plan_and_month_cost(
    db: &impl GenericClient,
    workspace: Uuid,
    prices: &(Vec<String>, Vec<f64>, Vec<f64>),
) -> Result<(String, f64), Error> {
    let sql = format!(
        "WITH {PRICE_CTE}
         SELECT w.plan,
                COALESCE((SELECT sum({ROW_COST})
                            FROM usage_daily u LEFT JOIN price p ON p.model = u.model
                           WHERE u.workspace_id = w.id
                             AND u.day >= date_trunc('month', now() AT TIME ZONE 'UTC')::date), 0)::float8
           FROM workspaces w WHERE w.id = $4"
    );
    let row = db
        .query_one(&sql, &[&prices.0, &prices.1, &prices.2, &workspace])
        .await?;
    Ok((row.get(0), row.get(1)))
}
