//! MQTT: each event published with QoS 1 on the topic; a batch is delivered once the
//! broker acknowledged every publish (PUBACK). A session that failed is dropped and
//! a new one opened, so acknowledgements are only ever counted for this batch's
//! publishes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use hafiz_meta::events::QueuedEvent;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::{Mutex, Notify};

use super::{Failure, SendError, Sink, message};
use crate::config::TargetConfig;
use crate::error::{TargetError, TargetResult};

pub struct Mqtt {
    host: String,
    port: u16,
    client_id: String,
    topic: String,
    credentials: Option<(String, String)>,
    session: Mutex<Option<Session>>,
}

struct Session {
    client: AsyncClient,
    progress: Arc<Progress>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Progress {
    acks: AtomicU64,
    failed: AtomicBool,
    error: std::sync::Mutex<String>,
    changed: Notify,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Mqtt {
    pub fn new(cfg: &TargetConfig, password: Option<String>) -> TargetResult<Mqtt> {
        let url = url::Url::parse(&cfg.endpoint)
            .map_err(|e| TargetError::Invalid(format!("endpoint: {e}")))?;
        Ok(Mqtt {
            host: url.host_str().unwrap_or("127.0.0.1").to_string(),
            port: url.port().unwrap_or(1883),
            client_id: format!("hafiz-{}", cfg.id),
            topic: cfg.destination.clone(),
            credentials: password.map(|p| (cfg.username.clone(), p)),
            session: Mutex::new(None),
        })
    }

    fn open(&self) -> Session {
        let mut opts = MqttOptions::new(&self.client_id, &self.host, self.port);
        opts.set_keep_alive(Duration::from_secs(30));
        opts.set_clean_session(true);
        if let Some((u, p)) = &self.credentials {
            opts.set_credentials(u, p);
        }
        let (client, mut events) = AsyncClient::new(opts, 256);
        let progress = Arc::new(Progress::default());
        let p = progress.clone();
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        p.acks.fetch_add(1, Ordering::AcqRel);
                        p.changed.notify_waiters();
                    }
                    Ok(_) => {}
                    Err(e) => {
                        *p.error.lock().unwrap_or_else(|e| e.into_inner()) = e.to_string();
                        p.failed.store(true, Ordering::Release);
                        p.changed.notify_waiters();
                        return;
                    }
                }
            }
        });
        Session {
            client,
            progress,
            task,
        }
    }

    async fn publish_all(&self, events: &[QueuedEvent]) -> Result<(), String> {
        let (client, progress) = {
            let mut held = self.session.lock().await;
            let s = held.get_or_insert_with(|| self.open());
            (s.client.clone(), s.progress.clone())
        };
        let want = progress.acks.load(Ordering::Acquire) + events.len() as u64;
        for ev in events {
            client
                .publish(
                    &self.topic,
                    QoS::AtLeastOnce,
                    false,
                    message(ev).into_bytes(),
                )
                .await
                .map_err(|e| e.to_string())?;
        }
        loop {
            let changed = progress.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if progress.acks.load(Ordering::Acquire) >= want {
                return Ok(());
            }
            if progress.failed.load(Ordering::Acquire) {
                return Err(progress
                    .error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone());
            }
            changed.await;
        }
    }
}

#[async_trait]
impl Sink for Mqtt {
    async fn send(&self, events: &[QueuedEvent]) -> Result<(), Failure> {
        match self.publish_all(events).await {
            Ok(()) => Ok(()),
            Err(e) => {
                *self.session.lock().await = None;
                Err(Failure::transient(0, e))
            }
        }
    }

    async fn check(&self) -> Result<(), SendError> {
        let addr = format!("{}:{}", self.host, self.port);
        tokio::net::TcpStream::connect(&addr)
            .await
            .map(|_| ())
            .map_err(|e| SendError::Transient(format!("{addr}: {e}")))
    }
}
