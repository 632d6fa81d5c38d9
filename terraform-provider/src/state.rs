//! What every resource shares: the configured API client, and the small rules for
//! turning server answers into Terraform values without spurious differences.

use std::sync::{Arc, OnceLock};

use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostic, Diagnostics};

use crate::api::{Api, ApiError};

/// The client `configure` builds, seen by every resource and data source (Terraform
/// asks for their schemas before it configures the provider).
#[derive(Clone, Default)]
pub struct Shared(Arc<OnceLock<Api>>);

impl Shared {
    pub fn set(&self, api: Api) {
        let _ = self.0.set(api);
    }

    pub fn api(&self, diags: &mut Diagnostics) -> Option<&Api> {
        let api = self.0.get();
        if api.is_none() {
            error(
                diags,
                "The hafiz provider is not configured",
                "Set endpoint, access_key and secret_key in the provider block or the HAFIZ_* environment variables.".into(),
            );
        }
        api
    }
}

/// An error on the whole resource. Built as a literal: `Diagnostic::new` appends a
/// backtrace to the message whenever RUST_BACKTRACE is set, which is noise to a user.
pub fn error(diags: &mut Diagnostics, summary: &str, detail: String) {
    invalid(diags, AttributePath::root(), summary, detail);
}

/// Reports a failed call as a diagnostic naming what was being done.
pub fn failed(diags: &mut Diagnostics, what: &str, e: ApiError) {
    error(diags, &format!("{what} failed"), e.to_string());
}

/// Reports an invalid attribute (plan-time validation).
pub fn invalid(diags: &mut Diagnostics, path: AttributePath, summary: &str, detail: String) {
    diags.add_error(Diagnostic {
        summary: summary.to_string().into(),
        detail: detail.into(),
        attribute: path,
    });
}

/// The known string in `v`, if it is known and not null.
pub fn known(v: &Value<String>) -> Option<&str> {
    match v {
        Value::Value(s) => Some(s),
        _ => None,
    }
}

/// A server value for an optional attribute: null when the server has the default
/// and the prior state had null (so a configuration that leaves it out sees no
/// difference), the value otherwise.
pub fn unless_default<T: PartialEq + Default>(server: T, prior: &Value<T>) -> Value<T> {
    if server == T::default() && prior.is_null() {
        Value::Null
    } else {
        Value::Value(server)
    }
}

/// An optional string the server reports as "" when unset.
pub fn opt_string(s: String) -> Value<String> {
    if s.is_empty() {
        Value::Null
    } else {
        Value::Value(s)
    }
}

/// Collections of strings hold `Value`s: in `terraform validate` (and in plans) an
/// element may be a reference not known yet.
pub type Strings = Value<Vec<Value<String>>>;
pub type StringSet = Value<std::collections::BTreeSet<Value<String>>>;
pub type StringMap = Value<std::collections::BTreeMap<String, Value<String>>>;

/// The known elements.
pub fn list(v: &Strings) -> Vec<String> {
    v.iter()
        .flatten()
        .filter_map(|s| known(s).map(str::to_string))
        .collect()
}

pub fn to_list(v: Vec<String>) -> Vec<Value<String>> {
    v.into_iter().map(Value::Value).collect()
}

/// The known entries.
pub fn map(v: &StringMap) -> std::collections::BTreeMap<String, String> {
    v.iter()
        .flatten()
        .filter_map(|(k, s)| known(s).map(|s| (k.clone(), s.to_string())))
        .collect()
}

pub fn to_map(
    m: std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, Value<String>> {
    m.into_iter().map(|(k, v)| (k, Value::Value(v))).collect()
}
