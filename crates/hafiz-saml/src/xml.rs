//! Thin helpers over the `uppsala` DOM: hardened parsing and namespace-exact
//! element/attribute access. Matching is always by (namespace, local name) so a
//! look-alike element in another namespace can never be mistaken for SAML.

use crate::error::SamlError;
use uppsala::{Document, NodeId, NodeKind};

pub(crate) const NS_SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub(crate) const NS_SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub(crate) const NS_DS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub(crate) const NS_EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// Parse `xml`, refusing any DTD.
///
/// The textual check runs *before* parsing because entity expansion (billion
/// laughs, external entities) happens inside the parser; checking the DOM
/// afterwards would be too late. SAML never needs a DTD, so false positives
/// (the string inside a comment or CDATA) are an acceptable price.
pub(crate) fn parse(xml: &str) -> Result<Document<'_>, SamlError> {
    if contains_ascii_ci(xml, "<!DOCTYPE") || contains_ascii_ci(xml, "<!ENTITY") {
        return Err(SamlError::DoctypeForbidden);
    }
    let doc = uppsala::parse(xml).map_err(|e| SamlError::XmlParse(e.to_string()))?;
    if doc.doctype.is_some() {
        return Err(SamlError::DoctypeForbidden);
    }
    Ok(doc)
}

fn contains_ascii_ci(haystack: &str, needle: &str) -> bool {
    let n = needle.as_bytes();
    haystack
        .as_bytes()
        .windows(n.len())
        .any(|w| w.eq_ignore_ascii_case(n))
}

/// True if `id` is an element named `{ns}local`.
pub(crate) fn is_element(doc: &Document<'_>, id: NodeId, ns: &str, local: &str) -> bool {
    doc.element(id)
        .is_some_and(|e| e.name.matches(Some(ns), local))
}

/// Element children of `id`, in document order.
pub(crate) fn child_elements(doc: &Document<'_>, id: NodeId) -> Vec<NodeId> {
    doc.children_iter(id)
        .filter(|c| doc.element(*c).is_some())
        .collect()
}

/// Element children of `id` named `{ns}local`.
pub(crate) fn children_named(doc: &Document<'_>, id: NodeId, ns: &str, local: &str) -> Vec<NodeId> {
    doc.children_iter(id)
        .filter(|c| is_element(doc, *c, ns, local))
        .collect()
}

/// The single `{ns}local` child; zero or several is malformed (duplicates are
/// a classic way to make two parsers disagree about which one counts).
pub(crate) fn single_child(
    doc: &Document<'_>,
    id: NodeId,
    ns: &str,
    local: &str,
) -> Result<NodeId, SamlError> {
    match optional_child(doc, id, ns, local)? {
        Some(c) => Ok(c),
        None => Err(SamlError::Malformed(format!("missing {local}"))),
    }
}

/// At most one `{ns}local` child.
pub(crate) fn optional_child(
    doc: &Document<'_>,
    id: NodeId,
    ns: &str,
    local: &str,
) -> Result<Option<NodeId>, SamlError> {
    let found = children_named(doc, id, ns, local);
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        _ => Err(SamlError::Malformed(format!("duplicate {local}"))),
    }
}

/// Value of the *unqualified* attribute `name`. `Element::get_attribute`
/// ignores namespaces, so `x:ID="..."` would match "ID"; we do not allow that.
pub(crate) fn attr<'d>(doc: &'d Document<'_>, id: NodeId, name: &str) -> Option<&'d str> {
    doc.element(id)?
        .attributes
        .iter()
        .find(|a| {
            a.name.namespace_uri.is_none() && a.name.prefix.is_none() && a.name.local_name == name
        })
        .map(|a| &*a.value)
}

/// Required unqualified attribute.
pub(crate) fn req_attr<'d>(
    doc: &'d Document<'_>,
    id: NodeId,
    name: &str,
) -> Result<&'d str, SamlError> {
    attr(doc, id, name).ok_or_else(|| SamlError::Malformed(format!("missing attribute {name}")))
}

/// Concatenated text of all descendant text/CDATA nodes, skipping comments.
///
/// Taking only the first text node would let `admin@x<!---->.evil` (whose
/// comment is invisible to exclusive C14N, hence to the signature) read as
/// `admin@x` (CVE-2017-11427 class); concatenating avoids that.
pub(crate) fn text(doc: &Document<'_>, id: NodeId) -> String {
    let mut out = String::new();
    collect_text(doc, id, &mut out);
    out
}

fn collect_text(doc: &Document<'_>, id: NodeId, out: &mut String) {
    for c in doc.children_iter(id) {
        match doc.node_kind(c) {
            Some(NodeKind::Text(t)) | Some(NodeKind::CData(t)) => out.push_str(t),
            Some(NodeKind::Element(_)) => collect_text(doc, c, out),
            _ => {}
        }
    }
}
