//! PostgreSQL (tokio-postgres over plain TCP, no TLS), MinIO's two table formats:
//!
//! - `namespace`: a row per object, `(key TEXT PRIMARY KEY, value JSONB)`, key
//!   `bucket/key`: an event upserts the row with its JSON, a removal
//!   (`ObjectRemoved:*`, `LifecycleExpiration:*`) deletes it, so the table holds the
//!   objects that exist with their latest event;
//! - `access`: a row per event, `(event_time TIMESTAMPTZ NOT NULL, event_data JSONB)`.
//!
//! The table is created on connecting if it does not exist (and its statements are
//! prepared, which checks its columns). A batch is one transaction: its statements
//! in batch order (pipelined: sent without waiting for each answer), then COMMIT;
//! it is delivered when COMMIT succeeded and not at all otherwise. A statement the
//! database refuses for good (a privilege, a column, a value) rolls the batch back;
//! the events before it are then committed on their own, so the refusal falls on
//! the event it is about.
//!
//! The connection (its task spawned) and its prepared statements are kept between
//! batches; any error but such a refusal drops them, so the next attempt connects
//! anew (and creates the table again if it was dropped).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use hafiz_meta::events::QueuedEvent;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_postgres::config::SslMode;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Statement, Transaction};

use super::{Failure, SendError, Sink, message};
use crate::config::{PostgresEndpoint, TargetConfig, postgres_endpoint, postgres_table};
use crate::error::{TargetError, TargetResult};

pub struct Postgres {
    endpoint: PostgresEndpoint,
    config: tokio_postgres::Config,
    /// The quoted (and case-folded) name, ready for SQL.
    table: String,
    access: bool,
    timeout: Duration,
    conn: Mutex<Option<Conn>>,
}

struct Conn {
    client: Client,
    statements: Statements,
    _task: AbortOnDrop,
}

/// The connection's task: it ends with its client, and is aborted with it too, so
/// that a socket stuck on a peer that went away does not keep it.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

enum Statements {
    Access {
        insert: Statement,
    },
    Namespace {
        upsert: Statement,
        delete: Statement,
    },
}

/// What one event does to the table.
enum Op {
    Insert { time: SystemTime, body: String },
    Upsert { key: String, body: String },
    Delete { key: String },
}

/// A failed batch: the statement that failed (None: BEGIN or COMMIT) and why.
struct Failed {
    at: Option<usize>,
    error: tokio_postgres::Error,
}

impl Postgres {
    pub fn new(cfg: &TargetConfig, password: Option<String>) -> TargetResult<Postgres> {
        let endpoint = postgres_endpoint(&cfg.endpoint)
            .map_err(|e| TargetError::Invalid(format!("endpoint: {e}")))?;
        let mut config = tokio_postgres::Config::new();
        config
            .user(&cfg.username)
            .dbname(&endpoint.dbname)
            .application_name(format!("hafiz-{}", cfg.id))
            .ssl_mode(SslMode::Disable);
        if let Some(p) = password {
            config.password(p);
        }
        Ok(Postgres {
            table: postgres_table(&cfg.destination)?,
            access: cfg.format == "access",
            timeout: cfg.timeout(),
            endpoint,
            config,
            conn: Mutex::new(None),
        })
    }

    fn address(&self) -> String {
        let PostgresEndpoint { host, port, .. } = &self.endpoint;
        if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
    }

