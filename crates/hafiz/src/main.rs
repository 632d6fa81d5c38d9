//! The `hafiz` binary: command line, configuration, and the wiring of the S3 gateway
//! to the metadata store and the data store.

mod admin;
mod admin_cli;
mod config;
mod control;
mod credentials;
mod kms;
mod listeners;
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
/// How long queued audit records may take to reach their sinks at exit.
const AUDIT_DRAIN: Duration = Duration::from_secs(5);

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
    /// Administration: of a running server through its admin API (after `admin alias
    /// set`), or of a stopped node's drives (`status`, `heal --data`).
    Admin {
        /// Print the API's JSON instead of a table
        #[arg(long, global = true)]
        json: bool,
        /// PEM CA bundle to verify an https:// admin endpoint's certificate
        /// against, instead of the system's roots
        #[arg(long, global = true, env = "HAFIZ_CA_BUNDLE")]
        ca_bundle: Option<PathBuf>,
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
    /// Verify every shard and rebuild missing or rotten ones: on a running server with
    /// ALIAS, else on the drives of a stopped node (--data ...).
    Heal {
        /// Admin API alias; without it the heal runs here on the drives
        alias: Option<String>,
        #[command(flatten)]
        storage: StorageArgs,
        /// Only the objects of this bucket.
        #[arg(long)]
        bucket: Option<String>,
        /// Report what is damaged without writing anything.
        #[arg(long)]
        dry_run: bool,
        /// Show the state of the server's current or last heal instead of starting one
        #[arg(long, requires = "alias", conflicts_with_all = ["bucket", "dry_run"])]
        status: bool,
    },
    /// Drive status of a node, read from its drives: online, offline, healing, free space.
    Status {
        #[command(flatten)]
        storage: StorageArgs,
    },
    #[command(flatten)]
    Api(admin_cli::ApiCmd),
}

