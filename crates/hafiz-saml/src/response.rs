//! SAML 2.0 Web Browser SSO profile checks on a Response whose signature has
//! been verified. Claims are only ever read from the one Assertion that is
//! covered by a verified signature (its own, or the enclosing Response's).

use crate::dsig;
use crate::error::SamlError;
use crate::xml::{self, NS_DS, NS_SAML, NS_SAMLP};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uppsala::{Document, NodeId};

/// Upper bound on the base64 input; real Responses are a few KiB, and this
/// caps parser/C14N work an unauthenticated client can cause.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// What the Service Provider expects of a Response.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    /// IdP signing certificate (PEM, or bare base64 DER as in metadata).
    pub idp_cert_pem: &'a str,
    /// Expected IdP entity ID; `None` skips the Issuer check.
    pub issuer: Option<&'a str>,
    /// This SP's entity ID; must appear in every AudienceRestriction.
    pub audience: &'a str,
    /// This SP's Assertion Consumer Service URL.
    pub recipient: &'a str,
    /// ID of the AuthnRequest we sent; `None` for IdP-initiated login.
    pub in_response_to: Option<&'a str>,
    /// Current time (injected so verification is deterministic and testable).
    pub now: OffsetDateTime,
    /// Tolerated clock difference with the IdP.
    pub clock_skew: std::time::Duration,
}

/// The verified claims of the signed assertion.
///
/// Replay protection is the caller's job: remember `id` until
/// `not_on_or_after` and reject any Response whose assertion id was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    pub id: String,
    pub issuer: String,
    pub name_id: String,
    pub session_not_on_or_after: Option<OffsetDateTime>,
    /// Earliest of the bearer confirmation's and the Conditions' NotOnOrAfter:
    /// how long the assertion id must be kept in a replay cache.
    pub not_on_or_after: OffsetDateTime,
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// Verify a base64-encoded `SAMLResponse` (HTTP-POST binding) and return the
/// claims of its signed assertion.
pub fn verify_response(
    saml_response_base64: &str,
    exp: &Expectations,
) -> Result<Assertion, SamlError> {
    if saml_response_base64.len() > MAX_RESPONSE_BYTES {
        return Err(SamlError::TooLarge(MAX_RESPONSE_BYTES));
    }
    let raw =
        dsig::decode_b64(saml_response_base64).map_err(|e| SamlError::Base64(e.to_string()))?;
    let text = String::from_utf8(raw).map_err(|_| SamlError::NotUtf8)?;
    verify_response_xml(&text, exp)
}

/// Same as [`verify_response`] for an already decoded XML document.
pub fn verify_response_xml(xml_text: &str, exp: &Expectations) -> Result<Assertion, SamlError> {
    let window = Window::new(exp)?;
    let cert_der = dsig::cert_der_from_pem(exp.idp_cert_pem)?;
    let doc = xml::parse(xml_text)?;
    let response = doc
        .document_element()
        .filter(|r| xml::is_element(&doc, *r, NS_SAMLP, "Response"))
        .ok_or_else(|| SamlError::Malformed("root is not samlp:Response".into()))?;

    if !xml::children_named(&doc, response, NS_SAML, "EncryptedAssertion").is_empty() {
        return Err(SamlError::EncryptedUnsupported);
    }
    let assertions = xml::children_named(&doc, response, NS_SAML, "Assertion");
    let [assertion] = assertions.as_slice() else {
        return Err(SamlError::AssertionCount(assertions.len()));
    };
    let assertion = *assertion;

    // Every signature present in the two allowed places must verify, and at
    // least one must exist. Signatures elsewhere are never consulted.
    let mut signed = false;
    for parent in [response, assertion] {
        match xml::optional_child(&doc, parent, NS_DS, "Signature")? {
            Some(sig) => {
                dsig::verify_enveloped(&doc, parent, sig, &cert_der)?;
                signed = true;
            }
            None => continue,
        }
    }
    if !signed {
        return Err(SamlError::Unsigned);
    }

    check_response_envelope(&doc, response, exp)?;
    read_assertion(&doc, assertion, exp, &window)
}

