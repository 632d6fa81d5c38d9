//! Minimal XML-DSig verifier for the one profile SAML IdPs use in practice:
//! an enveloped signature over a single same-document reference, exclusive
//! C14N, SHA-256 digest, RSA-SHA256 signature. Everything else is refused
//! rather than partially supported, because each extra algorithm or transform
//! is extra attack surface (XPath transforms, SHA-1, inclusive C14N, ...).

use crate::error::SamlError;
use crate::xml::{self, NS_DS, NS_EXC_C14N};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bergshamra_c14n::C14nMode;
use bergshamra_xml::NodeSet;
use rustls_pki_types::CertificateDer;
use uppsala::{Document, NodeId};

const ALG_EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ALG_ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const ALG_SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const ALG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// DER bytes of the IdP certificate, parsed from PEM (or bare base64 as found
/// in SAML metadata `<X509Certificate>`).
pub(crate) fn cert_der_from_pem(pem: &str) -> Result<Vec<u8>, SamlError> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let body = match (pem.find(BEGIN), pem.find(END)) {
        (Some(b), Some(e)) if b + BEGIN.len() <= e => &pem[b + BEGIN.len()..e],
        (None, None) => pem,
        _ => return Err(SamlError::Certificate("unbalanced PEM markers".into())),
    };
    let der = decode_b64(body).map_err(|e| SamlError::Certificate(e.to_string()))?;
    // Parse once up front so a bad configuration is reported as such, not as
    // a signature failure on every login.
    let parsed = CertificateDer::from(der.as_slice());
    webpki::EndEntityCert::try_from(&parsed).map_err(|e| SamlError::Certificate(e.to_string()))?;
    Ok(der)
}

/// Base64 with embedded whitespace (XML and PEM both wrap lines).
pub(crate) fn decode_b64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    STANDARD.decode(compact)
}

fn algorithm<'d>(doc: &'d Document<'_>, id: NodeId) -> Result<&'d str, SamlError> {
    xml::attr(doc, id, "Algorithm")
        .ok_or_else(|| SamlError::SignatureStructure("missing Algorithm".into()))
}

/// Require exclusive C14N (never the #WithComments variant: comments would be
/// signed but invisible to our text extraction) and return its PrefixList.
fn exc_c14n_prefixes(doc: &Document<'_>, method: NodeId) -> Result<Vec<String>, SamlError> {
    let alg = algorithm(doc, method)?;
    if alg != ALG_EXC_C14N {
        return Err(SamlError::UnsupportedAlgorithm(alg.to_owned()));
    }
    let mut prefixes = Vec::new();
    for child in xml::child_elements(doc, method) {
        if !xml::is_element(doc, child, NS_EXC_C14N, "InclusiveNamespaces") {
            return Err(SamlError::SignatureStructure(
                "unexpected C14N parameter".into(),
            ));
        }
        if let Some(list) = xml::attr(doc, child, "PrefixList") {
            prefixes.extend(list.split_ascii_whitespace().map(str::to_owned));
        }
    }
    Ok(prefixes)
}

fn only_children(doc: &Document<'_>, id: NodeId, allowed: &[&str]) -> Result<(), SamlError> {
    for c in xml::child_elements(doc, id) {
        if !allowed.iter().any(|l| xml::is_element(doc, c, NS_DS, l)) {
            return Err(SamlError::SignatureStructure(format!(
                "unexpected element {}",
                doc.element(c)
                    .map(|e| e.name.local_name.to_string())
                    .unwrap_or_default()
            )));
        }
    }
    Ok(())
}

fn c14n(doc: &Document<'_>, set: &NodeSet, prefixes: &[String]) -> Result<Vec<u8>, SamlError> {
    bergshamra_c14n::canonicalize_doc(doc, C14nMode::Exclusive, Some(set), prefixes)
        .map_err(|e| SamlError::Canonicalization(e.to_string()))
}

