//! End-to-end tests against fixtures produced by fixtures/make.py (signxml).
//! `now` is pinned to 2024-06-01T12:00:00Z, inside the fixtures' window.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hafiz_saml::{Expectations, SamlError, verify_response, verify_response_xml};
use std::time::Duration;
use time::macros::datetime;

const CERT: &str = include_str!("../fixtures/idp_cert.pem");
const OTHER_CERT: &str = include_str!("../fixtures/other_cert.pem");
const SIGNED_ASSERTION: &str = include_str!("../fixtures/valid_signed_assertion.xml");
const SIGNED_RESPONSE: &str = include_str!("../fixtures/valid_signed_response.xml");

fn exp() -> Expectations<'static> {
    Expectations {
        idp_cert_pem: CERT,
        issuer: Some("https://idp.example.org/metadata"),
        audience: "https://sp.example.com/saml/metadata",
        recipient: "https://sp.example.com/saml/acs",
        in_response_to: Some("_req-4711"),
        now: datetime!(2024-06-01 12:00:00 UTC),
        clock_skew: Duration::from_secs(60),
    }
}

fn verify(xml: &str) -> Result<hafiz_saml::Assertion, SamlError> {
    verify_response(&STANDARD.encode(xml), &exp())
}

#[test]
fn valid_signed_assertion() {
    let a = verify(SIGNED_ASSERTION).expect("valid");
    assert_eq!(a.id, "_a-1");
    assert_eq!(a.issuer, "https://idp.example.org/metadata");
    assert_eq!(a.name_id, "alice@example.org");
    assert_eq!(a.not_on_or_after, datetime!(2024-06-01 12:05:00 UTC));
    assert_eq!(
        a.session_not_on_or_after,
        Some(datetime!(2024-06-01 20:00:00 UTC))
    );
    assert_eq!(a.attributes["role"], vec!["member", "staff"]);
    assert_eq!(a.attributes["email"], vec!["alice@example.org"]);
}

#[test]
fn valid_signed_response() {
    let a = verify(SIGNED_RESPONSE).expect("valid");
    assert_eq!(a.name_id, "alice@example.org");
}

#[test]
fn line_wrapped_base64_is_accepted() {
    let b64 = STANDARD.encode(SIGNED_ASSERTION);
    let wrapped: Vec<String> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    assert!(verify_response(&wrapped.join("\r\n"), &exp()).is_ok());
}

#[test]
fn tampered_attribute_fails_digest() {
    let r = verify(include_str!("../fixtures/tampered_attribute.xml"));
    assert_eq!(r, Err(SamlError::DigestMismatch));
}

#[test]
fn tampered_signature_value_fails() {
    let xml = SIGNED_ASSERTION.replacen("<ds:SignatureValue>", "<ds:SignatureValue>AAAA", 1);
    assert_eq!(verify(&xml), Err(SamlError::BadSignature));
}

#[test]
fn signed_by_other_key_fails_even_with_its_cert_in_keyinfo() {
    let r = verify(include_str!("../fixtures/wrong_cert.xml"));
    assert_eq!(r, Err(SamlError::BadSignature));
}

#[test]
fn configured_wrong_cert_fails() {
    let mut e = exp();
    e.idp_cert_pem = OTHER_CERT;
    let r = verify_response_xml(SIGNED_ASSERTION, &e);
    assert_eq!(r, Err(SamlError::BadSignature));
}

#[test]
fn wrapping_second_unsigned_assertion_rejected() {
    let r = verify(include_str!("../fixtures/wrap_second_assertion.xml"));
    assert_eq!(r, Err(SamlError::AssertionCount(2)));
}

#[test]
fn wrapping_moved_signed_assertion_rejected() {
    let r = verify(include_str!("../fixtures/wrap_moved_signed.xml"));
    assert_eq!(r, Err(SamlError::ReferenceMismatch));
}

#[test]
fn wrapping_without_copied_signature_is_unsigned() {
    // Evil assertion with the signed one hidden inside it and no signature of
    // its own: signatures deeper than the two allowed places never count.
    let xml = include_str!("../fixtures/wrap_moved_signed.xml");
    let start = xml.find("<ds:Signature").unwrap();
    let end = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let stripped = format!("{}{}", &xml[..start], &xml[end..]);
    assert_eq!(verify(&stripped), Err(SamlError::Unsigned));
}

#[test]
fn expired_rejected() {
    let r = verify(include_str!("../fixtures/expired.xml"));
    assert_eq!(r, Err(SamlError::Expired));
}

#[test]
fn not_yet_valid_rejected_and_skew_honoured() {
    let mut e = exp();
    e.now = datetime!(2024-06-01 11:57:30 UTC); // 90 s before NotBefore
    assert_eq!(
        verify_response_xml(SIGNED_ASSERTION, &e),
        Err(SamlError::NotYetValid)
    );
    e.clock_skew = Duration::from_secs(120);
    assert!(verify_response_xml(SIGNED_ASSERTION, &e).is_ok());
}

