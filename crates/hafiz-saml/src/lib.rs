//! Verification of signed SAML 2.0 Responses (HTTP-POST binding) for a
//! Service Provider, in pure Rust.
//!
//! Supported profile: an enveloped XML-DSig signature on the Response and/or
//! its single Assertion, exclusive C14N, SHA-256 digest, RSA-SHA256, checked
//! against a configured IdP certificate. DTDs, other algorithms, encrypted
//! assertions and multiple assertions are rejected.
//!
//! **Replay protection is the caller's responsibility**: store
//! [`Assertion::id`] until [`Assertion::not_on_or_after`] and refuse ids
//! already seen. The IdP certificate's own validity period is not checked
//! (it is pinned configuration, as in SAML metadata).

mod dsig;
mod error;
mod response;
mod xml;

pub use error::SamlError;
pub use response::{
    Assertion, Expectations, MAX_RESPONSE_BYTES, verify_response, verify_response_xml,
};