/// Verify `signature`, which the caller found as a direct child of `parent`,
/// as an enveloped signature over `parent` made with the key in `cert_der`.
///
/// Binding the Reference to the *parent's* ID (rather than resolving the URI
/// anywhere in the document) is what defeats signature wrapping: the element
/// whose digest we check is the element we later read claims from.
pub(crate) fn verify_enveloped(
    doc: &Document<'_>,
    parent: NodeId,
    signature: NodeId,
    cert_der: &[u8],
) -> Result<(), SamlError> {
    only_children(doc, signature, &["SignedInfo", "SignatureValue", "KeyInfo"])?;
    let signed_info = xml::single_child(doc, signature, NS_DS, "SignedInfo")?;
    let sig_value = xml::single_child(doc, signature, NS_DS, "SignatureValue")?;
    only_children(
        doc,
        signed_info,
        &["CanonicalizationMethod", "SignatureMethod", "Reference"],
    )?;

    let c14n_method = xml::single_child(doc, signed_info, NS_DS, "CanonicalizationMethod")?;
    let si_prefixes = exc_c14n_prefixes(doc, c14n_method)?;
    let sig_method = xml::single_child(doc, signed_info, NS_DS, "SignatureMethod")?;
    let sig_alg = algorithm(doc, sig_method)?;
    if sig_alg != ALG_RSA_SHA256 {
        return Err(SamlError::UnsupportedAlgorithm(sig_alg.to_owned()));
    }

    let references = xml::children_named(doc, signed_info, NS_DS, "Reference");
    let [reference] = references.as_slice() else {
        return Err(SamlError::SignatureStructure(format!(
            "expected exactly one Reference, found {}",
            references.len()
        )));
    };
    let parent_id = xml::attr(doc, parent, "ID")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| SamlError::Malformed("signed element has no ID".into()))?;
    match xml::attr(doc, *reference, "URI") {
        Some(uri) if uri.strip_prefix('#') == Some(parent_id) => {}
        _ => return Err(SamlError::ReferenceMismatch),
    }

    // Transforms must be exactly [enveloped-signature, exc-c14n]: anything
    // else (XPath, XSLT, inclusive C14N, missing enveloped) changes what the
    // digest covers.
    only_children(
        doc,
        *reference,
        &["Transforms", "DigestMethod", "DigestValue"],
    )?;
    let transforms = xml::single_child(doc, *reference, NS_DS, "Transforms")?;
    only_children(doc, transforms, &["Transform"])?;
    let list = xml::child_elements(doc, transforms);
    let [enveloped, c14n_transform] = list.as_slice() else {
        return Err(SamlError::SignatureStructure(
            "expected transforms [enveloped-signature, exc-c14n]".into(),
        ));
    };
    let env_alg = algorithm(doc, *enveloped)?;
    if env_alg != ALG_ENVELOPED {
        return Err(SamlError::UnsupportedAlgorithm(env_alg.to_owned()));
    }
    let ref_prefixes = exc_c14n_prefixes(doc, *c14n_transform)?;

    let digest_method = xml::single_child(doc, *reference, NS_DS, "DigestMethod")?;
    let digest_alg = algorithm(doc, digest_method)?;
    if digest_alg != ALG_SHA256 {
        return Err(SamlError::UnsupportedAlgorithm(digest_alg.to_owned()));
    }
    let digest_node = xml::single_child(doc, *reference, NS_DS, "DigestValue")?;
    let expected_digest = decode_b64(&xml::text(doc, digest_node))
        .map_err(|e| SamlError::SignatureStructure(format!("DigestValue: {e}")))?;

    // Enveloped transform: the parent's subtree minus the Signature subtree.
    // The URI "#id" form excludes comments (XML-DSig 4.3.3.3).
    let mut set = NodeSet::tree_without_comments(parent, doc);
    set.remove_id(signature);
    for d in doc.descendants(signature) {
        set.remove_id(d);
    }
    let referenced = c14n(doc, &set, &ref_prefixes)?;
    let actual = ring::digest::digest(&ring::digest::SHA256, &referenced);
    if actual.as_ref() != expected_digest.as_slice() {
        return Err(SamlError::DigestMismatch);
    }

    let si_set = NodeSet::tree_without_comments(signed_info, doc);
    let si_bytes = c14n(doc, &si_set, &si_prefixes)?;
    let sig_bytes = decode_b64(&xml::text(doc, sig_value))
        .map_err(|e| SamlError::SignatureStructure(format!("SignatureValue: {e}")))?;
    // KeyInfo is deliberately ignored: trusting a key shipped inside the
    // message would let anyone sign. Only the configured certificate counts.
    let cert_der = CertificateDer::from(cert_der);
    let cert = webpki::EndEntityCert::try_from(&cert_der)
        .map_err(|e| SamlError::Certificate(e.to_string()))?;
    cert.verify_signature(
        webpki::ring::RSA_PKCS1_2048_8192_SHA256,
        &si_bytes,
        &sig_bytes,
    )
    .map_err(|_| SamlError::BadSignature)
}
