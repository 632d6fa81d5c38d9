//! Node configuration: command-line flags over `HAFIZ_<FLAG>` environment variables
//! over an optional TOML file over built-in defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// `data = "/d"` or `data = ["/d1", "/d{2...4}"]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// What a config file may contain. Unknown keys are errors, so a typo is not silently
/// ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub address: Option<String>,
    pub admin_address: Option<String>,
    pub data: Option<OneOrMany>,
    pub region: Option<String>,
    pub domain: Option<String>,
    pub website_domain: Option<String>,
    pub parity: Option<usize>,
    pub meta_dir: Option<PathBuf>,
    pub scanner_interval: Option<u64>,
    pub lifecycle_interval: Option<String>,
    pub node_id: Option<u64>,
    pub rpc_address: Option<String>,
    /// `["1=host-a:9003", "2=host-b:9003", ...]`
    pub peers: Option<Vec<String>>,
    /// `[[tier]]` tables: tiers added (or updated) at start, as `hafiz admin tier
    /// add` would (see docs/tiering.md).
    pub tier: Option<Vec<hafiz_tier::TierSpec>>,
    /// `[[notify]]` tables: notification targets added (or updated) at start, as
    /// `hafiz admin notify add` would (see docs/notifications.md).
    pub notify: Option<Vec<hafiz_targets::TargetSpec>>,
    /// `[[replication_target]]` tables: replication targets added (or updated) at
    /// start, as `hafiz admin replicate add` would (see docs/replication.md).
    pub replication_target: Option<Vec<hafiz_replication::TargetSpec>>,
    /// PEM certificate chain and key: TLS on every listener (docs/tls.md).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// PEM CA bundle that peers' certificates are verified against.
    pub tls_ca: Option<PathBuf>,
    pub allow_ssec_over_http: Option<bool>,
}

impl FileConfig {
    pub fn load(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let cfg: FileConfig = toml::from_str(&text)
            .with_context(|| format!("invalid config file {}", path.display()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> anyhow::Result<()> {
        for t in self.tier.iter().flatten() {
            // The same checks `tier add` makes (the secret is sealed at start).
            t.clone()
                .validate(|_, plain| plain.to_vec())
                .map_err(|e| anyhow::anyhow!("[[tier]] {:?}: {e}", t.name))?;
        }
        for t in self.notify.iter().flatten() {
            t.clone()
                .validate(|_, _| String::new())
                .map_err(|e| anyhow::anyhow!("[[notify]] {:?}: {e}", t.id))?;
        }
        for t in self.replication_target.iter().flatten() {
            t.validate(|_, _| String::new())
                .map_err(|e| anyhow::anyhow!("[[replication_target]] {:?}: {e}", t.id))?;
        }
        if let Some(a) = &self.address {
            a.parse::<SocketAddr>()
                .with_context(|| format!("address: {a:?} is not HOST:PORT"))?;
        }
        if let Some(a) = &self.admin_address {
            a.parse::<SocketAddr>()
                .with_context(|| format!("admin_address: {a:?} is not HOST:PORT"))?;
        }
        if let Some(a) = &self.rpc_address {
            a.parse::<SocketAddr>()
                .with_context(|| format!("rpc_address: {a:?} is not HOST:PORT"))?;
        }
        for p in self.peers.iter().flatten() {
            p.parse::<hafiz_cluster::Peer>()?;
        }
        if self.node_id == Some(0) {
            bail!("node_id: must be 1 or more");
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            bail!("tls_cert and tls_key: give both or neither");
        }
        if let Some(r) = &self.region {
            validate_region(r)?;
        }
        if let Some(d) = &self.data {
            expand_drives(&d.clone().into_vec())?;
        }
        Ok(())
    }
}

pub fn validate_region(r: &str) -> anyhow::Result<()> {
    if r.is_empty() || !r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        bail!("region: {r:?} is not a valid region name");
    }
    Ok(())
}

/// Drive arguments with `{a...b}` ranges expanded; duplicates are refused.
pub fn expand_drives(args: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = Vec::new();
    for a in args {
        for p in hafiz_storage::layout::expand_ellipsis(a)? {
            let p = PathBuf::from(p);
            if out.contains(&p) {
                bail!("drive {} is given twice", p.display());
            }
            out.push(p);
        }
    }
    if out.is_empty() {
        bail!("no data directory given");
    }
    Ok(out)
}

/// Where the data lives: shared by `server` and the local `admin` commands.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub drives: Vec<PathBuf>,
    pub parity: Option<usize>,
    pub meta_dir: Option<PathBuf>,
}

/// The resolved settings a node runs with.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub address: SocketAddr,
    /// None: every listener speaks plain HTTP.
    pub tls: Option<TlsFiles>,
    /// SSE-C keys may come over plain HTTP (TLS, the flag, or a loopback listener).
    pub allow_ssec_over_http: bool,
    /// The admin API's listener.
    pub admin_address: SocketAddr,
    /// The web console's listener; None when off.
    pub console_address: Option<ConsoleAddress>,
    /// The SAML identity provider (STS AssumeRoleWithSAML, the console's SAML sign-in).
    pub saml: Option<SamlSettings>,
    /// The console's OIDC single sign-on, when configured.
    pub console_oidc: Option<hafiz_console::OidcClient>,
    pub storage: StorageConfig,
    pub region: String,
    pub domain: Option<String>,
    pub website_domain: Option<String>,
    pub scanner_interval: std::time::Duration,
    /// The lifecycle scan's schedule spec.
    pub lifecycle_interval: String,
    /// None when no audit sink is configured.
    pub audit: Option<hafiz_s3::audit::AuditOptions>,
    pub oidc: Option<hafiz_oidc::OidcConfig>,
    pub cluster: ClusterSettings,
    /// Tiers from the config file.
    pub tiers: Vec<hafiz_tier::TierSpec>,
    /// Notification targets from the config file.
    pub notify_targets: Vec<hafiz_targets::TargetSpec>,
    /// Replication targets from the config file.
    pub replication_targets: Vec<hafiz_replication::TargetSpec>,
    /// The KMS master key file (see `crate::kms`).
    pub kms_master_key_file: Option<std::path::PathBuf>,
    /// The KMS master key on a KMIP server (see `crate::kms`).
    pub kms_kmip: Option<crate::kms::KmipMaster>,
}

