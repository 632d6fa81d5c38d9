//! The AWS IAM policy language for Hafiz: parsing, validation and
//! evaluation of identity-based and bucket policies.
//!
//! ```
//! use hafiz_iam::{evaluate_resource, Decision, Policy, RequestContext};
//!
//! let policy = Policy::parse(r#"{
//!     "Version": "2012-10-17",
//!     "Statement": [{
//!         "Effect": "Allow",
//!         "Principal": "*",
//!         "Action": "s3:GetObject",
//!         "Resource": "arn:aws:s3:::photos/*"
//!     }]
//! }"#).unwrap();
//! let anonymous_get = RequestContext::new("s3:GetObject", "arn:aws:s3:::photos/cat.jpg");
//! assert_eq!(evaluate_resource(&policy, &anonymous_get), Decision::Allow);
//! ```
//!
//! # Semantics in brief
//!
//! - Any applicable `Deny` gives [`Decision::ExplicitDeny`]; otherwise any
//!   applicable `Allow` gives [`Decision::Allow`]; otherwise
//!   [`Decision::NotApplicable`].
//! - Actions match case-insensitively, resources case-sensitively; `*` and
//!   `?` are wildcards and `*` may span `/` and `:`.
//! - Policy variables (`${aws:username}`, any single-valued request key,
//!   `${key, 'default'}`, and the `${*}`/`${?}`/`${$}` escapes) are
//!   substituted in `Resource` and in string/ARN condition values, only for
//!   `"Version": "2012-10-17"` as in AWS. A variable with no value makes
//!   that one entry match nothing.
//! - Condition keys are looked up case-insensitively in
//!   [`RequestContext::keys`]; see [`ConditionBlock`] for missing-key rules.
//!   The library never reads the clock: callers supply `aws:CurrentTime`
//!   (see [`RequestContext::with_current_time`]).

#![forbid(unsafe_code)]

mod bucket_name;
mod condition;
mod context;
mod error;
mod evaluate;
mod matcher;
mod policy;
mod principal;
mod validate;
mod values;
mod variables;

pub use bucket_name::valid_bucket_name;
pub use condition::{ConditionBlock, ConditionOperator, OperatorKind, SetQualifier};
pub use context::{Principal, RequestContext};
pub use error::PolicyError;
pub use evaluate::{Decision, evaluate_identity, evaluate_resource, is_allowed};
pub use policy::{
    ActionSpec, Effect, Policy, PrincipalSpec, ResourceSpec, Statement, VERSION_2008_10_17,
    VERSION_2012_10_17,
};
pub use validate::{validate_bucket_policy, validate_identity_policy};
