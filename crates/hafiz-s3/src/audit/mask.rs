//! What an audit record must not show: the values of chosen user-metadata names,
//! and object keys matching chosen patterns. A masked key becomes
//! `masked:<first 16 hex digits of sha256(key)>`, so records of the same object
//! still correlate without revealing it.

use std::borrow::Cow;
use std::collections::HashSet;

use sha2::{Digest, Sha256};
use wildmatch::WildMatch;

/// What replaces a masked metadata value.
pub const MASKED_VALUE: &str = "***";

const META_PREFIX: &str = "x-amz-meta-";

/// As given on the command line.
#[derive(Debug, Clone, Default)]
pub struct MaskConfig {
    /// User-metadata names (with or without `x-amz-meta-`), any case.
    pub metadata: Vec<String>,
    /// Object-key globs: `*` any run of characters including `/`, `?` one character.
    pub keys: Vec<String>,
}

#[derive(Debug, Default)]
pub struct AuditMask {
    metadata: HashSet<String>,
    keys: Vec<WildMatch>,
}

impl AuditMask {
    pub fn new(cfg: &MaskConfig) -> AuditMask {
        AuditMask {
            metadata: cfg
                .metadata
                .iter()
                .map(|n| metadata_name(n.trim()))
                .filter(|n| !n.is_empty())
                .collect(),
            keys: cfg
                .keys
                .iter()
                .map(|p| p.trim())
                .filter(|p| !p.is_empty())
                .map(WildMatch::new)
                .collect(),
        }
    }

    /// Records a user-metadata entry (`name` with or without `x-amz-meta-`) into
    /// `into`, masked if its name is listed. Repeated names are joined with `,` as
    /// HTTP joins repeated headers.
    pub fn add_metadata(
        &self,
        into: &mut serde_json::Map<String, serde_json::Value>,
        name: &str,
        value: &str,
    ) {
        let name = metadata_name(name);
        let masked = self.metadata.contains(&name);
        let value = if masked { MASKED_VALUE } else { value };
        match into.get_mut(&name) {
            Some(serde_json::Value::String(v)) => {
                // A masked name stays a single marker however often it is repeated.
                if !masked {
                    v.push(',');
                    v.push_str(value);
                }
            }
            _ => {
                into.insert(name, value.into());
            }
        }
    }

    /// `key`, or its masked form if a pattern matches it.
    pub fn key<'a>(&self, key: &'a str) -> Cow<'a, str> {
        if self.keys.iter().any(|p| p.matches(key)) {
            Cow::Owned(masked_key(key))
        } else {
            Cow::Borrowed(key)
        }
    }

    pub fn masks_keys(&self) -> bool {
        !self.keys.is_empty()
    }
}

/// Whether a header or query-parameter name carries user metadata.
pub fn is_metadata(name: &str) -> bool {
    name.len() > META_PREFIX.len()
        && name.as_bytes()[..META_PREFIX.len()].eq_ignore_ascii_case(META_PREFIX.as_bytes())
}

fn metadata_name(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    match n.strip_prefix(META_PREFIX) {
        Some(rest) => rest.to_string(),
        None => n,
    }
}

pub fn masked_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    format!("masked:{}", &hex::encode(digest)[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(metadata: &[&str], keys: &[&str]) -> AuditMask {
        AuditMask::new(&MaskConfig {
            metadata: metadata.iter().map(|s| s.to_string()).collect(),
            keys: keys.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn metadata_names_match_in_any_case_with_or_without_prefix() {
        let m = mask(&["Email", " x-amz-meta-SSN ", ""], &[]);
        let mut out = serde_json::Map::new();
        m.add_metadata(&mut out, "x-amz-meta-email", "a@b.c");
        m.add_metadata(&mut out, "X-Amz-Meta-Ssn", "123-45-6789");
        m.add_metadata(&mut out, "x-amz-meta-colour", "blue");
        m.add_metadata(&mut out, "x-amz-meta-colour", "red");
        m.add_metadata(&mut out, "x-amz-meta-EMAIL", "other@b.c");
        assert_eq!(
            serde_json::Value::Object(out),
            serde_json::json!({"email": "***", "ssn": "***", "colour": "blue,red"})
        );
    }

    #[test]
    fn key_globs() {
        let m = mask(&[], &["customers/*/pii/*", "tmp/??.bin", " "]);
        for k in [
            "customers/42/pii/card.txt",
            "customers/a/b/pii/x",
            "customers//pii/",
            "tmp/ab.bin",
        ] {
            assert_eq!(m.key(k), masked_key(k), "{k}");
        }
        for k in [
            "customers/42/public/x",
            "Customers/42/pii/x",
            "tmp/abc.bin",
            "tmp/a.bin",
            "xcustomers/1/pii/x",
        ] {
            assert_eq!(m.key(k), k, "{k}");
        }
        assert!(m.masks_keys());
        assert!(!mask(&["a"], &[]).masks_keys());
    }

    #[test]
    fn masked_keys_correlate_without_revealing() {
        let a = masked_key("customers/1/pii/x");
        assert_eq!(a, masked_key("customers/1/pii/x"));
        assert_ne!(a, masked_key("customers/2/pii/x"));
        assert!(a.starts_with("masked:") && a.len() == "masked:".len() + 16);
        assert!(!a.contains("customers"));
        // The hash is plain sha256, so operators can compute it for a key they know.
        assert_eq!(masked_key("abc"), "masked:ba7816bf8f01cfea");
    }

    #[test]
    fn metadata_names() {
        assert!(is_metadata("x-amz-meta-a"));
        assert!(is_metadata("X-Amz-Meta-A"));
        assert!(!is_metadata("x-amz-meta-"));
        assert!(!is_metadata("x-amz-date"));
    }
}
