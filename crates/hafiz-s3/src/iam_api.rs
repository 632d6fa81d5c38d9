//! The AWS IAM query API on the S3 endpoint (SigV4 service `iam`): form-encoded
//! `Action=...&Version=2010-05-08` POSTs answered with AWS's XML, so that `aws iam`,
//! boto3's `iam` client and Terraform's AWS provider manage users unchanged.

use std::fmt::Write as _;

use axum::body::Body;
use axum::response::Response;
use hafiz_meta::iam::{AccessKey, IamCommand, IamGroup, IamUser, ManagedPolicy};
use hafiz_meta::{Command, MetaError};
use http::{HeaderValue, StatusCode};
use quick_xml::escape::escape;
use rand::Rng;

use crate::server::S3State;
use crate::timefmt::{iso8601, now_millis};

const NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// An IAM error as AWS sends it: `<ErrorResponse><Error><Type>…`.
#[derive(Debug)]
pub struct IamError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl IamError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> IamError {
        IamError {
            status,
            code,
            message: message.into(),
        }
    }

    fn validation(message: impl Into<String>) -> IamError {
        IamError::new(StatusCode::BAD_REQUEST, "ValidationError", message)
    }

    pub fn access_denied(action: &str) -> IamError {
        IamError::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            format!("User is not authorized to perform: iam:{action}"),
        )
    }

    pub fn access_denied_sts() -> IamError {
        IamError::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Temporary credentials cannot be used to request more temporary credentials.",
        )
    }

    pub fn response(&self, request_id: &str) -> Response {
        let body = format!(
            "<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            self.code,
            escape(&self.message)
        );
        xml(self.status, body)
    }
}

impl crate::error::S3Error {
    /// An authentication failure on the IAM endpoint, in IAM's error format.
    pub fn into_iam(self) -> IamError {
        IamError {
            status: self.code.status(),
            code: self.code.as_str(),
            message: self.message,
        }
    }
}

impl From<MetaError> for IamError {
    fn from(e: MetaError) -> IamError {
        match e {
            MetaError::NoSuchEntity { message, .. } => {
                IamError::new(StatusCode::NOT_FOUND, "NoSuchEntity", message)
            }
            MetaError::EntityAlreadyExists(m) => {
                IamError::new(StatusCode::CONFLICT, "EntityAlreadyExists", m)
            }
            MetaError::DeleteConflict(m) => {
                IamError::new(StatusCode::CONFLICT, "DeleteConflict", m)
            }
            MetaError::LimitExceeded(m) => IamError::new(StatusCode::CONFLICT, "LimitExceeded", m),
            other => {
                tracing::error!(error = %other, "IAM request failed");
                IamError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "ServiceFailure",
                    "Request processing has failed due to an unknown error.",
                )
            }
        }
    }
}

type IamResult<T> = Result<T, IamError>;

fn xml(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml"),
    );
    r
}

/// Decoded `application/x-www-form-urlencoded` pairs.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    let dec = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (dec(k), dec(v))
        })
        .collect()
}

