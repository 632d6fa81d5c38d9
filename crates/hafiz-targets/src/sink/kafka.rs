//! Kafka (rskafka: pure Rust, plain TCP, no SASL or TLS, no compression): each event
//! a record on the topic, value the event JSON, key `bucket/key`. The partition is
//! the one Kafka's Java producer would choose for that key (murmur2 of the key,
//! modulo the topic's partition count), so a key's events stay in one partition, in
//! commit order. A batch is produced partition by partition (each partition's
//! records in batch order, acks from all in-sync replicas) and is delivered once
//! every produce call succeeded.
//!
//! The client, the partition count (read from the metadata when connecting) and the
//! partition clients are kept between batches; any error drops them, so the next
//! attempt connects anew and reads the partition count again.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use hafiz_meta::events::QueuedEvent;
use rskafka::BackoffConfig;
use rskafka::client::error::{Error as KafkaError, ProtocolError};
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use tokio::sync::Mutex;

use super::{Failure, SendError, Sink, message};
use crate::config::{TargetConfig, kafka_brokers};
use crate::error::{TargetError, TargetResult};

pub struct Kafka {
    brokers: Vec<String>,
    topic: String,
    client_id: String,
    timeout: Duration,
    conn: Mutex<Option<Conn>>,
}

enum Unconnected {
    Kafka(SendError),
    NoTopic(String),
}

impl From<Unconnected> for SendError {
    fn from(e: Unconnected) -> SendError {
        match e {
            Unconnected::Kafka(e) => e,
            // Transient: a topic being created (or a broker still loading it) is
            // waited for, not a reason to dead-letter events.
            Unconnected::NoTopic(m) => SendError::Transient(m),
        }
    }
}

struct Conn {
    client: Client,
    /// The topic's partitions, in order.
    partitions: Vec<i32>,
    producers: HashMap<i32, PartitionClient>,
}

impl Kafka {
    pub fn new(cfg: &TargetConfig) -> TargetResult<Kafka> {
        Ok(Kafka {
            brokers: kafka_brokers(&cfg.endpoint)
                .map_err(|e| TargetError::Invalid(format!("endpoint: {e}")))?,
            topic: cfg.destination.clone(),
            client_id: format!("hafiz-{}", cfg.id),
            timeout: cfg.timeout(),
            conn: Mutex::new(None),
        })
    }

