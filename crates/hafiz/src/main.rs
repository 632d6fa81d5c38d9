//! The `hafiz` binary: command line, configuration, and the wiring of the S3 gateway
//! to the metadata store and the data store.

mod config;
mod credentials;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hafiz_meta::{MetaStore, Metadata};
use hafiz_s3::{OwnerInfo, S3Config, S3State};
use hafiz_storage::{BlobStore, LocalBlobStore};
use sha2::Digest;

use crate::config::{FileConfig, NodeConfig};

/// How long in-flight requests may run after SIGTERM/SIGINT before the process exits.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

#[derive(Parser)]
#[command(
    name = "hafiz",
    version,
    about = "Hafiz: an S3-compatible object store"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start a node.
    Server(ServerArgs),
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCmd,
    },
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Validate a config file; exits non-zero with a message on error.
    Check { file: PathBuf },
}

#[derive(clap::Args)]
struct ServerArgs {
    /// TOML config file (keys: address, data, region, domain).
    #[arg(long, env = "HAFIZ_CONFIG")]
    config: Option<PathBuf>,
    /// S3 listener [default: 127.0.0.1:9000]
    #[arg(long, env = "HAFIZ_ADDRESS")]
    address: Option<SocketAddr>,
    /// Data directory, created if missing [default: ./hafiz-data]
    #[arg(long, env = "HAFIZ_DATA")]
    data: Option<PathBuf>,
    /// Region reported to clients and checked in signatures [default: us-east-1]
    #[arg(long, env = "HAFIZ_REGION")]
    region: Option<String>,
    /// Enables virtual-host-style buckets (`bucket.DOMAIN`)
    #[arg(long, env = "HAFIZ_DOMAIN")]
    domain: Option<String>,
}

impl ServerArgs {
    fn resolve(self) -> anyhow::Result<NodeConfig> {
        let file = match &self.config {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
        };
        let address = match (self.address, file.address) {
            (Some(a), _) => a,
            (None, Some(a)) => a
                .parse()
                .with_context(|| format!("address: {a:?} is not HOST:PORT"))?,
            (None, None) => "127.0.0.1:9000".parse()?,
        };
        let region = self
            .region
            .or(file.region)
            .unwrap_or_else(|| "us-east-1".into());
        config::validate_region(&region)?;
        Ok(NodeConfig {
            address,
            data: self
                .data
                .or(file.data)
                .unwrap_or_else(|| PathBuf::from("./hafiz-data")),
            region,
            domain: self.domain.or(file.domain).filter(|d| !d.is_empty()),
        })
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Config {
            command: ConfigCmd::Check { file },
        } => {
            FileConfig::load(&file)?;
            println!("{}: ok", file.display());
            Ok(())
        }
        Cmd::Server(args) => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_env("HAFIZ_LOG")
                        .unwrap_or_else(|_| "info".into()),
                )
                .init();
            let cfg = args.resolve()?;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(serve(cfg))
        }
    }
}

/// Delete blobs no metadata refers to: writes that a crash interrupted between the
/// data fsync and the metadata commit. Runs before the listener opens, so no write is
/// in flight.
async fn collect_orphans(meta: &MetaStore, blobs: &LocalBlobStore) -> anyhow::Result<()> {
    let referenced = meta.referenced_blobs().await?;
    let mut removed = 0;
    for id in blobs.blob_ids().await? {
        if !referenced.contains(&id) {
            blobs.delete(&id).await?;
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(
            removed,
            "removed blobs left without metadata by an interrupted write"
        );
    }
    Ok(())
}

async fn serve(cfg: NodeConfig) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cfg.data)
        .with_context(|| format!("cannot create {}", cfg.data.display()))?;
    let (creds, generated) = credentials::load_or_create(&cfg.data)?;
    if generated {
        println!(
            "Generated root credentials (stored in {}):\n  access key: {}\n  secret key: {}",
            cfg.data.join(credentials::FILE_NAME).display(),
            creds.access_key,
            creds.secret_key
        );
    }
    let meta = MetaStore::open(&cfg.data.join("meta")).context("cannot open the metadata store")?;
    let blobs = LocalBlobStore::open(&cfg.data).context("cannot open the data store")?;
    collect_orphans(&meta, &blobs).await?;

    let owner_id = hex::encode(sha2::Sha256::digest(creds.access_key.as_bytes()));
    let state = Arc::new(S3State {
        meta: Arc::new(meta.clone()),
        blobs: Arc::new(blobs),
        secrets: Arc::new(creds),
        config: S3Config {
            region: cfg.region.clone(),
            domain: cfg.domain.clone(),
        },
        owner: OwnerInfo {
            id: owner_id,
            display_name: "hafiz".into(),
        },
    });
    let listener = tokio::net::TcpListener::bind(cfg.address)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.address))?;
    tracing::info!(address = %listener.local_addr()?, data = %cfg.data.display(), region = %cfg.region, "hafiz S3 listening");

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        axum::serve(listener, hafiz_s3::app(state))
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .into_future(),
    );
    let mut server = server;
    tokio::select! {
        r = &mut server => {
            r.context("server task failed")?.context("server failed")?;
        }
        _ = shutdown_signal() => {
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stop_tx.send(());
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await.is_err() {
                tracing::warn!("in-flight requests did not finish in time; exiting");
            }
        }
    }
    meta.flush().context("cannot flush the metadata store")?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
