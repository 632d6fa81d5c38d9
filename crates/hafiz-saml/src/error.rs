//! Typed errors. Every rejection reason is a distinct variant so callers (and
//! tests) can tell a policy failure from a cryptographic one.

use thiserror::Error;

/// Why a SAML Response was rejected.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SamlError {
    #[error("SAMLResponse exceeds {0} bytes")]
    TooLarge(usize),
    #[error("SAMLResponse is not valid base64: {0}")]
    Base64(String),
    #[error("SAMLResponse is not UTF-8")]
    NotUtf8,
    #[error("XML is not well-formed: {0}")]
    XmlParse(String),
    #[error("DOCTYPE / entity declarations are forbidden")]
    DoctypeForbidden,
    #[error("malformed SAML: {0}")]
    Malformed(String),
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    #[error("EncryptedAssertion / EncryptedID are not supported")]
    EncryptedUnsupported,
    #[error("expected exactly one Assertion, found {0}")]
    AssertionCount(usize),
    #[error("neither the Response nor its Assertion carries a Signature")]
    Unsigned,
    #[error("Signature structure rejected: {0}")]
    SignatureStructure(String),
    #[error("Reference URI does not point at the signed element")]
    ReferenceMismatch,
    #[error("digest of the signed element does not match DigestValue")]
    DigestMismatch,
    #[error("signature value does not verify with the IdP certificate")]
    BadSignature,
    #[error("invalid IdP certificate: {0}")]
    Certificate(String),
    #[error("canonicalization failed: {0}")]
    Canonicalization(String),
    #[error("status is not Success: {0}")]
    Status(String),
    #[error("unexpected Issuer: {0}")]
    IssuerMismatch(String),
    #[error("audience not allowed by AudienceRestriction")]
    AudienceMismatch,
    #[error("no bearer SubjectConfirmation for this recipient: {0}")]
    SubjectConfirmation(String),
    #[error("Response Destination does not match the ACS URL: {0}")]
    DestinationMismatch(String),
    #[error("InResponseTo does not match the request id")]
    InResponseToMismatch,
    #[error("assertion is not yet valid (NotBefore)")]
    NotYetValid,
    #[error("assertion has expired (NotOnOrAfter)")]
    Expired,
    #[error("invalid timestamp: {0}")]
    InvalidTimestamp(String),
    #[error("invalid expectations: {0}")]
    InvalidExpectations(String),
}
