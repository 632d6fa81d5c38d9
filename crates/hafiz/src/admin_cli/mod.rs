//! `hafiz admin` commands that talk to a running server's admin API (docs/admin.md).
//! Each command is one API call; its answer is printed as a table, or as the API's
//! own JSON with `--json`.

mod alias;
mod args;
mod client;
mod size;
mod table;

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Map, Value, json};

pub use args::ApiCmd;
use args::{
    AccountCmd, AccountQuotaCmd, AliasCmd, AuditCmd, BucketCmd, BucketPolicyCmd, BucketQuotaCmd,
    ClusterAction, GroupCmd, JobFilter, JobsCmd, KeyCmd, KmsCmd, MemberCmd, NotifyAdd, NotifyCmd,
    PolicyCmd, QuotaArgs, RateLimitCmd, RateTarget, ReplicateAdd, ReplicateCmd, TierAdd, TierCmd,
    UserCmd, VersioningState,
};
pub use client::trust_ca_bundle;
use client::{AdminClient, api_path};

/// One command's connection and output mode.
struct Session {
    client: AdminClient,
    json: bool,
}

impl Session {
    fn open(alias: &str, json: bool) -> anyhow::Result<Session> {
        let alias = alias::resolve(alias)?;
        Ok(Session {
            client: AdminClient::new(&alias)?,
            json,
        })
    }

    /// A call whose answer is an entity or a list, shown by `view`.
    fn show(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        view: fn(&Value) -> String,
    ) -> anyhow::Result<()> {
        let answer = self.client.request(method, path, body.as_ref())?;
        let answer = answer.unwrap_or(Value::Null);
        if self.json {
            emit(&format!("{}\n", table::pretty(&answer)))
        } else {
            emit(&view(&answer))
        }
    }

    /// A call answered by 204: `--json` prints nothing (there is no JSON to print),
    /// the table mode says what was done.
    fn act(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        done: String,
    ) -> anyhow::Result<()> {
        let answer = self.client.request(method, path, body.as_ref())?;
        match (self.json, answer) {
            (true, Some(v)) => emit(&format!("{}\n", table::pretty(&v))),
            (true, None) => Ok(()),
            (false, _) => emit(&format!("{done}\n")),
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) is the reader's choice, not a failure.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to standard output")
        }
        _ => Ok(()),
    }
}

/// A JSON document from a file, or from standard input for `-`.
fn read_document(file: &Path) -> anyhow::Result<Value> {
    let text = if file == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    let doc: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", file.display()))?;
    if !doc.is_object() {
        bail!("{}: a policy document is a JSON object", file.display());
    }
    Ok(doc)
}

/// The `Quota` shape: both fields present, a limit not given being `null`.
fn quota_body(q: &QuotaArgs) -> Value {
    json!({"max_bytes": q.max_bytes, "max_objects": q.max_objects})
}

fn require_limits(q: &QuotaArgs) -> anyhow::Result<()> {
    if q.max_bytes.is_none() && q.max_objects.is_none() {
        bail!("give --max-bytes and/or --max-objects (use `quota clear` to remove the quota)");
    }
    Ok(())
}

/// `(scope, name)` of a rate limit's path.
fn rate_target(t: &RateTarget) -> (&'static str, &str) {
    match (&t.key, &t.bucket) {
        (Some(key), _) => ("keys", key),
        (None, Some(bucket)) => ("buckets", bucket),
        // clap requires exactly one of the two.
        (None, None) => unreachable!("--key or --bucket is required"),
    }
}

/// An object with only the fields that were given: the contract marks them optional,
/// and leaving one out keeps the server's default.
fn fields(pairs: &[(&str, Option<Value>)]) -> Value {
    let map: Map<String, Value> = pairs
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v)))
        .collect();
    Value::Object(map)
}