    /// Connect, create the table if it is not there, prepare the statements. Every
    /// error here is the target's, not an event's: transient.
    async fn connect(&self) -> Result<Conn, SendError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            SendError::Transient(format!("postgres {}: {what}: {e}", self.address()))
        };
        let stream =
            tokio::net::TcpStream::connect((self.endpoint.host.as_str(), self.endpoint.port))
                .await
                .map_err(|e| fail("connecting", &e))?;
        let _ = stream.set_nodelay(true);
        let (client, connection) = self
            .config
            .connect_raw(stream, NoTls)
            .await
            .map_err(|e| fail("connecting", &describe(&e)))?;
        // Dropped on an error below: the connection goes with it.
        let task = AbortOnDrop(tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "postgres connection closed");
            }
        }));
        let table = &self.table;
        // Looked up first: CREATE TABLE IF NOT EXISTS needs the CREATE privilege on
        // the schema even when the table exists.
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&self.table])
            .await
            .map_err(|e| fail("looking up the table", &describe(&e)))?
            .get(0);
        if !exists {
            let columns = if self.access {
                "event_time TIMESTAMPTZ NOT NULL, event_data JSONB"
            } else {
                "key TEXT PRIMARY KEY, value JSONB"
            };
            client
                .batch_execute(&format!("CREATE TABLE IF NOT EXISTS {table} ({columns})"))
                .await
                .map_err(|e| fail(&format!("creating table {table}"), &describe(&e)))?;
        }
        let format = if self.access { "access" } else { "namespace" };
        let prepare = |sql: String| {
            let client = &client;
            async move {
                client.prepare(&sql).await.map_err(|e| {
                    fail(
                        &format!("table {table} does not fit the {format} format"),
                        &describe(&e),
                    )
                })
            }
        };
        let statements = if self.access {
            Statements::Access {
                insert: prepare(format!(
                    "INSERT INTO {table} (event_time, event_data) VALUES ($1, $2::text::jsonb)"
                ))
                .await?,
            }
        } else {
            Statements::Namespace {
                upsert: prepare(format!(
                    "INSERT INTO {table} (key, value) VALUES ($1, $2::text::jsonb) \
                     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
                ))
                .await?,
                delete: prepare(format!("DELETE FROM {table} WHERE key = $1")).await?,
            }
        };
        Ok(Conn {
            client,
            statements,
            _task: task,
        })
    }

    fn ops(&self, events: &[QueuedEvent]) -> Vec<Op> {
        events
            .iter()
            .map(|ev| {
                let r = &ev.record;
                if self.access {
                    Op::Insert {
                        time: SystemTime::UNIX_EPOCH
                            + Duration::from_millis(u64::try_from(r.time).unwrap_or(0)),
                        body: message(ev),
                    }
                } else {
                    let key = format!("{}/{}", r.bucket, r.key);
                    if removes(&r.event_name) {
                        Op::Delete { key }
                    } else {
                        Op::Upsert {
                            key,
                            body: message(ev),
                        }
                    }
                }
            })
            .collect()
    }

    /// `events` in one transaction.
    async fn deliver(&self, conn: &mut Conn, events: &[QueuedEvent]) -> Result<(), Failed> {
        let ops = self.ops(events);
        let statements = &conn.statements;
        let tx = conn
            .client
            .transaction()
            .await
            .map_err(|error| Failed { at: None, error })?;
        let results = pipelined(&tx, statements, &ops).await;
        if let Some((at, error)) = results
            .into_iter()
            .enumerate()
            .find_map(|(i, r)| r.err().map(|e| (i, e)))
        {
            // Dropping the transaction rolls it back.
            return Err(Failed {
                at: Some(at),
                error,
            });
        }
        tx.commit()
            .await
            .map_err(|error| Failed { at: None, error })
    }
}

/// Whether an event removes the object's row (namespace format).
fn removes(event_name: &str) -> bool {
    let name = event_name.strip_prefix("s3:").unwrap_or(event_name);
    name.starts_with("ObjectRemoved:") || name.starts_with("LifecycleExpiration:")
}

/// Run `ops` in order on `tx`, each sent before the answer to the one before it
/// arrives; the result of each.
async fn pipelined(
    tx: &Transaction<'_>,
    statements: &Statements,
    ops: &[Op],
) -> Vec<Result<u64, tokio_postgres::Error>> {
    enum Step<F: Future> {
        Running(Pin<Box<F>>),
        Done(F::Output),
    }
    let mut steps = Vec::with_capacity(ops.len());
    for op in ops {
        let mut f = Box::pin(run(tx, statements, op));
        // The first poll sends the statement (the client queues it to the
        // connection): the statements go out in batch order.
        let first = std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))).await;
        steps.push(match first {
            Poll::Ready(r) => Step::Done(r),
            Poll::Pending => Step::Running(f),
        });
    }
    let mut results = Vec::with_capacity(steps.len());
    for s in steps {
        results.push(match s {
            Step::Done(r) => r,
            Step::Running(f) => f.await,
        });
    }
    results
}

