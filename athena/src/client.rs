//! The Athena client (`aws-sdk-athena`): registering the tables and saved queries, and
//! running SQL in a workgroup.

use std::time::Duration;

use aws_sdk_athena::Client;
use aws_sdk_athena::error::DisplayErrorContext;
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState, ResultConfiguration};
use serde::Serialize;

use crate::saved::saved_queries;

/// Errors of the Athena client.
#[derive(Debug, thiserror::Error)]
pub enum AthenaError {
    /// An API call failed.
    #[error("Athena {operation} failed: {message}")]
    Api {
        /// The operation.
        operation: &'static str,
        /// What the service said.
        message: String,
    },
    /// The query ran and failed.
    #[error("Athena query {id} {state}: {reason}")]
    Query {
        /// Query execution id.
        id: String,
        /// FAILED or CANCELLED.
        state: String,
        /// Athena's reason.
        reason: String,
    },
}

fn api<E: std::error::Error + 'static>(operation: &'static str) -> impl Fn(E) -> AthenaError {
    move |e| AthenaError::Api {
        operation,
        message: DisplayErrorContext(&e).to_string(),
    }
}

/// Where queries run.
#[derive(Debug, Clone)]
pub struct Workgroup {
    /// Workgroup name (`primary`, or the one `infra/` creates).
    pub name: String,
    /// Glue database the statements run in.
    pub database: String,
    /// Results location, when the workgroup does not set one.
    pub output: Option<String>,
}

/// A finished query's rows and cost.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QueryResult {
    /// Query execution id.
    pub id: String,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, as Athena returns them (text).
    pub rows: Vec<Vec<Option<String>>>,
    /// Bytes Athena scanned (what it bills).
    pub data_scanned_bytes: i64,
}

/// A client from the standard AWS configuration (`AWS_ENDPOINT_URL_ATHENA` included).
pub async fn client_from_env() -> Client {
    Client::new(&exporter::aws::sdk_config().await)
}

/// Runs `sql` and waits for it: polls with backoff (200 ms doubling to 5 s), then pages
/// through every result row.
pub async fn run(client: &Client, wg: &Workgroup, sql: &str) -> Result<QueryResult, AthenaError> {
    let mut start = client
        .start_query_execution()
        .query_string(sql)
        .work_group(&wg.name)
        .query_execution_context(
            QueryExecutionContext::builder()
                .database(&wg.database)
                .build(),
        );
    if let Some(out) = &wg.output {
        start =
            start.result_configuration(ResultConfiguration::builder().output_location(out).build());
    }
    let id = start
        .send()
        .await
        .map_err(api("StartQueryExecution"))?
        .query_execution_id()
        .unwrap_or_default()
        .to_owned();
    let mut delay = Duration::from_millis(200);
    let execution = loop {
        let out = client
            .get_query_execution()
            .query_execution_id(&id)
            .send()
            .await
            .map_err(api("GetQueryExecution"))?;
        let execution = out
            .query_execution()
            .cloned()
            .unwrap_or_else(|| aws_sdk_athena::types::QueryExecution::builder().build());
        let status = execution.status();
        match status.and_then(|s| s.state()) {
            Some(QueryExecutionState::Succeeded) => break execution,
            Some(state @ (QueryExecutionState::Failed | QueryExecutionState::Cancelled)) => {
                return Err(AthenaError::Query {
                    id,
                    state: state.as_str().to_owned(),
                    reason: status
                        .and_then(|s| s.state_change_reason())
                        .unwrap_or("no reason given")
                        .to_owned(),
                });
            }
            _ => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    };
    let mut result = QueryResult {
        id: id.clone(),
        columns: Vec::new(),
        rows: Vec::new(),
        data_scanned_bytes: execution
            .statistics()
            .and_then(|s| s.data_scanned_in_bytes())
            .unwrap_or(0),
    };
    let mut token: Option<String> = None;
    let mut first_page = true;
    loop {
        let page = client
            .get_query_results()
            .query_execution_id(&id)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(api("GetQueryResults"))?;
        if let Some(rs) = page.result_set() {
            if result.columns.is_empty() {
                result.columns = rs
                    .result_set_metadata()
                    .map(|m| {
                        m.column_info()
                            .iter()
                            .map(|c| c.name().to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
            }
            let mut rows = rs.rows().iter();
            // Athena repeats the header as the first row of the first page.
            if first_page && !result.columns.is_empty() {
                rows.next();
            }
            for row in rows {
                result.rows.push(
                    row.data()
                        .iter()
                        .map(|d| d.var_char_value().map(str::to_owned))
                        .collect(),
                );
            }
        }
        first_page = false;
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(result);
        }
    }
}

/// What `register` did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Registered {
    /// DDL statements run.
    pub statements: usize,
    /// Named queries created.
    pub named_queries: Vec<String>,
}

/// Runs the DDL statements one by one, then creates every saved query as a named query.
pub async fn register(
    client: &Client,
    wg: &Workgroup,
    ddl: &str,
) -> Result<Registered, AthenaError> {
    let statements: Vec<&str> = ddl
        .split(";\n")
        .map(str::trim)
        .filter(|s| {
            s.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
        })
        .collect();
    for statement in &statements {
        run(client, wg, statement).await?;
    }
    let mut named = Vec::new();
    for q in saved_queries() {
        client
            .create_named_query()
            .name(format!("xray-archive: {}", q.name))
            .description(q.title.chars().take(1024).collect::<String>())
            .database(&wg.database)
            .query_string(q.text)
            .work_group(&wg.name)
            .send()
            .await
            .map_err(api("CreateNamedQuery"))?;
        named.push(q.name.to_owned());
    }
    Ok(Registered {
        statements: statements.len(),
        named_queries: named,
    })
}
