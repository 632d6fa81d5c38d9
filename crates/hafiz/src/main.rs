//! The `hafiz` binary: command line, configuration, and the wiring of the S3 gateway
//! to the metadata store and the data store.

mod admin;
mod config;
mod credentials;
mod node;
mod prometheus;
mod scanner;
mod telemetry;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hafiz_s3::{OwnerInfo, S3Config, S3State};
use sha2::Digest;

use crate::config::{FileConfig, NodeConfig, StorageConfig};
use crate::telemetry::LogFormat;

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
    Server(Box<ServerArgs>),
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCmd,
    },
    /// Local administration of a node's drives (run against a stopped node).
    Admin {
        #[command(subcommand)]
        command: AdminCmd,
    },
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Validate a config file; exits non-zero with a message on error.
    Check { file: PathBuf },
}

#[derive(Subcommand)]
enum AdminCmd {
    /// Verify every shard and rebuild missing or rotten ones.
    Heal {
        #[command(flatten)]
        storage: StorageArgs,
        /// Only the objects of this bucket.
        #[arg(long)]
        bucket: Option<String>,
        /// Report what is damaged without writing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Drive status: online, offline, healing, free space.
    Status {
        #[command(flatten)]
        storage: StorageArgs,
        #[arg(long)]
        json: bool,
    },
}

/// Where a node's data lives.
#[derive(clap::Args)]
struct StorageArgs {
    /// TOML config file (keys: address, data, region, domain, website_domain, parity, meta_dir, scanner_interval).
    #[arg(long, env = "HAFIZ_CONFIG")]
    config: Option<PathBuf>,
    /// Data drive directory; repeat it, or use ranges like /mnt/disk{1...8} [default: ./hafiz-data]
    #[arg(long, env = "HAFIZ_DATA", value_delimiter = ',')]
    data: Vec<String>,
    /// Parity drives per erasure set [default: by set size, see README]
    #[arg(long, env = "HAFIZ_PARITY")]
    parity: Option<usize>,
    /// Metadata directory [default: mirrored on the first three drives]
    #[arg(long, env = "HAFIZ_META_DIR")]
    meta_dir: Option<PathBuf>,
}

impl StorageArgs {
    fn resolve(self) -> anyhow::Result<(StorageConfig, FileConfig)> {
        let file = match &self.config {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
        };
        let data = if !self.data.is_empty() {
            self.data
        } else {
            file.data
                .clone()
                .map(|d| d.into_vec())
                .unwrap_or_else(|| vec!["./hafiz-data".into()])
        };
        let storage = StorageConfig {
            drives: config::expand_drives(&data)?,
            parity: self.parity.or(file.parity),
            meta_dir: self.meta_dir.or(file.meta_dir.clone()),
        };
        Ok((storage, file))
    }
}

#[derive(clap::Args)]
struct ServerArgs {
    #[command(flatten)]
    storage: StorageArgs,
    /// S3 listener [default: 127.0.0.1:9000]
    #[arg(long, env = "HAFIZ_ADDRESS")]
    address: Option<SocketAddr>,
    /// Region reported to clients and checked in signatures [default: us-east-1]
    #[arg(long, env = "HAFIZ_REGION")]
    region: Option<String>,
    /// Enables virtual-host-style buckets (`bucket.DOMAIN`)
    #[arg(long, env = "HAFIZ_DOMAIN")]
    domain: Option<String>,
    /// Serves static websites of buckets with a website configuration at
    /// `bucket.WEBSITE_DOMAIN`, to anonymous clients
    #[arg(long, env = "HAFIZ_WEBSITE_DOMAIN")]
    website_domain: Option<String>,
    /// Seconds between full verification passes of the background scanner [default: 86400]
    #[arg(long, env = "HAFIZ_SCANNER_INTERVAL")]
    scanner_interval: Option<u64>,
    /// Log format
    #[arg(long, env = "HAFIZ_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Write an audit record (CloudTrail JSON lines) of every request into this
    /// directory (`audit.log`, rotated to `audit-<millis>.log`)
    #[arg(long, env = "HAFIZ_AUDIT_DIR")]
    audit_dir: Option<PathBuf>,
    /// Rotate the audit log once it holds this many bytes
    #[arg(long, env = "HAFIZ_AUDIT_MAX_BYTES", default_value_t = 100 << 20)]
    audit_max_bytes: u64,
    /// Delete rotated audit logs older than this many days
    #[arg(long, env = "HAFIZ_AUDIT_RETENTION_DAYS", default_value_t = 30)]
    audit_retention_days: u64,
    /// Export request spans over OTLP/HTTP to this collector (e.g. http://127.0.0.1:4318)
    #[arg(long, env = "HAFIZ_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    /// OpenID Connect issuer for STS AssumeRoleWithWebIdentity: a token's `iss` must
    /// equal it (enables web identities, with --oidc-jwks)
    #[arg(long, env = "HAFIZ_OIDC_ISSUER", requires = "oidc_jwks")]
    oidc_issuer: Option<String>,
    /// The provider's signing keys: a JWKS file, or an http(s):// URL (read again when
    /// a token names an unknown key id, at most every 30 s)
    #[arg(long, env = "HAFIZ_OIDC_JWKS", requires = "oidc_issuer")]
    oidc_jwks: Option<String>,
    /// Client id a token's `aud` must contain [default: any audience]
    #[arg(long, env = "HAFIZ_OIDC_AUDIENCE")]
    oidc_audience: Option<String>,
    /// Token claim naming the session's managed policies (comma-separated string or array)
    #[arg(long, env = "HAFIZ_OIDC_POLICY_CLAIM", default_value = "policy")]
    oidc_policy_claim: String,
}

impl ServerArgs {
    fn resolve(self) -> anyhow::Result<NodeConfig> {
        let (storage, file) = self.storage.resolve()?;
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
        let oidc = match (self.oidc_issuer, self.oidc_jwks) {
            (Some(issuer), Some(jwks)) => Some(config::oidc(
                issuer,
                &jwks,
                self.oidc_audience,
                self.oidc_policy_claim,
            )?),
            _ => None,
        };
        Ok(NodeConfig {
            oidc,
            address,
            storage,
            region,
            domain: self.domain.or(file.domain).filter(|d| !d.is_empty()),
            website_domain: self
                .website_domain
                .or(file.website_domain)
                .filter(|d| !d.is_empty()),
            audit: self.audit_dir.map(|dir| hafiz_s3::audit::AuditConfig {
                dir,
                max_file_bytes: self.audit_max_bytes.max(1),
                retention: Duration::from_secs(self.audit_retention_days * 86_400),
            }),
            scanner_interval: Duration::from_secs(
                self.scanner_interval
                    .or(file.scanner_interval)
                    .unwrap_or(86400)
                    .max(1),
            ),
        })
    }
}

/// A stable 12-digit account id derived from the root key's owner id.
fn account_id(owner_id: &str) -> String {
    let n = u64::from_str_radix(&owner_id[..15], 16).unwrap_or(0);
    format!("{:012}", n % 1_000_000_000_000)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
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
            // Before any HTTP client exists (the OTLP exporter's, the JWKS fetcher's).
            hafiz_s3::oidc::jwks::install_tls_crypto();
            let telemetry = telemetry::init(args.log_format, args.otlp_endpoint.as_deref())?;
            let cfg = args.resolve()?;
            let result = runtime()?.block_on(serve(cfg));
            drop(telemetry);
            result
        }
        Cmd::Admin {
            command:
                AdminCmd::Heal {
                    storage,
                    bucket,
                    dry_run,
                },
        } => {
            let _telemetry = telemetry::init(LogFormat::Text, None)?;
            let (storage, _) = storage.resolve()?;
            runtime()?.block_on(admin::heal(&storage, bucket, dry_run))
        }
        Cmd::Admin {
            command: AdminCmd::Status { storage, json },
        } => {
            let (storage, _) = storage.resolve()?;
            admin::status(&storage, json)
        }
    }
}