pub fn run(cmd: ApiCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        ApiCmd::Alias { command } => alias_cmd(command, json),
        ApiCmd::Info { alias } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["info"]),
            None,
            table::server_info,
        ),
        ApiCmd::Cluster {
            alias,
            action: None,
        } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["cluster"]),
            None,
            table::cluster,
        ),
        ApiCmd::Cluster {
            alias,
            action: Some(ClusterAction::Add { id, rpc_address }),
        } => Session::open(&alias, json)?.show(
            Method::POST,
            &api_path(&["cluster", "nodes"]),
            Some(json!({ "id": id, "rpc_address": rpc_address })),
            table::cluster,
        ),
        ApiCmd::Cluster {
            alias,
            action: Some(ClusterAction::Remove { id }),
        } => Session::open(&alias, json)?.show(
            Method::DELETE,
            &api_path(&["cluster", "nodes", &id.to_string()]),
            None,
            table::cluster,
        ),
        ApiCmd::User { command } => user_cmd(command, json),
        ApiCmd::Key { command } => key_cmd(command, json),
        ApiCmd::Group { command } => group_cmd(command, json),
        ApiCmd::Policy { command } => policy_cmd(command, json),
        ApiCmd::Bucket { command } => bucket_cmd(command, json),
        ApiCmd::Account { command } => account_cmd(command, json),
        ApiCmd::Ratelimit { command } => rate_limit_cmd(command, json),
        ApiCmd::Jobs { command } => jobs_cmd(command, json),
        ApiCmd::Audit { command } => audit_cmd(command),
        ApiCmd::Tier { command } => tier_cmd(command, json),
        ApiCmd::Notify { command } => notify_cmd(command, json),
        ApiCmd::Replicate { command } => replicate_cmd(command, json),
        ApiCmd::Kms { command } => kms_cmd(command, json),
    }
}

fn kms_cmd(cmd: KmsCmd, json: bool) -> anyhow::Result<()> {
    let key = |alias: &str, id: &str, action: Option<&str>| -> anyhow::Result<()> {
        let mut segments = vec!["kms", "keys", id];
        segments.extend(action);
        let method = if action.is_some() {
            Method::POST
        } else {
            Method::GET
        };
        Session::open(alias, json)?.show(method, &api_path(&segments), None, table::kms_key)
    };
    match cmd {
        KmsCmd::List { alias } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["kms", "keys"]),
            None,
            table::kms_keys,
        ),
        KmsCmd::Create {
            alias,
            id,
            description,
        } => Session::open(&alias, json)?.show(
            Method::POST,
            &api_path(&["kms", "keys"]),
            Some(fields(&[
                ("id", id.map(Value::from)),
                ("description", description.map(Value::from)),
            ])),
            table::kms_key,
        ),
        KmsCmd::Info { alias, id } => key(&alias, &id, None),
        KmsCmd::Enable { alias, id } => key(&alias, &id, Some("enable")),
        KmsCmd::Disable { alias, id } => key(&alias, &id, Some("disable")),
        KmsCmd::Rotate { alias, id } => key(&alias, &id, Some("rotate")),
        KmsCmd::RotateMaster { alias } => Session::open(&alias, json)?.show(
            Method::POST,
            &api_path(&["kms", "master", "rotate"]),
            None,
            |v| {
                format!(
                    "master key rotated: now {} ({} key versions re-sealed)\n",
                    v["master_key_id"].as_str().unwrap_or_default(),
                    v["resealed"]
                )
            },
        ),
        KmsCmd::Status { alias } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["kms", "status"]),
            None,
            table::kms_status,
        ),
    }
}

fn replicate_cmd(cmd: ReplicateCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        ReplicateCmd::Add(add) => {
            let ReplicateAdd {
                alias,
                id,
                endpoint,
                bucket,
                region,
                access_key,
                secret_key,
                timeout_ms,
                no_check,
            } = *add;
            let body = fields(&[
                ("id", Some(Value::from(id))),
                ("endpoint", Some(Value::from(endpoint))),
                ("bucket", Some(Value::from(bucket))),
                ("region", region.map(Value::from)),
                ("access_key", Some(Value::from(access_key))),
                ("secret_key", Some(Value::from(secret_key))),
                ("timeout_ms", timeout_ms.map(Value::from)),
            ]);
            let mut path = api_path(&["replication", "targets"]);
            if no_check {
                path.push_str("?check=false");
            }
            Session::open(&alias, json)?.show(
                Method::POST,
                &path,
                Some(body),
                table::replication_target,
            )
        }
        ReplicateCmd::List { alias } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["replication", "targets"]),
            None,
            table::replication_targets,
        ),
        ReplicateCmd::Info { alias, arn } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["replication", "targets", &arn]),
            None,
            table::replication_target,
        ),
        ReplicateCmd::Remove { alias, arn } => {
            Session::open(&alias, json)?.client.request(
                Method::DELETE,
                &api_path(&["replication", "targets", &arn]),
                None,
            )?;
            if json {
                emit("{}\n")
            } else {
                emit(&format!("replication target {arn} removed\n"))
            }
        }
        ReplicateCmd::Resync { alias, bucket, all } => {
            let body = fields(&[
                ("bucket", Some(Value::from(bucket))),
                ("all", Some(Value::from(all))),
            ]);
            Session::open(&alias, json)?.show(
                Method::POST,
                &api_path(&["replication", "resync"]),
                Some(body),
                |v| format!("resync job {}\n", v["job"].as_str().unwrap_or_default()),
            )
        }
    }
}