/// Where a node's data lives.
#[derive(clap::Args)]
struct StorageArgs {
    /// TOML config file (keys: address, admin_address, data, region, domain, website_domain, parity, meta_dir, scanner_interval, lifecycle_interval, node_id, rpc_address, peers, tls_cert, tls_key, tls_ca, allow_ssec_over_http, [[tier]] tables: docs/tiering.md, [[notify]] tables: docs/notifications.md, and [[replication_target]] tables: docs/replication.md).
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
    /// Admin API listener (JSON REST, SigV4 service `hafiz-admin`) [default: 127.0.0.1:9001]
    #[arg(long, env = "HAFIZ_ADMIN_ADDRESS")]
    admin_address: Option<SocketAddr>,
    /// Web console listener, or `off` [default: 127.0.0.1:9002]
    #[arg(long, env = "HAFIZ_CONSOLE_ADDRESS")]
    console_address: Option<String>,
    /// The console's public URL (its OIDC redirect URI is URL/sso/callback)
    /// [default: from the request's Host]
    #[arg(long, env = "HAFIZ_CONSOLE_URL")]
    console_url: Option<String>,
    /// OIDC client id of the console: single sign-on against --oidc-issuer (the
    /// client secret, if the provider wants one, from HAFIZ_CONSOLE_OIDC_CLIENT_SECRET)
    #[arg(long, env = "HAFIZ_CONSOLE_OIDC_CLIENT_ID", requires = "oidc_issuer")]
    console_oidc_client_id: Option<String>,
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
    /// This node's id in the cluster (>= 1) [default: 1]
    #[arg(long, env = "HAFIZ_NODE_ID")]
    node_id: Option<u64>,
    /// Node-to-node listener (Raft, forwarded requests) [default: 127.0.0.1:9003;
    /// not opened by a node with no --peer unless given]
    #[arg(long, env = "HAFIZ_RPC_ADDRESS")]
    rpc_address: Option<SocketAddr>,
    /// A node of the cluster, ID=HOST:PORT (its rpc address); repeat for every node,
    /// this one included. The shared secret comes from HAFIZ_CLUSTER_SECRET
    #[arg(long = "peer", env = "HAFIZ_PEER", value_delimiter = ',')]
    peers: Vec<String>,
    /// Seconds between full verification passes of the background scanner [default: 86400]
    #[arg(long, env = "HAFIZ_SCANNER_INTERVAL")]
    scanner_interval: Option<u64>,
    /// How often lifecycle rules are applied: `every <N><s|m|h|d>` or a cron
    /// expression [default: every 1h]
    #[arg(long, env = "HAFIZ_LIFECYCLE_INTERVAL")]
    lifecycle_interval: Option<String>,
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
    /// Also POST audit records, in batches as JSON arrays, to this http:// URL
    /// (retried with backoff; independent of --audit-dir)
    #[arg(long, env = "HAFIZ_AUDIT_WEBHOOK")]
    audit_webhook: Option<String>,
    /// Sent to the audit webhook as `Authorization: Bearer TOKEN`
    #[arg(long, env = "HAFIZ_AUDIT_WEBHOOK_TOKEN", hide_env_values = true)]
    audit_webhook_token: Option<String>,
    /// User-metadata names whose values audit records show as "***" (comma list,
    /// e.g. email,ssn; any case)
    #[arg(long, env = "HAFIZ_AUDIT_MASK_METADATA", value_delimiter = ',')]
    audit_mask_metadata: Vec<String>,
    /// Object-key globs (`*`, `?`) that audit records show as
    /// `masked:<sha256 prefix>` (repeatable or comma list, e.g. 'customers/*/pii/*')
    #[arg(long, env = "HAFIZ_AUDIT_MASK_KEY", value_delimiter = ',')]
    audit_mask_key: Vec<String>,
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
    /// PEM certificate of the SAML identity provider: STS AssumeRoleWithSAML (and the
    /// console's SAML sign-in) accept Responses it signed
    #[arg(long, env = "HAFIZ_SAML_IDP_CERT")]
    saml_idp_cert: Option<PathBuf>,
    /// The SAML IdP's entity id, when the Issuer must be checked
    #[arg(long, env = "HAFIZ_SAML_IDP_ISSUER", requires = "saml_idp_cert")]
    saml_idp_issuer: Option<String>,
    /// This server's SAML entity id (the Audience assertions must name)
    /// [default: CONSOLE_URL/sso/saml/metadata with --console-url, else urn:hafiz]
    #[arg(long, env = "HAFIZ_SAML_AUDIENCE", requires = "saml_idp_cert")]
    saml_audience: Option<String>,
    /// The SAML attribute naming the session's managed policies
    #[arg(long, env = "HAFIZ_SAML_POLICY_ATTRIBUTE", default_value = "policy")]
    saml_policy_attribute: String,
    /// The IdP's single sign-on URL (HTTP-POST binding): the console's SAML sign-in
    #[arg(long, env = "HAFIZ_CONSOLE_SAML_IDP_URL", requires_all = ["saml_idp_cert", "console_url"])]
    console_saml_idp_url: Option<String>,
    /// The KMS master key (base64 or hex of 32 bytes; older keys on the lines after
    /// the first). The key itself may come from HAFIZ_KMS_MASTER_KEY instead
    /// [default: generated in the first system directory]
    #[arg(long, env = "HAFIZ_KMS_MASTER_KEY_FILE")]
    kms_master_key_file: Option<PathBuf>,
    /// KMIP server (HOST:PORT) holding the KMS master key: an AES-256 key fetched
    /// at start and kept in memory only (docs/encryption.md)
    #[arg(long, env = "HAFIZ_KMS_KMIP_ENDPOINT", requires_all = ["kms_kmip_key_id", "kms_kmip_cert", "kms_kmip_key", "kms_kmip_ca"])]
    kms_kmip_endpoint: Option<String>,
    /// Unique identifier of the master key on the KMIP server
    #[arg(long, env = "HAFIZ_KMS_KMIP_KEY_ID", requires = "kms_kmip_endpoint")]
    kms_kmip_key_id: Option<String>,
    /// Older master keys on the KMIP server (comma-separated ids): key versions they
    /// sealed are re-sealed with the current one on start
    #[arg(
        long,
        env = "HAFIZ_KMS_KMIP_PREVIOUS_KEY_IDS",
        value_delimiter = ',',
        requires = "kms_kmip_endpoint"
    )]
    kms_kmip_previous_key_ids: Vec<String>,
    /// PEM client certificate Hafiz presents to the KMIP server
    #[arg(long, env = "HAFIZ_KMS_KMIP_CERT", requires = "kms_kmip_endpoint")]
    kms_kmip_cert: Option<PathBuf>,
    /// PEM private key of --kms-kmip-cert
    #[arg(long, env = "HAFIZ_KMS_KMIP_KEY", requires = "kms_kmip_endpoint")]
    kms_kmip_key: Option<PathBuf>,
    /// PEM CA bundle the KMIP server's certificate is verified against
    #[arg(long, env = "HAFIZ_KMS_KMIP_CA", requires = "kms_kmip_endpoint")]
    kms_kmip_ca: Option<PathBuf>,
    /// PEM certificate chain (the server's first): TLS on the S3, admin and rpc
    /// listeners, with --tls-key. Reloaded on SIGHUP and when the files change
    #[arg(long, env = "HAFIZ_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert (PKCS#8, RSA or SEC1)
    #[arg(long, env = "HAFIZ_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// PEM CA bundle the other nodes' certificates are verified against
    /// [default: the system's roots]
    #[arg(long, env = "HAFIZ_TLS_CA")]
    tls_ca: Option<PathBuf>,
    /// Accept SSE-C keys over plain HTTP on a non-loopback listener (they travel
    /// in the clear: only behind a TLS-terminating proxy)
    #[arg(long, env = "HAFIZ_ALLOW_SSEC_OVER_HTTP", value_parser = clap::builder::BoolishValueParser::new())]
    allow_ssec_over_http: bool,
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
        let admin_address = match (self.admin_address, file.admin_address) {
            (Some(a), _) => a,
            (None, Some(a)) => a
                .parse()
                .with_context(|| format!("admin_address: {a:?} is not HOST:PORT"))?,
            (None, None) => "127.0.0.1:9001".parse()?,
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
        let tls = config::tls(
            (self.tls_cert, self.tls_key, self.tls_ca),
            (file.tls_cert, file.tls_key, file.tls_ca),
        )?;
        // SSE-C keys travel in headers: over plain HTTP only when that stays on
        // this machine or the operator says a proxy terminates TLS in front.
        let allow_ssec_over_http = tls.is_some()
            || self.allow_ssec_over_http
            || file.allow_ssec_over_http.unwrap_or(false)
            || address.ip().is_loopback();
        let cluster = config::cluster(
            self.node_id.or(file.node_id),
            self.rpc_address,
            file.rpc_address.as_deref(),
            if self.peers.is_empty() {
                file.peers.clone().unwrap_or_default()
            } else {
                self.peers
            },
        )?;
        let console_oidc = match (self.console_oidc_client_id, &oidc) {
            (Some(client_id), Some(o)) => Some(hafiz_console::OidcClient {
                issuer: o.issuer.clone(),
                client_id,
                client_secret: std::env::var("HAFIZ_CONSOLE_OIDC_CLIENT_SECRET")
                    .ok()
                    .filter(|s| !s.is_empty()),
                public_url: self.console_url.clone(),
            }),
            _ => None,
        };
        let saml = match self.saml_idp_cert {
            Some(path) => {
                let cert = std::fs::read_to_string(&path)
                    .with_context(|| format!("--saml-idp-cert {}", path.display()))?;
                let base = self
                    .console_url
                    .as_deref()
                    .map(|u| u.trim_end_matches('/').to_string());
                let audience = self.saml_audience.clone().unwrap_or_else(|| match &base {
                    Some(b) => format!("{b}/sso/saml/metadata"),
                    None => "urn:hafiz".into(),
                });
                let mut recipients = vec![hafiz_s3::sts_saml::AWS_RECIPIENT.to_string()];
                if let Some(b) = &base {
                    recipients.push(format!("{b}/sso/saml/acs"));
                }
                Some(config::SamlSettings {
                    cert,
                    issuer: self.saml_idp_issuer.clone(),
                    audience,
                    recipients,
                    policy_attribute: self.saml_policy_attribute.clone(),
                    console_idp_url: self.console_saml_idp_url.clone(),
                })
            }
            None => None,
        };
        Ok(NodeConfig {
            saml,
            tiers: file.tier.clone().unwrap_or_default(),
            notify_targets: file.notify.clone().unwrap_or_default(),
            replication_targets: file.replication_target.clone().unwrap_or_default(),
            kms_kmip: match (
                self.kms_kmip_endpoint,
                self.kms_kmip_key_id,
                self.kms_kmip_cert,
                self.kms_kmip_key,
                self.kms_kmip_ca,
            ) {
                (Some(endpoint), Some(key_id), Some(client_cert), Some(client_key), Some(ca)) => {
                    Some(kms::KmipMaster {
                        settings: hafiz_crypto::kmip::KmipSettings {
                            endpoint,
                            client_cert,
                            client_key,
                            ca,
                            timeout: Duration::from_secs(10),
                        },
                        key_id,
                        previous_key_ids: self
                            .kms_kmip_previous_key_ids
                            .into_iter()
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect(),
                    })
                }
                _ => None,
            },
            kms_master_key_file: self.kms_master_key_file,
            cluster,
            oidc,
            console_oidc,
            address,
            tls,
            allow_ssec_over_http,
            admin_address,
            console_address: match self.console_address.as_deref().map(str::trim) {
                None => Some(config::ConsoleAddress::Default("127.0.0.1:9002".parse()?)),
                Some("off") | Some("") => None,
                Some(a) => Some(config::ConsoleAddress::Given(a.parse().with_context(
                    || format!("--console-address: {a:?} is neither HOST:PORT nor off"),
                )?)),
            },
            storage,
            region,
            domain: self.domain.or(file.domain).filter(|d| !d.is_empty()),
            website_domain: self
                .website_domain
                .or(file.website_domain)
                .filter(|d| !d.is_empty()),
            audit: Some(hafiz_s3::audit::AuditOptions {
                file: self.audit_dir.map(|dir| hafiz_s3::audit::AuditConfig {
                    dir,
                    max_file_bytes: self.audit_max_bytes.max(1),
                    retention: Duration::from_secs(self.audit_retention_days * 86_400),
                }),
                webhook: self.audit_webhook.filter(|u| !u.is_empty()).map(|url| {
                    hafiz_s3::audit::WebhookConfig::new(
                        url,
                        self.audit_webhook_token.filter(|t| !t.is_empty()),
                    )
                }),
                mask: hafiz_s3::audit::MaskConfig {
                    metadata: self.audit_mask_metadata,
                    keys: self.audit_mask_key,
                },
            })
            .filter(hafiz_s3::audit::AuditOptions::has_sink),
            lifecycle_interval: {
                let spec = self
                    .lifecycle_interval
                    .or(file.lifecycle_interval)
                    .unwrap_or_else(|| "every 1h".into());
                hafiz_jobs::ScheduleSpec::parse(&spec).context("--lifecycle-interval")?;
                spec
            },
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
    // Before any HTTP client exists (admin CLI, OTLP, JWKS, audit webhook).
    hafiz_tls::install_default_provider();
    let cli = Cli::parse();
    if let Cmd::Admin {
        ca_bundle: Some(path),
        ..
    } = &cli.command
    {
        admin_cli::trust_ca_bundle(path.clone());
    }
    match cli.command {
        Cmd::Config {
            command: ConfigCmd::Check { file },
        } => {
            FileConfig::load(&file)?;
            println!("{}: ok", file.display());
            Ok(())
        }
        Cmd::Server(args) => {
            let telemetry = telemetry::init(args.log_format, args.otlp_endpoint.as_deref())?;
            let cfg = args.resolve()?;
            let result = runtime()?.block_on(serve(cfg));
            drop(telemetry);
            result
        }
        Cmd::Admin {
            json,
            ca_bundle: _,
            command:
                AdminCmd::Heal {
                    alias: Some(alias),
                    bucket,
                    dry_run,
                    status,
                    storage: _,
                },
        } => api_edge(admin_cli::heal(&alias, bucket, dry_run, status, json)),
        Cmd::Admin {
            json: _,
            ca_bundle: _,
            command:
                AdminCmd::Heal {
                    alias: None,
                    storage,
                    bucket,
                    dry_run,
                    status: _,
                },
        } => {
            let _telemetry = telemetry::init(LogFormat::Text, None)?;
            let (storage, _) = storage.resolve()?;
            runtime()?.block_on(admin::heal(&storage, bucket, dry_run))
        }
        Cmd::Admin {
            json,
            ca_bundle: _,
            command: AdminCmd::Status { storage },
        } => {
            let (storage, _) = storage.resolve()?;
            admin::status(&storage, json)
        }
        Cmd::Admin {
            json,
            ca_bundle: _,
            command: AdminCmd::Api(cmd),
        } => api_edge(admin_cli::run(cmd, json)),
    }
}

/// The admin client's failures are printed as `error: <code>: <message>` (the
/// contract scripts rely on) with exit code 1, rather than anyhow's `Error: ` debug
/// form.
fn api_edge(result: anyhow::Result<()>) -> anyhow::Result<()> {
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
    Ok(())
}

async fn serve(cfg: NodeConfig) -> anyhow::Result<()> {
    let metrics = prometheus::install()?;
    // Before the cluster starts: its rpc listener serves the same certificate.
    let tls = cfg.tls.as_ref().map(listeners::load).transpose()?;
    let node = node::open(&cfg.storage)?;
    let (creds, generated) = credentials::load_or_create(&node.system_dirs)?;
    let (meta, blobs) = (node.meta, node.blobs);
    for d in blobs.drives() {
        tracing::info!(set = d.set, slot = d.slot, path = %d.path, state = d.state, free_bytes = ?d.free_bytes, "drive");
    }
    // Listed before any request is served: a blob on this list that no metadata
    // references is garbage of an interrupted write, never one in flight.
    let on_disk = scanner::blobs_before_serving(&meta, &blobs).await?;
    let cluster = Arc::new(
        hafiz_cluster::ClusterNode::start(
            hafiz_cluster::ClusterConfig {
                node_id: cfg.cluster.node_id,
                rpc_listen: cfg.cluster.rpc_listen,
                peers: cfg.cluster.peers.clone(),
                secret: cfg.cluster.secret.clone(),
                snapshot_dir: node.system_dirs[0].join("raft-snapshots"),
                tls: tls.as_ref().map(|t| t.rpc.clone()),
            },
            meta.clone(),
            blobs.clone(),
        )
        .await
        .context("cannot start the cluster node")?,
    );
    let replicated = cluster.metadata();
    let me = cfg.cluster.node_id;
    let proposed = creds.secret_key.clone();
    let creds = if cfg.cluster.peers.len() > 1 {
        credentials::cluster_wide(&replicated, creds, &node.system_dirs).await?
    } else {
        creds
    };
    if generated && creds.secret_key == proposed {
        println!(
            "Generated root credentials (stored in {}):\n  access key: {}\n  secret key: {}",
            node.system_dirs[0].join(credentials::FILE_NAME).display(),
            creds.access_key,
            creds.secret_key
        );
    }
    cluster.spawn_shard_repair(Duration::from_secs(60));
    // What the gateway stores objects in: across the nodes, or this node's drives.
    let data: Arc<dyn hafiz_storage::BlobStore> = match cluster.blobs() {
        Some(b) => Arc::new(b),
        None => Arc::new(blobs.clone()),
    };
    tokio::spawn({
        let (replicated, blobs) = (replicated.clone(), blobs.clone());
        async move {
            // The store may be behind this node's own log (a crash lost its unsynced
            // writes): entries still to apply reference blobs on the list.
            while !replicated.caught_up(Duration::from_secs(30)).await {}
            match scanner::collect_orphans(&replicated, &blobs, me, on_disk).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(
                    removed,
                    "removed shards left without metadata by an interrupted write"
                ),
                Err(e) => tracing::warn!(error = %e, "orphan collection skipped"),
            }
        }
    });
    tokio::spawn(scanner::run(
        meta.clone(),
        blobs.clone(),
        me,
        cfg.scanner_interval,
    ));

    let audit = cfg
        .audit
        .clone()
        .map(hafiz_s3::audit::AuditLog::start)
        .transpose()
        .context("cannot start the audit log")?;
    let web_identity = match cfg.oidc.clone() {
        Some(oidc) => Some(web_identity_verifier(oidc).await?),
        None => None,
    };
    // Background jobs: on the replicated metadata, sealed with a key derived from the
    // cluster's root secret (the same on every node).
    let jobs = hafiz_jobs::Engine::new(
        Arc::new(replicated.clone()),
        hafiz_jobs::EngineConfig {
            node: format!("node{me}"),
            ..Default::default()
        },
        hafiz_jobs::Sealer::from_secret(creds.secret_key.as_bytes()),
        cluster.leader_probe(),
    );
    let (jobs_stop, jobs_stop_rx) = tokio::sync::watch::channel(false);
    // Tiers: cluster settings; local ones only where one node serves every read.
    let tiers = hafiz_tier::Tiers::new(
        Arc::new(replicated.clone()),
        creds.secret_key.as_bytes(),
        cfg.cluster.peers.len() <= 1,
    );
    let tiering =
        hafiz_tier::Tiering::new(Arc::new(replicated.clone()), data.clone(), tiers.clone());
    tiering.install(&jobs);
    // Notification targets (cluster settings) and the deliverer of the event queues,
    // which runs where the metadata leader is.
    let targets =
        hafiz_targets::Targets::new(Arc::new(replicated.clone()), creds.secret_key.as_bytes());
    let dispatcher = hafiz_targets::Dispatcher::new(
        Arc::new(replicated.clone()),
        targets.clone(),
        cluster.leader_probe(),
    );
    dispatcher.install(&jobs);
    let master = kms::master_keys(
        &node.system_dirs,
        cfg.kms_kmip.as_ref(),
        cfg.kms_master_key_file.as_deref(),
        cfg.cluster
            .secret
            .as_deref()
            .filter(|_| cfg.cluster.peers.len() > 1),
    )
    .await?;
    let key_service = Arc::new(hafiz_crypto::KeyService::new(
        Arc::new(replicated.clone()),
        master.current,
        master.previous,
        master.files,
        master.source,
    ));
    tokio::spawn({
        let kms = key_service.clone();
        async move {
            // Metadata writes: retried until the cluster takes them.
            loop {
                match kms.ensure_builtin().await {
                    Ok(()) => break,
                    Err(e) => tracing::debug!(error = %e, "built-in KMS keys not made yet"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            match kms.reseal().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    resealed = n,
                    "KMS keys re-sealed under the current master key"
                ),
                Err(e) => tracing::warn!(error = %e, "KMS keys not re-sealed"),
            }
        }
    });
    // Replication targets (cluster settings) and the replicator of the replication
    // queues, which runs where the metadata leader is.
    let replication_targets =
        hafiz_replication::Targets::new(Arc::new(replicated.clone()), creds.secret_key.as_bytes());
    let replicator = hafiz_replication::Replicator::new(
        Arc::new(replicated.clone()),
        replication_targets.clone(),
        hafiz_tier::DataSources {
            blobs: data.clone(),
            tiers: tiers.clone(),
        },
        key_service.clone(),
        cluster.leader_probe(),
    );
    replicator.install(&jobs);
    let replication = hafiz_replication::Replication::new(replication_targets, jobs.clone());
    let owner_id = hex::encode(sha2::Sha256::digest(creds.access_key.as_bytes()));
    let state = Arc::new(S3State {
        meta: Arc::new(replicated.clone()),
        blobs: data,
        secrets: Arc::new(creds),
        config: S3Config {
            region: cfg.region.clone(),
            domain: cfg.domain.clone(),
            website_domain: cfg.website_domain.clone(),
            // Undocumented on purpose: lets tests watch temporary credentials expire.
            sts_min_duration: std::env::var("HAFIZ_STS_MIN_DURATION")
                .ok()
                .and_then(|v| v.parse().ok()),
            secure_transport: tls.is_some(),
            allow_ssec_over_http: cfg.allow_ssec_over_http,
        },
        owner: OwnerInfo {
            account_id: account_id(&owner_id),
            id: owner_id,
            display_name: "hafiz".into(),
        },
        iam_cache: Default::default(),
        limiter: Default::default(),
        audit: audit.clone(),
        web_identity,
        saml: cfg.saml.as_ref().map(|s| {
            hafiz_s3::sts_saml::SamlConfig::new(
                s.cert.clone(),
                s.issuer.clone(),
                s.audience.clone(),
                s.recipients.clone(),
                s.policy_attribute.clone(),
            )
        }),
        ready_checks: vec![{
            let jobs = jobs.clone();
            Arc::new(move || jobs.healthy())
        }],
        tiering: tiering.clone(),
        targets: targets.clone(),
        replication,
        kms: key_service,
    });
    add_from_config(
        "notification target",
        cfg.notify_targets.clone(),
        |s| s.id.clone(),
        {
            let targets = targets.clone();
            // Not connected to first: a broker may start after Hafiz.
            move |s| {
                let targets = targets.clone();
                async move { targets.add(s, true, false).await.map(|_| ()) }
            }
        },
        |e| matches!(e, hafiz_targets::TargetError::Invalid(_)),
    );
    add_from_config(
        "replication target",
        cfg.replication_targets.clone(),
        |s| s.id.clone(),
        {
            let targets = state.replication.targets.clone();
            move |s| {
                let targets = targets.clone();
                async move { targets.add(s, true, false).await.map(|_| ()) }
            }
        },
        |e| matches!(e, hafiz_replication::ReplicationError::Invalid(_)),
    );
    tokio::spawn(dispatcher.run(jobs_stop_rx.clone()));
    tokio::spawn(replicator.run(jobs_stop_rx.clone()));
    add_from_config(
        "tier",
        cfg.tiers.clone(),
        |s| s.name.clone(),
        {
            // Retried also until a remote tier answers.
            let tiers = tiers.clone();
            move |s| {
                let tiers = tiers.clone();
                async move { tiers.add(s, true).await.map(|_| ()) }
            }
        },
        |e| matches!(e, hafiz_tier::TierError::Invalid(_)),
    );
    tokio::spawn(jobs.clone().run(jobs_stop_rx));
    tokio::spawn({
        let scanner = hafiz_lifecycle::Scanner::new(
            Arc::new(replicated.clone()),
            state.blobs.clone(),
            Some(tiering.clone()),
        );
        let (jobs, interval) = (jobs.clone(), cfg.lifecycle_interval.clone());
        async move {
            // The schedule is metadata: retried until the cluster takes writes.
            while let Err(e) = scanner.install(&jobs, &interval).await {
                tracing::debug!(error = %e, "lifecycle schedule not installed yet");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    });
    let listener = tokio::net::TcpListener::bind(cfg.address)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.address))?;
    tracing::info!(address = %listener.local_addr()?, layout = %blobs.layout_summary(), region = %cfg.region, tls = tls.is_some(), "hafiz S3 listening");
    let admin_listener = tokio::net::TcpListener::bind(cfg.admin_address)
        .await
        .with_context(|| format!("cannot listen on {} (admin API)", cfg.admin_address))?;
    let admin_state = Arc::new(hafiz_admin::AdminState {
        s3: state.clone(),
        node: Arc::new(control::NodeControl::new(
            meta.clone(),
            blobs.clone(),
            cluster.clone(),
            listener.local_addr()?.to_string(),
            cfg.audit
                .as_ref()
                .and_then(|a| a.file.as_ref())
                .map(|f| f.dir.clone()),
        )),
        s3_address: listener.local_addr()?.to_string(),
        admin_address: admin_listener.local_addr()?.to_string(),
        started: std::time::Instant::now(),
    });
    tracing::info!(address = %admin_listener.local_addr()?, tls = tls.is_some(), "hafiz admin API listening");
    let server_tls = tls.as_ref().map(|t| &t.server);
    let (admin_stop_tx, admin_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let admin_app = hafiz_admin::app(admin_state);
    let admin_server =
        listeners::spawn(admin_listener, server_tls, admin_app.clone(), admin_stop_rx);

    let render_metrics = {
        let meta = meta.clone();
        move || {
            prometheus::record_meta(&meta);
            metrics.render()
        }
    };
    let s3_app = hafiz_s3::app(state);
    let s3_address = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = listeners::spawn(
        listener,
        server_tls,
        // The peer address is `aws:SourceIp` in policy conditions.
        s3_app.clone().route(
            "/metrics",
            axum::routing::get({
                let render = render_metrics.clone();
                move || std::future::ready(render())
            }),
        ),
        stop_rx,
    );
    // The console calls the S3 and admin routers in process, signed as its user.
    let console_listener = match cfg.console_address {
        Some(config::ConsoleAddress::Given(address)) => Some(
            tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address} (console)"))?,
        ),
        // The default port may be another server's on the same machine (several
        // nodes, tests): the node serves without a console rather than not at all.
        Some(config::ConsoleAddress::Default(address)) => {
            match tokio::net::TcpListener::bind(address).await {
                Ok(l) => Some(l),
                Err(e) => {
                    tracing::warn!(%address, error = %e, "console not started: its default address is taken (set --console-address)");
                    None
                }
            }
        }
        None => None,
    };
    let console_server = match console_listener {
        Some(console_listener) => {
            tracing::info!(address = %console_listener.local_addr()?, tls = tls.is_some(), "hafiz console listening");
            let backend = hafiz_console::Backend::new(
                s3_app,
                admin_app,
                cfg.region.clone(),
                s3_address.to_string(),
                cfg.admin_address.to_string(),
            );
            let app = hafiz_console::app(
                backend,
                hafiz_console::ConsoleOptions {
                    tls: tls.is_some(),
                    oidc: cfg.console_oidc.clone(),
                    saml: cfg.saml.as_ref().and_then(|sm| {
                        let idp_url = sm.console_idp_url.clone()?;
                        let acs_url = sm
                            .recipients
                            .iter()
                            .find(|r| r.ends_with("/sso/saml/acs"))?
                            .clone();
                        Some(hafiz_console::SamlSp {
                            idp_url,
                            idp_cert_pem: sm.cert.clone(),
                            idp_issuer: sm.issuer.clone(),
                            entity_id: sm.audience.clone(),
                            acs_url,
                        })
                    }),
                    ..Default::default()
                },
                Some(std::sync::Arc::new(render_metrics)),
            )
            .context("console")?;
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            Some((listeners::spawn(console_listener, server_tls, app, rx), tx))
        }
        None => None,
    };
    let mut server = server;
    tokio::select! {
        r = &mut server => {
            r.context("server task failed")?.context("server failed")?;
        }
        _ = shutdown_signal() => {
            // Leadership first, so the cluster keeps taking writes while this node
            // drains; its in-flight requests are forwarded to the new leader.
            if let Some(took) = cluster.step_down(Duration::from_secs(10)).await {
                tracing::info!(took = ?took, "stepped down as metadata leader");
            }
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stop_tx.send(());
            let _ = admin_stop_tx.send(());
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await.is_err() {
                tracing::warn!("in-flight requests did not finish in time; exiting");
            }
        }
    }
    admin_server.abort();
    if let Some((console, stop)) = console_server {
        let _ = stop.send(());
        console.abort();
    }
    let _ = jobs_stop.send(true);
    cluster.shutdown().await;
    if let Some(audit) = &audit
        && !audit.drain(AUDIT_DRAIN).await
    {
        tracing::warn!("audit records still queued at exit were not delivered");
    }
    meta.flush().context("cannot flush the metadata store")?;
    tracing::info!("stopped");
    Ok(())
}

/// A JWKS file must be readable at startup (a typo should stop the server); a URL
/// may be down for now and is fetched again when a token arrives.
async fn web_identity_verifier(
    oidc: hafiz_oidc::OidcConfig,
) -> anyhow::Result<hafiz_oidc::WebIdentityVerifier> {
    let issuer = oidc.issuer.clone();
    let source = oidc.jwks.clone();
    if oidc.audience.is_none() {
        // A shared issuer (a realm, Google) signs tokens for many applications.
        tracing::warn!(%issuer, "no --oidc-audience: ID tokens issued to any client of this provider are accepted");
    }
    let verifier = hafiz_oidc::WebIdentityVerifier::new(oidc)?;
    match (verifier.load_keys().await, &source) {
        (Ok(keys), _) => {
            tracing::info!(%issuer, ?source, keys, "OIDC web identities enabled");
        }
        (Err(e), hafiz_oidc::JwksSource::File(_)) => {
            return Err(e).context("cannot load the OIDC provider's keys (--oidc-jwks)");
        }
        (Err(e), hafiz_oidc::JwksSource::Url(_)) => {
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

/// Add the items of one kind of config-file table (`[[tier]]`, `[[notify]]`,
/// `[[replication_target]]`) at start, in the background: each is retried until the
/// cluster takes writes; one refused as invalid is logged and skipped.
fn add_from_config<S, E, Fut>(
    what: &'static str,
    specs: Vec<S>,
    name: impl Fn(&S) -> String + Send + 'static,
    add: impl Fn(S) -> Fut + Send + 'static,
    invalid: impl Fn(&E) -> bool + Send + 'static,
) where
    S: Clone + Send + 'static,
    E: std::fmt::Display + Send,
    Fut: std::future::Future<Output = Result<(), E>> + Send,
{
    if specs.is_empty() {
        return;
    }
    tokio::spawn(async move {
        for spec in specs {
            let id = name(&spec);
            loop {
                match add(spec.clone()).await {
                    Ok(()) => break,
                    Err(e) if invalid(&e) => {
                        tracing::error!(item = %id, error = %e, "{what} in the config file refused");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(item = %id, error = %e, "{what} from the config file not added yet");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
            }
        }
    });
}