async fn serve(cfg: NodeConfig) -> anyhow::Result<()> {
    let metrics = prometheus::install()?;
    let node = node::open(&cfg.storage)?;
    let (creds, generated) = credentials::load_or_create(&node.system_dirs)?;
    if generated {
        println!(
            "Generated root credentials (stored in {}):\n  access key: {}\n  secret key: {}",
            node.system_dirs[0].join(credentials::FILE_NAME).display(),
            creds.access_key,
            creds.secret_key
        );
    }
    let (meta, blobs) = (node.meta, node.blobs);
    for d in blobs.drives() {
        tracing::info!(set = d.set, slot = d.slot, path = %d.path, state = d.state, free_bytes = ?d.free_bytes, "drive");
    }
    let removed = scanner::collect_orphans(&meta, &blobs).await?;
    if removed > 0 {
        tracing::info!(
            removed,
            "removed shards left without metadata by an interrupted write"
        );
    }
    tokio::spawn(scanner::run(
        meta.clone(),
        blobs.clone(),
        cfg.scanner_interval,
    ));

    let web_identity = match cfg.oidc.clone() {
        Some(oidc) => Some(web_identity_verifier(oidc).await?),
        None => None,
    };
    let owner_id = hex::encode(sha2::Sha256::digest(creds.access_key.as_bytes()));
    let state = Arc::new(S3State {
        meta: Arc::new(meta.clone()),
        blobs: Arc::new(blobs.clone()),
        secrets: Arc::new(creds),
        config: S3Config {
            region: cfg.region.clone(),
            domain: cfg.domain.clone(),
            website_domain: cfg.website_domain.clone(),
            // Undocumented on purpose: lets tests watch temporary credentials expire.
            sts_min_duration: std::env::var("HAFIZ_STS_MIN_DURATION")
                .ok()
                .and_then(|v| v.parse().ok()),
        },
        owner: OwnerInfo {
            account_id: account_id(&owner_id),
            id: owner_id,
            display_name: "hafiz".into(),
        },
        iam_cache: Default::default(),
        audit: cfg
            .audit
            .clone()
            .map(hafiz_s3::audit::AuditLog::start)
            .transpose()
            .context("cannot open the audit log directory")?,
        web_identity,
    });
    let listener = tokio::net::TcpListener::bind(cfg.address)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.address))?;
    tracing::info!(address = %listener.local_addr()?, layout = %blobs.layout_summary(), region = %cfg.region, "hafiz S3 listening");

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        axum::serve(
            listener,
            hafiz_s3::app(state)
                .route(
                    "/metrics",
                    axum::routing::get({
                        let meta = meta.clone();
                        move || {
                            prometheus::record_meta(&meta);
                            std::future::ready(metrics.render())
                        }
                    }),
                )
                // The peer address is `aws:SourceIp` in policy conditions.
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
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

/// A JWKS file must be readable at startup (a typo should stop the server); a URL
/// may be down for now and is fetched again when a token arrives.
async fn web_identity_verifier(
    oidc: hafiz_s3::oidc::OidcConfig,
) -> anyhow::Result<hafiz_s3::oidc::WebIdentityVerifier> {
    let issuer = oidc.issuer.clone();
    let source = oidc.jwks.clone();
    let verifier = hafiz_s3::oidc::WebIdentityVerifier::new(oidc)?;
    match (verifier.load_keys().await, &source) {
        (Ok(keys), _) => {
            tracing::info!(%issuer, ?source, keys, "OIDC web identities enabled");
        }
        (Err(e), hafiz_s3::oidc::JwksSource::File(_)) => {
            return Err(e).context("cannot load the OIDC provider's keys (--oidc-jwks)");
        }
        (Err(e), hafiz_s3::oidc::JwksSource::Url(_)) => {
            tracing::warn!(%issuer, error = %e, "OIDC web identities enabled, but the provider's keys cannot be fetched yet");
        }
    }
    Ok(verifier)
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