fn notify_cmd(cmd: NotifyCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        NotifyCmd::Add(add) => {
            let NotifyAdd {
                alias,
                id,
                kind,
                endpoint,
                destination,
                routing_key,
                format,
                username,
                password,
                hmac_secret,
                timeout_ms,
                max_attempts,
                routes,
                no_check,
            } = *add;
            let routes = routes
                .map(|r| serde_json::from_str::<Value>(&r))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--routes: {e}"))?;
            let body = fields(&[
                ("id", Some(Value::from(id))),
                ("kind", Some(Value::from(kind))),
                ("endpoint", endpoint.map(Value::from)),
                ("destination", destination.map(Value::from)),
                ("routing_key", routing_key.map(Value::from)),
                ("format", format.map(Value::from)),
                ("username", username.map(Value::from)),
                ("password", password.map(Value::from)),
                ("hmac_secret", hmac_secret.map(Value::from)),
                ("timeout_ms", timeout_ms.map(Value::from)),
                ("max_attempts", max_attempts.map(Value::from)),
                ("routes", routes),
            ]);
            let mut path = api_path(&["notify", "targets"]);
            if no_check {
                path.push_str("?check=false");
            }
            Session::open(&alias, json)?.show(Method::POST, &path, Some(body), table::notify_target)
        }
        NotifyCmd::List { alias } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["notify", "targets"]),
            None,
            table::notify_targets,
        ),
        NotifyCmd::Info { alias, arn } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["notify", "targets", &arn]),
            None,
            table::notify_target,
        ),
        NotifyCmd::Remove { alias, arn } => {
            Session::open(&alias, json)?.client.request(
                Method::DELETE,
                &api_path(&["notify", "targets", &arn]),
                None,
            )?;
            if json {
                emit("{}\n")
            } else {
                emit(&format!("notification target {arn} removed\n"))
            }
        }
    }
}

fn tier_cmd(cmd: TierCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        TierCmd::Add(add) => {
            let TierAdd {
                alias,
                name,
                kind,
                storage_class,
                archive,
                after_days,
                promote_reads,
                drives,
                parity,
                endpoint,
                bucket,
                prefix,
                region,
                access_key,
                secret_key,
            } = *add;
            let body = fields(&[
                ("name", Some(Value::from(name))),
                ("type", Some(Value::from(kind))),
                ("storage_class", Some(Value::from(storage_class))),
                ("archive", archive.map(Value::from)),
                ("after_days", after_days.map(Value::from)),
                ("promote_reads", promote_reads.map(Value::from)),
                ("drives", (!drives.is_empty()).then(|| Value::from(drives))),
                ("parity", parity.map(Value::from)),
                ("endpoint", endpoint.map(Value::from)),
                ("bucket", bucket.map(Value::from)),
                ("prefix", prefix.map(Value::from)),
                ("region", region.map(Value::from)),
                ("access_key", access_key.map(Value::from)),
                ("secret_key", secret_key.map(Value::from)),
            ]);
            Session::open(&alias, json)?.show(
                Method::POST,
                &api_path(&["tiers"]),
                Some(body),
                table::tier,
            )
        }
        TierCmd::List { alias } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["tiers"]),
            None,
            table::tiers,
        ),
        TierCmd::Info { alias, name } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["tiers", &name]),
            None,
            table::tier,
        ),
        TierCmd::Remove { alias, name } => {
            Session::open(&alias, json)?.client.request(
                Method::DELETE,
                &api_path(&["tiers", &name]),
                None,
            )?;
            if json {
                emit("{}\n")
            } else {
                emit(&format!("tier {name} removed\n"))
            }
        }
    }
}