struct Form(Vec<(String, String)>);

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> IamResult<&str> {
        self.get(name).filter(|v| !v.is_empty()).ok_or_else(|| {
            IamError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_first(name)
            ))
        })
    }

    /// An IAM entity name: 1–128 characters of `[\w+=,.@-]`.
    fn name(&self, field: &str) -> IamResult<&str> {
        let v = self.required(field)?;
        if !valid_entity_name(v) {
            return Err(IamError::validation(format!(
                "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+",
                lower_first(field)
            )));
        }
        Ok(v)
    }

    fn path(&self) -> IamResult<String> {
        let p = self.get("Path").unwrap_or("/");
        if !p.starts_with('/') || !p.ends_with('/') {
            return Err(IamError::validation(
                "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.",
            ));
        }
        Ok(p.to_string())
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// IAM's rule for user, group and policy names: `[\w+=,.@-]{1,128}`.
pub fn valid_entity_name(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

pub fn random_id(prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::thread_rng();
    let mut s = prefix.to_string();
    for _ in 0..len {
        s.push(ALPHABET[rng.gen_range(0..ALPHABET.len())] as char);
    }
    s
}

pub fn random_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = rand::thread_rng();
    (0..40)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Builds `<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>…`.
struct Doc {
    action: String,
    body: String,
}

impl Doc {
    fn new(action: &str) -> Doc {
        Doc {
            action: action.to_string(),
            body: String::new(),
        }
    }

    fn el(&mut self, name: &str, value: &str) -> &mut Doc {
        let _ = write!(self.body, "<{name}>{}</{name}>", escape(value));
        self
    }

    fn open(&mut self, name: &str) -> &mut Doc {
        let _ = write!(self.body, "<{name}>");
        self
    }

    fn close(&mut self, name: &str) -> &mut Doc {
        let _ = write!(self.body, "</{name}>");
        self
    }

    fn finish(self, request_id: &str) -> Response {
        let a = &self.action;
        let result = if self.body.is_empty() {
            String::new()
        } else {
            format!("<{a}Result>{}</{a}Result>", self.body)
        };
        xml(
            StatusCode::OK,
            format!(
                "<{a}Response xmlns=\"{NS}\">{result}<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{a}Response>"
            ),
        )
    }
}

/// The account's ARNs.
pub struct Arns<'a> {
    pub account: &'a str,
}

impl Arns<'_> {
    pub fn user(&self, u: &IamUser) -> String {
        format!("arn:aws:iam::{}:user{}{}", self.account, u.path, u.name)
    }
    fn group(&self, g: &IamGroup) -> String {
        format!("arn:aws:iam::{}:group{}{}", self.account, g.path, g.name)
    }
    fn policy(&self, p: &ManagedPolicy) -> String {
        format!("arn:aws:iam::{}:policy{}{}", self.account, p.path, p.name)
    }
    /// The policy name in one of this account's policy ARNs.
    fn policy_name(&self, arn: &str) -> IamResult<String> {
        let prefix = format!("arn:aws:iam::{}:policy/", self.account);
        arn.strip_prefix(&prefix)
            .and_then(|rest| rest.rsplit('/').next())
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                IamError::new(
                    StatusCode::NOT_FOUND,
                    "NoSuchEntity",
                    format!("Policy {arn} does not exist or is not attachable."),
                )
            })
    }
}

/// A user's fields; callers wrap them in `<User>` or a list's `<member>`.
fn user_fields(d: &mut Doc, arns: &Arns, u: &IamUser) {
    d.el("Path", &u.path)
        .el("UserName", &u.name)
        .el("UserId", &u.id)
        .el("Arn", &arns.user(u))
        .el("CreateDate", &iso8601(u.created));
}

fn group_fields(d: &mut Doc, arns: &Arns, g: &IamGroup) {
    d.el("Path", &g.path)
        .el("GroupName", &g.name)
        .el("GroupId", &g.id)
        .el("Arn", &arns.group(g))
        .el("CreateDate", &iso8601(g.created));
}

fn policy_fields(d: &mut Doc, arns: &Arns, p: &ManagedPolicy) {
    d.el("PolicyName", &p.name)
        .el("PolicyId", &p.id)
        .el("Arn", &arns.policy(p))
        .el("Path", &p.path)
        .el("DefaultVersionId", "v1")
        .el("AttachmentCount", &p.attachments.to_string())
        .el("IsAttachable", "true")
        .el("CreateDate", &iso8601(p.created))
        .el("UpdateDate", &iso8601(p.created));
    if !p.description.is_empty() {
        d.el("Description", &p.description);
    }
}

/// `<name>` around what `fields` writes.
fn wrapped(d: &mut Doc, name: &str, fields: impl FnOnce(&mut Doc)) {
    d.open(name);
    fields(d);
    d.close(name);
}

/// Policy documents arrive URL-encoded JSON; they must parse as an identity policy.
fn policy_document(form: &Form) -> IamResult<String> {
    let doc = form.required("PolicyDocument")?;
    crate::access::validate_identity_policy(doc)
        .map_err(|m| IamError::new(StatusCode::BAD_REQUEST, "MalformedPolicyDocument", m))?;
    Ok(doc.to_string())
}