/// Response-level checks. When only the Assertion is signed these fields are
/// unauthenticated, so they are defence in depth; the binding to this SP comes
/// from the signed Audience/Recipient/InResponseTo inside the assertion.
fn check_response_envelope(
    doc: &Document<'_>,
    response: NodeId,
    exp: &Expectations,
) -> Result<(), SamlError> {
    let status = xml::single_child(doc, response, NS_SAMLP, "Status")?;
    let code = xml::single_child(doc, status, NS_SAMLP, "StatusCode")?;
    let value = xml::req_attr(doc, code, "Value")?;
    if value != STATUS_SUCCESS {
        return Err(SamlError::Status(value.to_owned()));
    }
    if let Some(dest) = xml::attr(doc, response, "Destination")
        && dest != exp.recipient
    {
        return Err(SamlError::DestinationMismatch(dest.to_owned()));
    }
    if let (Some(want), Some(got)) = (exp.in_response_to, xml::attr(doc, response, "InResponseTo"))
        && want != got
    {
        return Err(SamlError::InResponseToMismatch);
    }
    if let (Some(want), Some(node)) = (
        exp.issuer,
        xml::optional_child(doc, response, NS_SAML, "Issuer")?,
    ) {
        let got = xml::text(doc, node);
        if got.trim() != want {
            return Err(SamlError::IssuerMismatch(got));
        }
    }
    Ok(())
}

/// The validity window `[now - skew, now + skew]`.
struct Window {
    earliest: OffsetDateTime,
    latest: OffsetDateTime,
}

impl Window {
    fn new(exp: &Expectations) -> Result<Self, SamlError> {
        let bad = || SamlError::InvalidExpectations("clock_skew out of range".into());
        let skew = time::Duration::try_from(exp.clock_skew).map_err(|_| bad())?;
        Ok(Self {
            earliest: exp.now.checked_sub(skew).ok_or_else(bad)?,
            latest: exp.now.checked_add(skew).ok_or_else(bad)?,
        })
    }

    /// NotBefore is inclusive, NotOnOrAfter exclusive (SAML core 2.5.1.2).
    fn check(
        &self,
        not_before: Option<OffsetDateTime>,
        not_on_or_after: Option<OffsetDateTime>,
    ) -> Result<(), SamlError> {
        if not_before.is_some_and(|nb| self.latest < nb) {
            return Err(SamlError::NotYetValid);
        }
        if not_on_or_after.is_some_and(|na| self.earliest >= na) {
            return Err(SamlError::Expired);
        }
        Ok(())
    }
}

fn time_attr(
    doc: &Document<'_>,
    id: NodeId,
    name: &str,
) -> Result<Option<OffsetDateTime>, SamlError> {
    xml::attr(doc, id, name)
        .map(|v| {
            OffsetDateTime::parse(v.trim(), &Rfc3339)
                .map_err(|e| SamlError::InvalidTimestamp(format!("{name}={v}: {e}")))
        })
        .transpose()
}