/// `heal ALIAS`: starts a heal on the server, or with `status` reports the last one.
pub fn heal(
    alias: &str,
    bucket: Option<String>,
    dry_run: bool,
    status: bool,
    json: bool,
) -> anyhow::Result<()> {
    let s = Session::open(alias, json)?;
    let path = api_path(&["heal"]);
    if status {
        return s.show(Method::GET, &path, None, table::heal_status);
    }
    let body = fields(&[
        ("bucket", bucket.map(Value::from)),
        ("dry_run", dry_run.then_some(Value::Bool(true))),
    ]);
    s.show(Method::POST, &path, Some(body), table::heal_status)
}

fn alias_cmd(cmd: AliasCmd, json: bool) -> anyhow::Result<()> {
    let dir = alias::config_dir()?;
    let mut file = alias::AliasFile::load(&dir)?;
    let listing = |name: &str, a: &alias::Alias| {
        // The secret stays in the file: listings end up in terminals and logs.
        json!({"name": name, "url": a.url, "access_key": a.access_key, "region": a.region})
    };
    match cmd {
        AliasCmd::Set {
            name,
            url,
            access_key,
            secret_key,
            region,
        } => {
            alias::validate_name(&name)?;
            let entry = alias::Alias {
                url: alias::normalize_url(&url)?,
                access_key,
                secret_key,
                region,
            };
            let shown = listing(&name, &entry);
            file.aliases.insert(name.clone(), entry);
            file.save(&dir)?;
            if json {
                emit(&format!("{}\n", table::pretty(&shown)))
            } else {
                emit(&format!(
                    "alias {name} saved in {}\n",
                    alias::AliasFile::path_in(&dir).display()
                ))
            }
        }
        AliasCmd::List => {
            let all: Vec<Value> = file.aliases.iter().map(|(n, a)| listing(n, a)).collect();
            let all = Value::Array(all);
            if json {
                emit(&format!("{}\n", table::pretty(&all)))
            } else {
                emit(&table::aliases(&all))
            }
        }
        AliasCmd::Remove { name } => {
            if file.aliases.remove(&name).is_none() {
                return Err(alias::AliasError::NotFound(name).into());
            }
            file.save(&dir)?;
            if json {
                Ok(())
            } else {
                emit(&format!("alias {name} removed\n"))
            }
        }
    }
}

fn user_cmd(cmd: UserCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        UserCmd::Add {
            alias,
            name,
            account,
        } => {
            let body = fields(&[
                ("name", Some(Value::from(name))),
                ("account", account.map(Value::from)),
            ]);
            Session::open(&alias, json)?.show(
                Method::POST,
                &api_path(&["users"]),
                Some(body),
                table::users,
            )
        }
        UserCmd::List { alias } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["users"]),
            None,
            table::users,
        ),
        UserCmd::Info { alias, name } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["users", &name]),
            None,
            table::users,
        ),
        UserCmd::Remove { alias, name } => Session::open(&alias, json)?.act(
            Method::DELETE,
            &api_path(&["users", &name]),
            None,
            format!("user {name} removed"),
        ),
    }
}

fn key_cmd(cmd: KeyCmd, json: bool) -> anyhow::Result<()> {
    let set_status = |k: args::KeyRef, status: &str| {
        Session::open(&k.alias, json)?.show(
            Method::PUT,
            &api_path(&["users", &k.user, "keys", &k.key_id]),
            Some(json!({ "status": status })),
            table::keys,
        )
    };
    match cmd {
        KeyCmd::Add { alias, user } => {
            Session::open(&alias, json)?.show(
                Method::POST,
                &api_path(&["users", &user, "keys"]),
                None,
                table::new_key,
            )?;
            eprintln!("warning: the secret key is not shown again; store it now");
            Ok(())
        }
        KeyCmd::List { alias, user } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["users", &user, "keys"]),
            None,
            table::keys,
        ),
        KeyCmd::Enable(k) => set_status(k, "Active"),
        KeyCmd::Disable(k) => set_status(k, "Inactive"),
        KeyCmd::Remove(k) => Session::open(&k.alias, json)?.act(
            Method::DELETE,
            &api_path(&["users", &k.user, "keys", &k.key_id]),
            None,
            format!("access key {} removed", k.key_id),
        ),
    }
}