/// Serve one IAM API call. The caller has authenticated the request and checked
/// that the principal may call `iam:<Action>`.
/// The response, and the error code and message when it is an error (for the audit
/// log).
pub async fn handle(
    state: &S3State,
    form_pairs: Vec<(String, String)>,
    request_id: &str,
) -> (Response, Option<(String, String)>) {
    let form = Form(form_pairs);
    let action = form.get("Action").unwrap_or("").to_string();
    match run(state, &form, &action).await {
        Ok(doc) => (doc.finish(request_id), None),
        Err(e) => (
            e.response(request_id),
            Some((e.code.to_string(), e.message)),
        ),
    }
}

/// The action a form names (for authorization before it runs).
pub fn action_of(pairs: &[(String, String)]) -> Option<&str> {
    pairs
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.as_str())
}

async fn apply(state: &S3State, c: IamCommand) -> IamResult<()> {
    state.meta.apply(Command::Iam(c)).await?;
    Ok(())
}

async fn user(state: &S3State, name: &str) -> IamResult<IamUser> {
    state.meta.iam_user(name).await?.ok_or_else(|| {
        IamError::new(
            StatusCode::NOT_FOUND,
            "NoSuchEntity",
            format!("The user with name {name} cannot be found."),
        )
    })
}

async fn managed_policy(state: &S3State, name: &str) -> IamResult<ManagedPolicy> {
    state.meta.iam_policy(name).await?.ok_or_else(|| {
        IamError::new(
            StatusCode::NOT_FOUND,
            "NoSuchEntity",
            format!("Policy {name} was not found."),
        )
    })
}