    async fn connect(&self) -> Result<Conn, Unconnected> {
        // rskafka retries connections and retriable broker errors by itself, without
        // end by default: within the attempt's time, so that its error comes back
        // (and the attempt ends in `SendError`, not in the dispatcher's timeout).
        let backoff = BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
            base: 2.0,
            deadline: Some(self.timeout / 2),
        };
        let client = ClientBuilder::new(self.brokers.clone())
            .client_id(self.client_id.as_str())
            .backoff_config(backoff)
            .build()
            .await
            .map_err(|e| Unconnected::Kafka(classify(&e)))?;
        let partitions = client
            .list_topics()
            .await
            .map_err(|e| Unconnected::Kafka(classify(&e)))?
            .into_iter()
            .find(|t| t.name == self.topic)
            .map(|t| t.partitions.into_iter().collect::<Vec<i32>>())
            .unwrap_or_default();
        if partitions.is_empty() {
            return Err(Unconnected::NoTopic(format!(
                "kafka topic {} does not exist",
                self.topic
            )));
        }
        Ok(Conn {
            client,
            partitions,
            producers: HashMap::new(),
        })
    }

    /// Produce `events`, partition by partition; on failure, how many of the batch's
    /// first events arrived.
    async fn produce(&self, conn: &mut Conn, events: &[QueuedEvent]) -> Result<(), Failure> {
        // Each partition's events, in batch order; partitions in order of their first
        // event, so a failure leaves the longest delivered prefix.
        let mut groups: Vec<(i32, Vec<usize>)> = Vec::new();
        for (i, ev) in events.iter().enumerate() {
            let p = partition_of(&record_key(ev), &conn.partitions);
            match groups.iter_mut().find(|(q, _)| *q == p) {
                Some((_, idx)) => idx.push(i),
                None => groups.push((p, vec![i])),
            }
        }
        for (g, (p, idx)) in groups.iter().enumerate() {
            // The first event not delivered if this group fails from its `j`th on.
            let undelivered = |j: usize| {
                groups[g + 1..]
                    .iter()
                    .map(|(_, later)| later[0])
                    .fold(idx[j], usize::min)
            };
            let producer = match conn.producers.entry(*p) {
                std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    let pc = conn
                        .client
                        .partition_client(self.topic.as_str(), *p, UnknownTopicHandling::Error)
                        .await
                        .map_err(|e| Failure {
                            delivered: undelivered(0),
                            error: classify(&e),
                            ahead: Vec::new(),
                        })?;
                    v.insert(pc)
                }
            };
            let records = idx.iter().map(|&i| record(&events[i])).collect();
            match producer.produce(records, Compression::NoCompression).await {
                Ok(_) => {}
                Err(e) => {
                    let error = classify(&e);
                    if !matches!(error, SendError::Rejected(_)) || idx.len() == 1 {
                        return Err(Failure {
                            delivered: undelivered(0),
                            error,
                            ahead: Vec::new(),
                        });
                    }
                    // Refused (too large, unauthorized…): one record at a time, so
                    // the refusal falls on the event it is about and the ones before
                    // it are delivered.
                    for (j, &i) in idx.iter().enumerate() {
                        if let Err(e) = producer
                            .produce(vec![record(&events[i])], Compression::NoCompression)
                            .await
                        {
                            return Err(Failure {
                                delivered: undelivered(j),
                                error: classify(&e),
                                ahead: Vec::new(),
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// The record's key: the object's bucket and key.
fn record_key(ev: &QueuedEvent) -> String {
    format!("{}/{}", ev.record.bucket, ev.record.key)
}

fn record(ev: &QueuedEvent) -> Record {
    Record {
        key: Some(record_key(ev).into_bytes()),
        value: Some(message(ev).into_bytes()),
        headers: Default::default(),
        timestamp: rskafka::chrono::DateTime::from_timestamp_millis(ev.record.time)
            .unwrap_or_default(),
    }
}

/// The partition Kafka's default partitioner picks for `key`:
/// `(murmur2(key) & 0x7fffffff) % count`.
fn partition_of(key: &str, partitions: &[i32]) -> i32 {
    let h = (murmur2(key.as_bytes()) & 0x7fff_ffff) as usize;
    partitions[h % partitions.len()]
}

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`).
fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        for (i, b) in rest.iter().enumerate() {
            h ^= u32::from(*b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

/// Refusals the broker will repeat for the same record or the same producer;
/// everything else (connections, timeouts, leaders moving, a topic not there yet)
/// is worth trying again.
fn classify(e: &KafkaError) -> SendError {
    let inner = match e {
        KafkaError::RetryFailed(rskafka::BackoffError::DeadlineExceded { source, .. }) => {
            source.downcast_ref::<KafkaError>().unwrap_or(e)
        }
        _ => e,
    };
    match inner {
        KafkaError::ServerError {
            protocol_error:
                p @ (ProtocolError::TopicAuthorizationFailed
                | ProtocolError::ClusterAuthorizationFailed
                | ProtocolError::MessageTooLarge
                | ProtocolError::RecordListTooLarge
                | ProtocolError::InvalidRecord
                | ProtocolError::CorruptMessage
                | ProtocolError::InvalidTopicException
                | ProtocolError::PolicyViolation),
            error_message,
            ..
        } => SendError::Rejected(match error_message {
            Some(m) if !m.is_empty() => format!("kafka: {p}: {m}"),
            _ => format!("kafka: {p}"),
        }),
        _ => SendError::Transient(format!("kafka: {e}")),
    }
}

#[async_trait]
impl Sink for Kafka {
    async fn send(&self, events: &[QueuedEvent]) -> Result<(), Failure> {
        let mut held = self.conn.lock().await;
        // Out of the slot while in use: an error, or an attempt cancelled by the
        // dispatcher's timeout, leaves it empty and the next attempt reconnects.
        let mut conn = match held.take() {
            Some(c) => c,
            None => self.connect().await.map_err(|e| Failure {
                delivered: 0,
                error: e.into(),
                ahead: Vec::new(),
            })?,
        };
        self.produce(&mut conn, events).await?;
        *held = Some(conn);
        Ok(())
    }

    async fn check(&self) -> Result<(), SendError> {
        let connected = tokio::time::timeout(self.timeout, self.connect())
            .await
            .map_err(|_| {
                SendError::Transient(format!(
                    "kafka: no answer from {} in {:?}",
                    self.brokers.join(","),
                    self.timeout
                ))
            })?;
        match connected {
            Ok(conn) => {
                *self.conn.lock().await = Some(conn);
                Ok(())
            }
            Err(Unconnected::NoTopic(m)) => Err(SendError::Transient(format!(
                "{m} (create it first, or add the target with --no-check to wait for it)"
            ))),
            Err(Unconnected::Kafka(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_is_kafkas() {
        // Values of Kafka's UtilsTest.testMurmur2 (as i32 there).
        let cases: &[(&[u8], i32)] = &[
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (data, want) in cases {
            assert_eq!(
                murmur2(data) as i32,
                *want,
                "{}",
                String::from_utf8_lossy(data)
            );
        }
    }

    #[test]
    fn a_key_has_one_partition() {
        let parts = [0, 1, 2];
        let p = partition_of("b/k", &parts);
        assert!(parts.contains(&p));
        assert_eq!(p, partition_of("b/k", &parts));
        // Spread over the partitions.
        let used: std::collections::HashSet<i32> = (0..64)
            .map(|i| partition_of(&format!("b/key-{i}"), &parts))
            .collect();
        assert_eq!(used.len(), 3);
    }
}