fn group_cmd(cmd: GroupCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        GroupCmd::Add { alias, name } => Session::open(&alias, json)?.show(
            Method::POST,
            &api_path(&["groups"]),
            Some(json!({ "name": name })),
            table::groups,
        ),
        GroupCmd::List { alias } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["groups"]),
            None,
            table::groups,
        ),
        GroupCmd::Info { alias, name } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["groups", &name]),
            None,
            table::groups,
        ),
        GroupCmd::Remove { alias, name } => Session::open(&alias, json)?.act(
            Method::DELETE,
            &api_path(&["groups", &name]),
            None,
            format!("group {name} removed"),
        ),
        GroupCmd::Member { command } => {
            let (m, method, verb) = match command {
                MemberCmd::Add(m) => (m, Method::PUT, "added to"),
                MemberCmd::Remove(m) => (m, Method::DELETE, "removed from"),
            };
            Session::open(&m.alias, json)?.act(
                method,
                &api_path(&["groups", &m.group, "members", &m.user]),
                None,
                format!("user {} {verb} group {}", m.user, m.group),
            )
        }
    }
}

fn policy_cmd(cmd: PolicyCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        PolicyCmd::Add { alias, name, file } => {
            let document = read_document(&file)?;
            Session::open(&alias, json)?.show(
                Method::POST,
                &api_path(&["policies"]),
                Some(json!({ "name": name, "document": document })),
                table::policy,
            )
        }
        PolicyCmd::List { alias } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["policies"]),
            None,
            table::policies,
        ),
        PolicyCmd::Info { alias, name } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["policies", &name]),
            None,
            table::policy,
        ),
        PolicyCmd::Remove { alias, name } => Session::open(&alias, json)?.act(
            Method::DELETE,
            &api_path(&["policies", &name]),
            None,
            format!("policy {name} removed"),
        ),
        PolicyCmd::Attach(a) => attachment(a, Method::PUT, "attached to", json),
        PolicyCmd::Detach(a) => attachment(a, Method::DELETE, "detached from", json),
    }
}

fn attachment(a: args::Attachment, method: Method, verb: &str, json: bool) -> anyhow::Result<()> {
    let (collection, kind, principal) = match (&a.target.user, &a.target.group) {
        (Some(user), _) => ("users", "user", user),
        (None, Some(group)) => ("groups", "group", group),
        (None, None) => unreachable!("clap requires --user or --group"),
    };
    Session::open(&a.alias, json)?.act(
        method,
        &api_path(&[collection, principal, "policies", &a.policy]),
        None,
        format!("policy {} {verb} {kind} {principal}", a.policy),
    )
}

fn bucket_cmd(cmd: BucketCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        BucketCmd::Add {
            alias,
            name,
            account,
            versioning,
            object_lock,
        } => {
            let body = fields(&[
                ("name", Some(Value::from(name))),
                ("account", account.map(Value::from)),
                ("versioning", versioning.then_some(Value::Bool(true))),
                ("object_lock", object_lock.then_some(Value::Bool(true))),
            ]);
            Session::open(&alias, json)?.show(
                Method::POST,
                &api_path(&["buckets"]),
                Some(body),
                table::buckets,
            )
        }
        BucketCmd::List { alias } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["buckets"]),
            None,
            table::buckets,
        ),
        BucketCmd::Info { alias, name } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["buckets", &name]),
            None,
            table::buckets,
        ),
        BucketCmd::Remove { alias, name } => Session::open(&alias, json)?.act(
            Method::DELETE,
            &api_path(&["buckets", &name]),
            None,
            format!("bucket {name} removed"),
        ),
        BucketCmd::Versioning { alias, name, state } => {
            let status = match state {
                VersioningState::Enable => "Enabled",
                VersioningState::Suspend => "Suspended",
            };
            Session::open(&alias, json)?.show(
                Method::PUT,
                &api_path(&["buckets", &name, "versioning"]),
                Some(json!({ "status": status })),
                table::buckets,
            )
        }
        BucketCmd::Quota { command } => bucket_quota_cmd(command, json),
        BucketCmd::Policy { command } => bucket_policy_cmd(command, json),
    }
}