#[test]
fn expiry_boundary_respects_skew() {
    let mut e = exp();
    e.now = datetime!(2024-06-01 12:05:30 UTC); // 30 s past NotOnOrAfter
    assert!(verify_response_xml(SIGNED_ASSERTION, &e).is_ok());
    e.clock_skew = Duration::ZERO;
    assert_eq!(
        verify_response_xml(SIGNED_ASSERTION, &e),
        Err(SamlError::Expired)
    );
}

#[test]
fn wrong_audience_rejected() {
    let r = verify(include_str!("../fixtures/wrong_audience.xml"));
    assert_eq!(r, Err(SamlError::AudienceMismatch));
}

#[test]
fn wrong_recipient_rejected() {
    let r = verify(include_str!("../fixtures/wrong_recipient.xml"));
    assert!(matches!(r, Err(SamlError::SubjectConfirmation(_))), "{r:?}");
}

#[test]
fn sha1_signature_rejected() {
    let r = verify(include_str!("../fixtures/sha1_signature.xml"));
    assert_eq!(
        r,
        Err(SamlError::UnsupportedAlgorithm(
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1".into()
        ))
    );
}

#[test]
fn doctype_rejected() {
    let r = verify(include_str!("../fixtures/doctype.xml"));
    assert_eq!(r, Err(SamlError::DoctypeForbidden));
}

#[test]
fn c14n_with_comments_rejected() {
    let xml = SIGNED_ASSERTION.replace(
        "xml-exc-c14n#\"/><ds:SignatureMethod",
        "xml-exc-c14n#WithComments\"/><ds:SignatureMethod",
    );
    assert!(matches!(
        verify(&xml),
        Err(SamlError::UnsupportedAlgorithm(_))
    ));
}

#[test]
fn extra_transform_rejected() {
    let xml = SIGNED_ASSERTION.replace(
        "<ds:Transforms>",
        "<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"/>",
    );
    assert!(matches!(
        verify(&xml),
        Err(SamlError::SignatureStructure(_))
    ));
}

#[test]
fn comment_in_name_id_does_not_truncate() {
    // Comments are outside exclusive C14N, so the signature stays valid; the
    // NameID must still read as the full value.
    let xml = SIGNED_ASSERTION.replace(
        "alice@example.org</saml:NameID>",
        "alice@exa<!--x-->mple.org</saml:NameID>",
    );
    let a = verify(&xml).expect("comment does not break signature");
    assert_eq!(a.name_id, "alice@example.org");
}

#[test]
fn status_not_success_rejected() {
    let xml = SIGNED_ASSERTION.replace("status:Success", "status:Requester");
    assert!(matches!(verify(&xml), Err(SamlError::Status(_))));
}

#[test]
fn wrong_issuer_rejected() {
    let mut e = exp();
    e.issuer = Some("https://other-idp.example");
    assert!(matches!(
        verify_response_xml(SIGNED_ASSERTION, &e),
        Err(SamlError::IssuerMismatch(_))
    ));
}

#[test]
fn wrong_in_response_to_rejected() {
    let mut e = exp();
    e.in_response_to = Some("_other-request");
    assert_eq!(
        verify_response_xml(SIGNED_ASSERTION, &e),
        Err(SamlError::InResponseToMismatch)
    );
    e.in_response_to = None; // IdP-initiated: accepted
    assert!(verify_response_xml(SIGNED_ASSERTION, &e).is_ok());
}

#[test]
fn wrong_destination_rejected() {
    let xml = SIGNED_ASSERTION.replacen(
        "Destination=\"https://sp.example.com/saml/acs\"",
        "Destination=\"https://evil.example/acs\"",
        1,
    );
    assert!(matches!(
        verify(&xml),
        Err(SamlError::DestinationMismatch(_))
    ));
}

#[test]
fn encrypted_assertion_rejected() {
    let xml = SIGNED_ASSERTION
        .replace(
            "<saml:Assertion ",
            "<saml:EncryptedAssertion><saml:Assertion ",
        )
        .replace(
            "</saml:Assertion>",
            "</saml:Assertion></saml:EncryptedAssertion>",
        );
    assert_eq!(verify(&xml), Err(SamlError::EncryptedUnsupported));
}

#[test]
fn unsigned_rejected() {
    let start = SIGNED_ASSERTION.find("<ds:Signature>").unwrap();
    let end = SIGNED_ASSERTION.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let xml = format!("{}{}", &SIGNED_ASSERTION[..start], &SIGNED_ASSERTION[end..]);
    assert_eq!(verify(&xml), Err(SamlError::Unsigned));
}

#[test]
fn oversized_and_garbage_input_rejected() {
    assert!(matches!(
        verify_response("!!!", &exp()),
        Err(SamlError::Base64(_))
    ));
    let big = "A".repeat(hafiz_saml::MAX_RESPONSE_BYTES + 4);
    assert!(matches!(
        verify_response(&big, &exp()),
        Err(SamlError::TooLarge(_))
    ));
}