async fn run(
    tx: &Transaction<'_>,
    statements: &Statements,
    op: &Op,
) -> Result<u64, tokio_postgres::Error> {
    let (statement, params): (&Statement, Vec<&(dyn ToSql + Sync)>) = match (statements, op) {
        (Statements::Access { insert }, Op::Insert { time, body }) => (insert, vec![time, body]),
        (Statements::Namespace { upsert, .. }, Op::Upsert { key, body }) => {
            (upsert, vec![key, body])
        }
        (Statements::Namespace { delete, .. }, Op::Delete { key }) => (delete, vec![key]),
        // `ops` follows the target's format, as the statements do.
        _ => unreachable!("an operation of the other format"),
    };
    tx.execute(statement, &params).await
}

/// A database error with its SQLSTATE, or the client's error.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// Refusals a statement will meet again however often it is sent: a privilege
/// (42501), a column or a type that does not fit (42xxx), a value the column or
/// JSONB does not take (22xxx), a constraint (23xxx), a limit (54xxx). Everything
/// else (connections, the server shutting down or out of resources, a conflict, a
/// read-only standby, a table dropped under the prepared statements) is worth
/// trying again after reconnecting.
fn refused(e: &tokio_postgres::Error) -> bool {
    let Some(db) = e.as_db_error() else {
        return false;
    };
    let code = db.code().code();
    match &code[..2] {
        // 42P01: the table was dropped: reconnecting creates it again.
        "42" => code != "42P01",
        "22" | "23" | "54" => true,
        _ => false,
    }
}

#[async_trait]
impl Sink for Postgres {
    async fn send(&self, events: &[QueuedEvent]) -> Result<(), Failure> {
        let mut held = self.conn.lock().await;
        // Out of the slot while in use: an error, or an attempt cancelled by the
        // dispatcher's timeout (the server rolls the open transaction back when the
        // connection closes), leaves it empty and the next attempt reconnects.
        let mut conn = match held.take() {
            Some(c) if !c.client.is_closed() => c,
            _ => self.connect().await.map_err(|error| Failure {
                delivered: 0,
                error,
                ahead: Vec::new(),
            })?,
        };
        let failed = match self.deliver(&mut conn, events).await {
            Ok(()) => {
                *held = Some(conn);
                return Ok(());
            }
            Err(f) => f,
        };
        let message = format!("postgres {}: {}", self.address(), describe(&failed.error));
        let at = match failed.at {
            Some(at) if refused(&failed.error) => at,
            // The connection, BEGIN or COMMIT: all of the batch is sent again
            // (a COMMIT lost with its connection may have committed: at least once).
            _ => return Err(Failure::transient(0, message)),
        };
        let error = SendError::Rejected(message);
        if at > 0 {
            // The events before the refused one, in a transaction of their own.
            if let Err(f) = self.deliver(&mut conn, &events[..at]).await {
                let message = format!("postgres {}: {}", self.address(), describe(&f.error));
                if refused(&f.error) && f.at.is_some() {
                    *held = Some(conn);
                    return Err(Failure {
                        delivered: 0,
                        error: SendError::Rejected(message),
                        ahead: Vec::new(),
                    });
                }
                return Err(Failure::transient(0, message));
            }
        }
        // The connection is sound: the refused transaction was rolled back.
        *held = Some(conn);
        Err(Failure {
            delivered: at,
            error,
            ahead: Vec::new(),
        })
    }

    async fn check(&self) -> Result<(), SendError> {
        let conn = tokio::time::timeout(self.timeout, self.connect())
            .await
            .map_err(|_| {
                SendError::Transient(format!(
                    "postgres: no answer from {} in {:?}",
                    self.address(),
                    self.timeout
                ))
            })??;
        *self.conn.lock().await = Some(conn);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removals_delete_the_row() {
        for name in [
            "s3:ObjectRemoved:Delete",
            "s3:ObjectRemoved:DeleteMarkerCreated",
            "s3:LifecycleExpiration:Delete",
            "s3:LifecycleExpiration:DeleteMarkerCreated",
        ] {
            assert!(removes(name), "{name}");
        }
        for name in [
            "s3:ObjectCreated:Put",
            "s3:ObjectCreated:Copy",
            "s3:ObjectTagging:Put",
            "s3:ObjectRestore:Completed",
            "s3:LifecycleTransition",
        ] {
            assert!(!removes(name), "{name}");
        }
    }
}
