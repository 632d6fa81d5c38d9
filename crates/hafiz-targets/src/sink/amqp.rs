//! AMQP 0-9-1 (RabbitMQ): each event published persistent to the exchange with the
//! routing key, a batch in one transaction: delivered once the broker committed it.

use amqprs::BasicProperties;
use amqprs::callbacks::{DefaultChannelCallback, DefaultConnectionCallback};
use amqprs::channel::{BasicPublishArguments, Channel};
use amqprs::connection::{Connection, OpenConnectionArguments};
use async_trait::async_trait;
use hafiz_meta::events::QueuedEvent;
use tokio::sync::Mutex;

use super::{Failure, SendError, Sink, message};
use crate::config::TargetConfig;
use crate::error::{TargetError, TargetResult};

pub struct Amqp {
    host: String,
    port: u16,
    vhost: String,
    username: String,
    password: String,
    exchange: String,
    routing_key: String,
    open: Mutex<Option<(Connection, Channel)>>,
}

impl Amqp {
    pub fn new(cfg: &TargetConfig, password: Option<String>) -> TargetResult<Amqp> {
        let url = url::Url::parse(&cfg.endpoint)
            .map_err(|e| TargetError::Invalid(format!("endpoint: {e}")))?;
        let vhost = match url.path().trim_start_matches('/') {
            "" => "/".to_string(),
            v => percent_decode(v),
        };
        let (username, password) = match (cfg.username.as_str(), password) {
            ("", None) => ("guest".to_string(), "guest".to_string()),
            (u, p) => (u.to_string(), p.unwrap_or_default()),
        };
        Ok(Amqp {
            host: url.host_str().unwrap_or("127.0.0.1").to_string(),
            port: url.port().unwrap_or(5672),
            vhost,
            username,
            password,
            exchange: cfg.destination.clone(),
            routing_key: cfg.routing_key.clone(),
            open: Mutex::new(None),
        })
    }

    async fn channel(&self) -> Result<Channel, String> {
        let mut held = self.open.lock().await;
        if let Some((conn, ch)) = held.as_ref()
            && conn.is_open()
            && ch.is_open()
        {
            return Ok(ch.clone());
        }
        let args =
            OpenConnectionArguments::new(&self.host, self.port, &self.username, &self.password)
                .virtual_host(&self.vhost)
                .finish();
        let conn = Connection::open(&args).await.map_err(|e| e.to_string())?;
        conn.register_callback(DefaultConnectionCallback)
            .await
            .map_err(|e| e.to_string())?;
        let ch = conn.open_channel(None).await.map_err(|e| e.to_string())?;
        ch.register_callback(DefaultChannelCallback)
            .await
            .map_err(|e| e.to_string())?;
        ch.tx_select().await.map_err(|e| e.to_string())?;
        *held = Some((conn, ch.clone()));
        Ok(ch)
    }

    async fn publish_all(&self, events: &[QueuedEvent]) -> Result<(), String> {
        let ch = self.channel().await?;
        for ev in events {
            let props = BasicProperties::default()
                .with_content_type("application/json")
                .with_persistence(true)
                .finish();
            ch.basic_publish(
                props,
                message(ev).into_bytes(),
                BasicPublishArguments::new(&self.exchange, &self.routing_key),
            )
            .await
            .map_err(|e| e.to_string())?;
        }
        ch.tx_commit().await.map_err(|e| e.to_string())
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("v={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

#[async_trait]
impl Sink for Amqp {
    async fn send(&self, events: &[QueuedEvent]) -> Result<(), Failure> {
        match self.publish_all(events).await {
            Ok(()) => Ok(()),
            Err(e) => {
                if let Some((conn, _)) = self.open.lock().await.take() {
                    let _ = conn.close().await;
                }
                Err(Failure::transient(0, e))
            }
        }
    }

    async fn check(&self) -> Result<(), SendError> {
        self.channel()
            .await
            .map(|_| ())
            .map_err(SendError::Transient)
    }
}