fn read_assertion(
    doc: &Document<'_>,
    assertion: NodeId,
    exp: &Expectations,
    window: &Window,
) -> Result<Assertion, SamlError> {
    let id = xml::req_attr(doc, assertion, "ID")?.to_owned();
    let issuer = xml::text(doc, xml::single_child(doc, assertion, NS_SAML, "Issuer")?)
        .trim()
        .to_owned();
    if let Some(want) = exp.issuer
        && issuer != want
    {
        return Err(SamlError::IssuerMismatch(issuer));
    }

    let subject = xml::single_child(doc, assertion, NS_SAML, "Subject")?;
    if xml::optional_child(doc, subject, NS_SAML, "EncryptedID")?.is_some() {
        return Err(SamlError::EncryptedUnsupported);
    }
    let name_id = xml::text(doc, xml::single_child(doc, subject, NS_SAML, "NameID")?)
        .trim()
        .to_owned();
    let confirmed_until = check_bearer(doc, subject, exp, window)?;

    let conditions = xml::single_child(doc, assertion, NS_SAML, "Conditions")?;
    let cond_na = time_attr(doc, conditions, "NotOnOrAfter")?;
    window.check(time_attr(doc, conditions, "NotBefore")?, cond_na)?;
    // Restrictions are ANDed (SAML core 2.5.1.4): every one must name us.
    let restrictions = xml::children_named(doc, conditions, NS_SAML, "AudienceRestriction");
    let ours = |r: &NodeId| {
        xml::children_named(doc, *r, NS_SAML, "Audience")
            .iter()
            .any(|a| xml::text(doc, *a).trim() == exp.audience)
    };
    if restrictions.is_empty() || !restrictions.iter().all(ours) {
        return Err(SamlError::AudienceMismatch);
    }

    let session_not_on_or_after =
        match xml::children_named(doc, assertion, NS_SAML, "AuthnStatement").first() {
            Some(s) => time_attr(doc, *s, "SessionNotOnOrAfter")?,
            None => None,
        };

    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for statement in xml::children_named(doc, assertion, NS_SAML, "AttributeStatement") {
        for attribute in xml::children_named(doc, statement, NS_SAML, "Attribute") {
            let name = xml::req_attr(doc, attribute, "Name")?.to_owned();
            let values = attributes.entry(name).or_default();
            for v in xml::children_named(doc, attribute, NS_SAML, "AttributeValue") {
                values.push(xml::text(doc, v));
            }
        }
    }

    let not_on_or_after = match cond_na {
        Some(c) if c < confirmed_until => c,
        _ => confirmed_until,
    };
    Ok(Assertion {
        id,
        issuer,
        name_id,
        session_not_on_or_after,
        not_on_or_after,
        attributes,
    })
}

/// Find a bearer SubjectConfirmation usable by this SP (Web SSO profile
/// 4.1.4.2) and return its NotOnOrAfter. Reports the first failure if none
/// qualifies, which is the most useful diagnostic in the common one-entry case.
fn check_bearer(
    doc: &Document<'_>,
    subject: NodeId,
    exp: &Expectations,
    window: &Window,
) -> Result<OffsetDateTime, SamlError> {
    let mut first_err = None;
    for sc in xml::children_named(doc, subject, NS_SAML, "SubjectConfirmation") {
        if xml::attr(doc, sc, "Method") != Some(CM_BEARER) {
            continue;
        }
        match check_confirmation_data(doc, sc, exp, window) {
            Ok(t) => return Ok(t),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    Err(first_err.unwrap_or_else(|| SamlError::SubjectConfirmation("no bearer method".into())))
}

fn check_confirmation_data(
    doc: &Document<'_>,
    sc: NodeId,
    exp: &Expectations,
    window: &Window,
) -> Result<OffsetDateTime, SamlError> {
    let data = xml::single_child(doc, sc, NS_SAML, "SubjectConfirmationData")?;
    match xml::attr(doc, data, "Recipient") {
        Some(r) if r == exp.recipient => {}
        other => {
            return Err(SamlError::SubjectConfirmation(format!(
                "Recipient {other:?}"
            )));
        }
    }
    if let Some(want) = exp.in_response_to
        && xml::attr(doc, data, "InResponseTo") != Some(want)
    {
        return Err(SamlError::InResponseToMismatch);
    }
    let not_on_or_after = time_attr(doc, data, "NotOnOrAfter")?
        .ok_or_else(|| SamlError::SubjectConfirmation("bearer data lacks NotOnOrAfter".into()))?;
    window.check(time_attr(doc, data, "NotBefore")?, Some(not_on_or_after))?;
    Ok(not_on_or_after)
}