async fn run(state: &S3State, form: &Form, action: &str) -> IamResult<Doc> {
    let arns = Arns {
        account: &state.owner.account_id,
    };
    let mut d = Doc::new(action);
    match action {
        "CreateUser" => {
            let u = IamUser {
                name: form.name("UserName")?.to_string(),
                id: random_id("AIDA", 17),
                path: form.path()?,
                created: now_millis(),
                ..Default::default()
            };
            apply(state, IamCommand::CreateUser(u.clone())).await?;
            wrapped(&mut d, "User", |d| user_fields(d, &arns, &u));
        }
        "GetUser" => {
            let u = user(state, form.name("UserName")?).await?;
            wrapped(&mut d, "User", |d| user_fields(d, &arns, &u));
        }
        "ListUsers" => {
            let prefix = form.get("PathPrefix").unwrap_or("/");
            d.open("Users");
            for u in state.meta.iam_users().await? {
                if u.path.starts_with(prefix) {
                    wrapped(&mut d, "member", |d| user_fields(d, &arns, &u));
                }
            }
            d.close("Users").el("IsTruncated", "false");
        }
        "DeleteUser" => {
            let name = form.name("UserName")?.to_string();
            apply(
                state,
                IamCommand::DeleteUser {
                    name,
                    detach: false,
                },
            )
            .await?;
        }
        "CreateAccessKey" => {
            let u = user(state, form.name("UserName")?).await?;
            let k = AccessKey {
                access_key_id: random_id("AKIA", 16),
                secret_key: random_secret(),
                user: u.name.clone(),
                active: true,
                created: now_millis(),
                session: None,
            };
            apply(state, IamCommand::CreateAccessKey(k.clone())).await?;
            d.open("AccessKey")
                .el("UserName", &k.user)
                .el("AccessKeyId", &k.access_key_id)
                .el("Status", "Active")
                .el("SecretAccessKey", &k.secret_key)
                .el("CreateDate", &iso8601(k.created))
                .close("AccessKey");
        }
        "ListAccessKeys" => {
            let u = user(state, form.name("UserName")?).await?;
            d.open("AccessKeyMetadata");
            for k in state
                .meta
                .access_keys(&u.name)
                .await?
                .into_iter()
                .filter(|k| k.session.is_none())
            {
                d.open("member")
                    .el("UserName", &k.user)
                    .el("AccessKeyId", &k.access_key_id)
                    .el("Status", if k.active { "Active" } else { "Inactive" })
                    .el("CreateDate", &iso8601(k.created))
                    .close("member");
            }
            d.close("AccessKeyMetadata")
                .el("IsTruncated", "false")
                .el("UserName", &u.name);
        }
        "UpdateAccessKey" => {
            let active = match form.required("Status")? {
                "Active" => true,
                "Inactive" => false,
                other => {
                    return Err(IamError::validation(format!(
                        "1 validation error detected: Value '{other}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
                    )));
                }
            };
            apply(
                state,
                IamCommand::UpdateAccessKey {
                    user: form.name("UserName")?.to_string(),
                    access_key_id: form.required("AccessKeyId")?.to_string(),
                    active,
                },
            )
            .await?;
        }
        "DeleteAccessKey" => {
            apply(
                state,
                IamCommand::DeleteAccessKey {
                    user: form.name("UserName")?.to_string(),
                    access_key_id: form.required("AccessKeyId")?.to_string(),
                },
            )
            .await?;
        }
        "PutUserPolicy" => {
            let document = policy_document(form)?;
            apply(
                state,
                IamCommand::PutUserPolicy {
                    user: form.name("UserName")?.to_string(),
                    name: form.name("PolicyName")?.to_string(),
                    document,
                },
            )
            .await?;
        }
        "GetUserPolicy" => {
            let u = user(state, form.name("UserName")?).await?;
            let name = form.name("PolicyName")?;
            let doc = u.inline_policies.get(name).ok_or_else(|| {
                IamError::new(
                    StatusCode::NOT_FOUND,
                    "NoSuchEntity",
                    format!("The user policy with name {name} cannot be found."),
                )
            })?;
            d.el("UserName", &u.name)
                .el("PolicyName", name)
                .el("PolicyDocument", &url_encode(doc));
        }
        "ListUserPolicies" => {
            let u = user(state, form.name("UserName")?).await?;
            d.open("PolicyNames");
            for name in u.inline_policies.keys() {
                d.el("member", name);
            }
            d.close("PolicyNames").el("IsTruncated", "false");
        }
        "DeleteUserPolicy" => {
            apply(
                state,
                IamCommand::DeleteUserPolicy {
                    user: form.name("UserName")?.to_string(),
                    name: form.name("PolicyName")?.to_string(),
                },
            )
            .await?;
        }
        "CreatePolicy" => {
            let p = ManagedPolicy {
                name: form.name("PolicyName")?.to_string(),
                id: random_id("ANPA", 17),
                path: form.path()?,
                description: form.get("Description").unwrap_or("").to_string(),
                document: policy_document(form)?,
                created: now_millis(),
                attachments: 0,
            };
            apply(state, IamCommand::CreatePolicy(p.clone())).await?;
            wrapped(&mut d, "Policy", |d| policy_fields(d, &arns, &p));
        }
        "GetPolicy" => {
            let name = arns.policy_name(form.required("PolicyArn")?)?;
            let p = managed_policy(state, &name).await?;
            wrapped(&mut d, "Policy", |d| policy_fields(d, &arns, &p));
        }
        "GetPolicyVersion" => {
            let name = arns.policy_name(form.required("PolicyArn")?)?;
            let p = managed_policy(state, &name).await?;
            d.open("PolicyVersion")
                .el("Document", &url_encode(&p.document))
                .el("VersionId", "v1")
                .el("IsDefaultVersion", "true")
                .el("CreateDate", &iso8601(p.created))
                .close("PolicyVersion");
        }
        "ListPolicies" => {
            // Only this account's policies: there are no AWS-managed ones here.
            let only_attached = form.get("OnlyAttached") == Some("true");
            d.open("Policies");
            for p in state.meta.iam_policies().await? {
                if !only_attached || p.attachments > 0 {
                    wrapped(&mut d, "member", |d| policy_fields(d, &arns, &p));
                }
            }
            d.close("Policies").el("IsTruncated", "false");
        }
        "DeletePolicy" => {
            let name = arns.policy_name(form.required("PolicyArn")?)?;
            apply(state, IamCommand::DeletePolicy { name }).await?;
        }
        "AttachUserPolicy" | "DetachUserPolicy" => {
            let user = form.name("UserName")?.to_string();
            let policy = arns.policy_name(form.required("PolicyArn")?)?;
            let c = if action == "AttachUserPolicy" {
                IamCommand::AttachUserPolicy { user, policy }
            } else {
                IamCommand::DetachUserPolicy { user, policy }
            };
            apply(state, c).await?;
        }
        "ListAttachedUserPolicies" => {
            let u = user(state, form.name("UserName")?).await?;
            d.open("AttachedPolicies");
            for name in &u.attached_policies {
                if let Some(p) = state.meta.iam_policy(name).await? {
                    d.open("member")
                        .el("PolicyName", &p.name)
                        .el("PolicyArn", &arns.policy(&p))
                        .close("member");
                }
            }
            d.close("AttachedPolicies").el("IsTruncated", "false");
        }
        "CreateGroup" => {
            let g = IamGroup {
                name: form.name("GroupName")?.to_string(),
                id: random_id("AGPA", 17),
                path: form.path()?,
                created: now_millis(),
                ..Default::default()
            };
            apply(state, IamCommand::CreateGroup(g.clone())).await?;
            wrapped(&mut d, "Group", |d| group_fields(d, &arns, &g));
        }
        "GetGroup" => {
            let name = form.name("GroupName")?;
            let g = state.meta.iam_group(name).await?.ok_or_else(|| {
                IamError::new(
                    StatusCode::NOT_FOUND,
                    "NoSuchEntity",
                    format!("The group with name {name} cannot be found."),
                )
            })?;
            wrapped(&mut d, "Group", |d| group_fields(d, &arns, &g));
            d.open("Users");
            for m in &g.members {
                if let Some(u) = state.meta.iam_user(m).await? {
                    wrapped(&mut d, "member", |d| user_fields(d, &arns, &u));
                }
            }
            d.close("Users").el("IsTruncated", "false");
        }
        "DeleteGroup" => {
            let name = form.name("GroupName")?.to_string();
            apply(state, IamCommand::DeleteGroup { name }).await?;
        }
        "AddUserToGroup" | "RemoveUserFromGroup" => {
            let group = form.name("GroupName")?.to_string();
            let user = form.name("UserName")?.to_string();
            let c = if action == "AddUserToGroup" {
                IamCommand::AddUserToGroup { group, user }
            } else {
                IamCommand::RemoveUserFromGroup { group, user }
            };
            apply(state, c).await?;
        }
        "PutGroupPolicy" => {
            let document = policy_document(form)?;
            apply(
                state,
                IamCommand::PutGroupPolicy {
                    group: form.name("GroupName")?.to_string(),
                    name: form.name("PolicyName")?.to_string(),
                    document,
                },
            )
            .await?;
        }
        "DeleteGroupPolicy" => {
            apply(
                state,
                IamCommand::DeleteGroupPolicy {
                    group: form.name("GroupName")?.to_string(),
                    name: form.name("PolicyName")?.to_string(),
                },
            )
            .await?;
        }
        "AttachGroupPolicy" | "DetachGroupPolicy" => {
            let group = form.name("GroupName")?.to_string();
            let policy = arns.policy_name(form.required("PolicyArn")?)?;
            let c = if action == "AttachGroupPolicy" {
                IamCommand::AttachGroupPolicy { group, policy }
            } else {
                IamCommand::DetachGroupPolicy { group, policy }
            };
            apply(state, c).await?;
        }
        "" => {
            return Err(IamError::new(
                StatusCode::BAD_REQUEST,
                "MissingAction",
                "Missing Action",
            ));
        }
        other => {
            return Err(IamError::new(
                StatusCode::BAD_REQUEST,
                "InvalidAction",
                format!("Could not find operation {other} for version 2010-05-08"),
            ));
        }
    }
    Ok(d)
}

/// IAM returns policy documents URL-encoded (RFC 3986), which SDKs decode.
fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding() {
        let f = parse_form(b"Action=CreateUser&UserName=al%2Bice&Path=%2Fa+b%2F&Empty=");
        assert_eq!(f[0], ("Action".into(), "CreateUser".into()));
        assert_eq!(f[1].1, "al+ice");
        assert_eq!(f[2].1, "/a b/");
        assert_eq!(f[3].1, "");
    }

    #[test]
    fn names_and_arns() {
        let f = Form(vec![("UserName".into(), "bad name".into())]);
        assert_eq!(f.name("UserName").unwrap_err().code, "ValidationError");
        let a = Arns {
            account: "123456789012",
        };
        assert_eq!(
            a.policy_name("arn:aws:iam::123456789012:policy/team/ro")
                .unwrap(),
            "ro"
        );
        assert!(
            a.policy_name("arn:aws:iam::aws:policy/ReadOnlyAccess")
                .is_err()
        );
    }
}