fn bucket_quota_cmd(cmd: BucketQuotaCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        BucketQuotaCmd::Set {
            alias,
            name,
            limits,
        } => {
            require_limits(&limits)?;
            Session::open(&alias, json)?.show(
                Method::PUT,
                &api_path(&["buckets", &name, "quota"]),
                Some(quota_body(&limits)),
                table::quota,
            )
        }
        BucketQuotaCmd::Info { alias, name } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["buckets", &name, "quota"]),
            None,
            table::quota,
        ),
        BucketQuotaCmd::Clear { alias, name } => Session::open(&alias, json)?.act(
            Method::DELETE,
            &api_path(&["buckets", &name, "quota"]),
            None,
            format!("quota of bucket {name} cleared"),
        ),
    }
}

fn bucket_policy_cmd(cmd: BucketPolicyCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        BucketPolicyCmd::Set { alias, name, file } => {
            let document = read_document(&file)?;
            Session::open(&alias, json)?.act(
                Method::PUT,
                &api_path(&["buckets", &name, "policy"]),
                Some(document),
                format!("policy of bucket {name} set"),
            )
        }
        // The document is JSON in both modes: there is no table to make of it.
        BucketPolicyCmd::Get { alias, name } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["buckets", &name, "policy"]),
            None,
            |doc| format!("{}\n", table::pretty(doc)),
        ),
        BucketPolicyCmd::Remove { alias, name } => Session::open(&alias, json)?.act(
            Method::DELETE,
            &api_path(&["buckets", &name, "policy"]),
            None,
            format!("policy of bucket {name} removed"),
        ),
    }
}

fn account_cmd(cmd: AccountCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        AccountCmd::Add { alias, name, quota } => {
            let has_quota = quota.max_bytes.is_some() || quota.max_objects.is_some();
            let body = fields(&[
                ("name", Some(Value::from(name))),
                ("quota", has_quota.then(|| quota_body(&quota))),
            ]);
            Session::open(&alias, json)?.show(
                Method::POST,
                &api_path(&["accounts"]),
                Some(body),
                table::accounts,
            )
        }
        AccountCmd::List { alias } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["accounts"]),
            None,
            table::accounts,
        ),
        AccountCmd::Info { alias, name } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["accounts", &name]),
            None,
            table::accounts,
        ),
        AccountCmd::Remove { alias, name } => Session::open(&alias, json)?.act(
            Method::DELETE,
            &api_path(&["accounts", &name]),
            None,
            format!("account {name} removed"),
        ),
        AccountCmd::Quota {
            command:
                AccountQuotaCmd::Set {
                    alias,
                    name,
                    limits,
                },
        } => {
            require_limits(&limits)?;
            Session::open(&alias, json)?.show(
                Method::PUT,
                &api_path(&["accounts", &name, "quota"]),
                Some(quota_body(&limits)),
                table::quota,
            )
        }
        AccountCmd::Quota {
            command: AccountQuotaCmd::Clear { alias, name },
        } => Session::open(&alias, json)?.act(
            Method::DELETE,
            &api_path(&["accounts", &name, "quota"]),
            None,
            format!("quota of account {name} cleared"),
        ),
    }
}

fn rate_limit_cmd(cmd: RateLimitCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        RateLimitCmd::Set {
            alias,
            target,
            requests_per_second,
            bytes_per_second,
        } => {
            if requests_per_second.is_none() && bytes_per_second.is_none() {
                bail!("give --requests-per-second and/or --bytes-per-second");
            }
            // Zero is left to the server: with a burst of at least one it is a
            // meaningful (if drastic) limit.
            if requests_per_second.is_some_and(|r| !r.is_finite() || r < 0.0) {
                bail!("--requests-per-second must be a number >= 0");
            }
            let (scope, name) = rate_target(&target);
            let body = fields(&[
                ("requests_per_second", requests_per_second.map(Value::from)),
                ("bytes_per_second", bytes_per_second.map(Value::from)),
            ]);
            Session::open(&alias, json)?.show(
                Method::PUT,
                &api_path(&["rate-limits", scope, name]),
                Some(body),
                table::rate_limits,
            )
        }
        RateLimitCmd::List { alias } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["rate-limits"]),
            None,
            table::rate_limits,
        ),
        RateLimitCmd::Info { alias, target } => {
            let (scope, name) = rate_target(&target);
            Session::open(&alias, json)?.show(
                Method::GET,
                &api_path(&["rate-limits", scope, name]),
                None,
                table::rate_limits,
            )
        }
        RateLimitCmd::Remove { alias, target } => {
            let (scope, name) = rate_target(&target);
            Session::open(&alias, json)?.act(
                Method::DELETE,
                &api_path(&["rate-limits", scope, name]),
                None,
                format!("rate limit of {scope}/{name} removed"),
            )
        }
    }
}

