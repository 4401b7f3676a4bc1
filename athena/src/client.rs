//! The Athena client (`aws-sdk-athena`): registering the tables and saved queries, and
//! running SQL in a workgroup.
//!
//! Every call goes through one [`Pacer`] ([`PaceConfig::ATHENA`]), the retry decision point
//! of the exporter's X-Ray and S3 calls: throttles lower the rate, throttles and 5xx are
//! retried with jittered backoff, and all of them are counted ([`Athena::stats`]). The SDK's
//! own retries are off (see `exporter::aws::sdk_config`).

use std::time::Duration;

use aws_sdk_athena::Client;
use aws_sdk_athena::types::{
    QueryExecution, QueryExecutionContext, QueryExecutionState, ResultConfiguration,
};
use exporter::retry::{PaceConfig, PaceStats, Pacer};
use rand::Rng;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::saved::saved_queries;

/// Rows per GetQueryResults page: Athena's maximum.
pub const PAGE_ROWS: i32 = 1000;

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
    /// GetQueryResults pages read.
    pub pages: u64,
}

/// What `register` did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Registered {
    /// DDL statements run.
    pub statements: usize,
    /// Named queries created.
    pub named_queries: Vec<String>,
}

/// A token that makes a retried create call idempotent: Athena answers a repeated
/// `ClientRequestToken` with the first call's result instead of starting a second query
/// (or creating a second named query) when only the answer was lost.
fn request_token() -> String {
    format!("xray-archive-{:032x}", rand::rng().random::<u128>())
}

/// Athena through one pacer.
#[derive(Debug)]
pub struct Athena {
    client: Client,
    pacer: Pacer,
}

impl Athena {
    /// Over `client`, which should have the SDK's own retries off.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            pacer: Pacer::new(PaceConfig::ATHENA),
        }
    }

    /// A client from the standard AWS configuration (`AWS_ENDPOINT_URL_ATHENA` included),
    /// with the SDK's own retries off.
    pub async fn from_env() -> Self {
        Self::new(Client::new(&exporter::aws::sdk_config().await))
    }

    /// Attempts, throttles and transient failures so far.
    pub fn stats(&self) -> PaceStats {
        self.pacer.stats()
    }

    /// Runs `sql` and waits for it: polls with backoff (200 ms doubling to 5 s), then pages
    /// through every result row.
    pub async fn run(&self, wg: &Workgroup, sql: &str) -> Result<QueryResult> {
        let id = self.start(wg, sql).await?;
        let execution = self.wait(&id).await?;
        let mut result = QueryResult {
            id: id.clone(),
            columns: Vec::new(),
            rows: Vec::new(),
            data_scanned_bytes: execution
                .statistics()
                .and_then(|s| s.data_scanned_in_bytes())
                .unwrap_or(0),
            pages: 0,
        };
        let target = format!("query {id}");
        let mut token: Option<String> = None;
        loop {
            let page = self
                .pacer
                .call("GetQueryResults", || {
                    self.client
                        .get_query_results()
                        .query_execution_id(&id)
                        .max_results(PAGE_ROWS)
                        .set_next_token(token.clone())
                        .send()
                })
                .await
                .map_err(|e| Error::api("GetQueryResults", &target, &e))?;
            let first_page = result.pages == 0;
            result.pages += 1;
            if let Some(rs) = page.result_set() {
                if first_page {
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
                let mut rows = rs.rows().iter().peekable();
                // Athena repeats the column names as the first row of a SELECT's first page
                // (SHOW and DESCRIBE answers have no such row).
                if first_page
                    && !result.columns.is_empty()
                    && rows.peek().is_some_and(|r| {
                        r.data()
                            .iter()
                            .map(|d| d.var_char_value())
                            .eq(result.columns.iter().map(|c| Some(c.as_str())))
                    })
                {
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
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(result);
            }
        }
    }

    /// StartQueryExecution, with one request token for all its attempts.
    async fn start(&self, wg: &Workgroup, sql: &str) -> Result<String> {
        let token = request_token();
        let out = self
            .pacer
            .call("StartQueryExecution", || {
                let start = self
                    .client
                    .start_query_execution()
                    .query_string(sql)
                    .work_group(&wg.name)
                    .client_request_token(&token)
                    .query_execution_context(
                        QueryExecutionContext::builder()
                            .database(&wg.database)
                            .build(),
                    );
                match &wg.output {
                    Some(out) => start
                        .result_configuration(
                            ResultConfiguration::builder().output_location(out).build(),
                        )
                        .send(),
                    None => start.send(),
                }
            })
            .await
            .map_err(|e| Error::api("StartQueryExecution", format!("workgroup {}", wg.name), &e))?;
        match out.query_execution_id() {
            Some(id) if !id.is_empty() => Ok(id.to_owned()),
            _ => Err(Error::NoExecutionId {
                workgroup: wg.name.clone(),
            }),
        }
    }

    /// Polls GetQueryExecution until the query succeeds, fails or is cancelled.
    async fn wait(&self, id: &str) -> Result<QueryExecution> {
        let target = format!("query {id}");
        let mut delay = Duration::from_millis(200);
        loop {
            let out = self
                .pacer
                .call("GetQueryExecution", || {
                    self.client
                        .get_query_execution()
                        .query_execution_id(id)
                        .send()
                })
                .await
                .map_err(|e| Error::api("GetQueryExecution", &target, &e))?;
            let execution = out
                .query_execution()
                .cloned()
                .unwrap_or_else(|| QueryExecution::builder().build());
            let status = execution.status();
            match status.and_then(|s| s.state()) {
                Some(QueryExecutionState::Succeeded) => return Ok(execution),
                Some(state @ (QueryExecutionState::Failed | QueryExecutionState::Cancelled)) => {
                    return Err(Error::QueryFailed {
                        id: id.to_owned(),
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
        }
    }

    /// Runs the DDL statements one by one, then creates every saved query as a named query.
    pub async fn register(&self, wg: &Workgroup, ddl: &str) -> Result<Registered> {
        let statements: Vec<&str> = ddl
            .split(";\n")
            .map(str::trim)
            .filter(|s| {
                s.lines()
                    .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
            })
            .collect();
        for statement in &statements {
            self.run(wg, statement).await?;
        }
        let mut named = Vec::new();
        for q in saved_queries() {
            let name = format!("xray-archive: {}", q.name);
            let description = q.title.chars().take(1024).collect::<String>();
            let token = request_token();
            self.pacer
                .call("CreateNamedQuery", || {
                    self.client
                        .create_named_query()
                        .name(&name)
                        .description(&description)
                        .database(&wg.database)
                        .query_string(q.text)
                        .work_group(&wg.name)
                        .client_request_token(&token)
                        .send()
                })
                .await
                .map_err(|e| Error::api("CreateNamedQuery", &name, &e))?;
            named.push(q.name.to_owned());
        }
        Ok(Registered {
            statements: statements.len(),
            named_queries: named,
        })
    }
}
