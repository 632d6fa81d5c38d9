//! Errors raised while parsing or validating a policy document.
//!
//! The `Display` text of every variant is written to be returned verbatim as
//! the message of an AWS `MalformedPolicyDocument` error, so it mirrors the
//! wording IAM and S3 use where one is known. Extra detail that AWS would not
//! show lives in the variant's fields and in its `Debug` output.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    /// The text is not JSON, or its top level is not a JSON object.
    #[error("Syntax errors in policy.")]
    Syntax { detail: String },

    #[error("The policy must contain a valid version string")]
    InvalidVersion,

    /// A key that the policy grammar does not define, at the top level or in
    /// a statement. Element names are case-sensitive, as in AWS.
    #[error("Unknown field {0}")]
    UnknownField(String),

    #[error("Missing required field {0}")]
    MissingField(&'static str),

    /// An element holds a JSON type the grammar does not allow there
    /// (e.g. a number as `Effect`, an object as `Action`).
    #[error("Syntax errors in policy: {element} has an invalid value")]
    InvalidElement { element: &'static str },

    #[error("Statement must be a JSON object or an array of JSON objects")]
    InvalidStatement,

    #[error("Invalid effect: {0}")]
    InvalidEffect(String),

    #[error("Policy statement must contain actions.")]
    MissingAction,

    /// Both an element and its `Not` form in one statement.
    #[error("Statement cannot contain both {0} and {1}")]
    ConflictingElements(&'static str, &'static str),

    #[error("Policy has invalid action")]
    InvalidAction(String),

    #[error("Policy has invalid resource")]
    InvalidResource(String),

    #[error("Policy statement must contain resources.")]
    MissingResource,

    #[error("Invalid principal in policy")]
    InvalidPrincipal(String),

    #[error("Policy document should not specify a principal.")]
    PrincipalNotAllowed,

    #[error("Invalid Condition type : {0}")]
    InvalidConditionOperator(String),

    #[error("Invalid Condition value for {operator} on key {key}: {value}")]
    InvalidConditionValue {
        operator: String,
        key: String,
        value: String,
    },

    /// The `Condition` element is not shaped `{"Operator": {"key": values}}`.
    #[error("Syntax errors in policy: malformed Condition element")]
    InvalidCondition,

    #[error("Statement IDs (SID) in a single policy must be unique")]
    DuplicateSid(String),
}