/// The export is already JSON (a CloudTrail file), so `--json` changes nothing.
fn audit_cmd(cmd: AuditCmd) -> anyhow::Result<()> {
    let AuditCmd::Export {
        alias,
        from,
        to,
        output,
    } = cmd;
    let client = AdminClient::new(&alias::resolve(&alias)?)?;
    let Some(path) = output else {
        let mut out = std::io::stdout().lock();
        client.export_audit(&from, &to, &mut out)?;
        return Ok(());
    };
    let file = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    match client.export_audit(&from, &to, &mut out) {
        Ok(bytes) => {
            eprintln!(
                "{} written to {}",
                table::human_bytes(bytes),
                path.display()
            );
            Ok(())
        }
        Err(e) => {
            // A partial export looks like a complete one once its end is cut off.
            drop(out);
            let _ = std::fs::remove_file(&path);
            Err(e.into())
        }
    }
}

fn job_filter(f: &JobFilter) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    if let Some(s) = &f.state {
        q.push(("state", s.clone()));
    }
    if let Some(k) = &f.kind {
        q.push(("kind", k.clone()));
    }
    q
}

fn jobs_cmd(cmd: JobsCmd, json: bool) -> anyhow::Result<()> {
    let path = api_path(&["jobs"]);
    match cmd {
        JobsCmd::List { alias, filter, csv } => {
            let s = Session::open(&alias, json)?;
            let base = job_filter(&filter);
            // Every page: the CLI shows the whole queue (filtered).
            let mut after: Option<String> = None;
            let mut jobs = Vec::new();
            let mut counts;
            let mut first = true;
            loop {
                let mut q: Vec<(&str, String)> = base.clone();
                if let Some(a) = &after {
                    q.push(("after", a.clone()));
                }
                if csv {
                    q.push(("format", "csv".into()));
                    let refs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    let (text, next) = s.client.get_text(&path, &refs, "x-hafiz-next-after")?;
                    // The header row once, on the first page.
                    let body = if first {
                        text.as_str()
                    } else {
                        text.split_once('\n').map_or("", |(_, rest)| rest)
                    };
                    emit(body)?;
                    first = false;
                    match next {
                        Some(n) => after = Some(n),
                        None => return Ok(()),
                    }
                    continue;
                }
                let refs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let page = s
                    .client
                    .request_with(Method::GET, &path, &refs, None)?
                    .unwrap_or(Value::Null);
                if let Some(Value::Array(a)) = page.get("jobs") {
                    jobs.extend(a.iter().cloned());
                }
                counts = page.get("counts").cloned().unwrap_or(Value::Null);
                match page.get("next_after").and_then(Value::as_str) {
                    Some(n) => after = Some(n.to_string()),
                    None => break,
                }
            }
            let all = json!({"jobs": jobs, "counts": counts});
            if json {
                emit(&format!("{}\n", table::pretty(&all)))
            } else {
                emit(&table::jobs(&all))
            }
        }
        JobsCmd::Info { alias, id } => Session::open(&alias, json)?.show(
            Method::GET,
            &api_path(&["jobs", &id]),
            None,
            table::job,
        ),
        JobsCmd::Retry { alias, id } => Session::open(&alias, json)?.show(
            Method::POST,
            &api_path(&["jobs", &id, "retry"]),
            None,
            table::job,
        ),
        JobsCmd::Cancel { alias, id } => Session::open(&alias, json)?.show(
            Method::POST,
            &api_path(&["jobs", &id, "cancel"]),
            None,
            table::job,
        ),
        JobsCmd::Purge {
            alias,
            filter,
            before,
        } => {
            let s = Session::open(&alias, json)?;
            let mut q = job_filter(&filter);
            if let Some(b) = before {
                q.push(("before", b));
            }
            let refs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let answer = s
                .client
                .request_with(Method::DELETE, &path, &refs, None)?
                .unwrap_or(Value::Null);
            if json {
                emit(&format!("{}\n", table::pretty(&answer)))
            } else {
                emit(&format!(
                    "{} jobs purged\n",
                    answer.get("purged").cloned().unwrap_or(Value::Null)
                ))
            }
        }
    }
}