/// The SAML identity provider, as configured.
#[derive(Debug, Clone)]
pub struct SamlSettings {
    /// The IdP's signing certificate (PEM).
    pub cert: String,
    pub issuer: Option<String>,
    /// This server's entity id.
    pub audience: String,
    /// Where assertions may be addressed.
    pub recipients: Vec<String>,
    pub policy_attribute: String,
    /// The IdP's SSO URL, when the console offers SAML sign-in.
    pub console_idp_url: Option<String>,
}

/// Where the console listens: an address the operator gave must be free; the
/// default one may be taken (another server on this machine).
#[derive(Debug, Clone, Copy)]
pub enum ConsoleAddress {
    Given(SocketAddr),
    Default(SocketAddr),
}

/// The node's place in the cluster, as configured.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    pub node_id: u64,
    /// None: a node with no peers and no --rpc-address does not listen for RPC.
    pub rpc_listen: Option<SocketAddr>,
    pub peers: Vec<hafiz_cluster::Peer>,
    /// From HAFIZ_CLUSTER_SECRET only: a secret on the command line shows in `ps`.
    pub secret: Option<Vec<u8>>,
}

pub fn cluster(
    node_id: Option<u64>,
    rpc_flag: Option<SocketAddr>,
    rpc_file: Option<&str>,
    peers: Vec<String>,
) -> anyhow::Result<ClusterSettings> {
    let node_id = node_id.unwrap_or(1);
    if node_id == 0 {
        bail!("--node-id must be 1 or more");
    }
    let rpc = match (rpc_flag, rpc_file) {
        (Some(a), _) => Some(a),
        (None, Some(a)) => Some(
            a.parse()
                .with_context(|| format!("rpc_address: {a:?} is not HOST:PORT"))?,
        ),
        (None, None) => None,
    };
    let peers = peers
        .iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.parse::<hafiz_cluster::Peer>())
        .collect::<Result<Vec<_>, _>>()?;
    let rpc_listen = match rpc {
        Some(a) => Some(a),
        None if !peers.is_empty() => Some(hafiz_cluster::node::DEFAULT_RPC_ADDRESS.parse()?),
        None => None,
    };
    let secret = std::env::var("HAFIZ_CLUSTER_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
        .map(String::into_bytes);
    if peers.len() > 1 && secret.is_none() {
        bail!(
            "HAFIZ_CLUSTER_SECRET must be set (the same on every node) when --peer names other nodes"
        );
    }
    Ok(ClusterSettings {
        node_id,
        rpc_listen,
        peers,
        secret,
    })
}

/// The OIDC provider settings, checked.
pub fn oidc(
    issuer: String,
    jwks: &str,
    audience: Option<String>,
    policy_claim: String,
) -> anyhow::Result<hafiz_oidc::OidcConfig> {
    if issuer.is_empty() {
        bail!("--oidc-issuer is empty");
    }
    if policy_claim.is_empty() {
        bail!("--oidc-policy-claim is empty");
    }
    Ok(hafiz_oidc::OidcConfig {
        issuer,
        jwks: hafiz_oidc::JwksSource::parse(jwks),
        audience: audience.filter(|a| !a.is_empty()),
        policy_claim,
    })
}

/// Where a node's TLS certificate comes from.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Peers' certificates are verified against it (else the system's roots).
    pub ca: Option<PathBuf>,
}

/// Certificate, key and CA bundle paths, as given.
pub type TlsPaths = (Option<PathBuf>, Option<PathBuf>, Option<PathBuf>);

/// The TLS files, flags over the file's keys; a certificate goes with its key.
pub fn tls(flags: TlsPaths, file: TlsPaths) -> anyhow::Result<Option<TlsFiles>> {
    let (cert, key, ca) = flags;
    let pair = match (cert, key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => match (file.0, file.1) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => bail!("tls_cert and tls_key: give both or neither"),
        },
        // clap's `requires` catches this first; kept for callers without clap.
        _ => bail!("--tls-cert and --tls-key must be given together"),
    };
    let ca = ca.or(file.2);
    match pair {
        Some((cert, key)) => Ok(Some(TlsFiles { cert, key, ca })),
        None if ca.is_some() => bail!("--tls-ca needs --tls-cert and --tls-key"),
        None => Ok(None),
    }
}
