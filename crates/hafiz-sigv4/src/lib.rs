//! SigV4 signing of requests Hafiz's own clients send (the admin CLI, the console's
//! in-process calls, remote tiers and replication targets, the Terraform provider).
//!
//! Every caller builds URLs whose path segments are already percent-encoded once, so
//! the signer must neither encode them again nor normalise the path: the server
//! checks exactly that form.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

#[derive(Debug, thiserror::Error)]
#[error("cannot sign the request: {0}")]
pub struct SignError(String);

/// What the signature covers of the body.
#[derive(Clone, Copy, Debug)]
pub enum Payload<'a> {
    /// The body's bytes (hashed into `x-amz-content-sha256`).
    Bytes(&'a [u8]),
    /// `UNSIGNED-PAYLOAD`: for bodies that stream and cannot be hashed first.
    Unsigned,
}

/// One principal's keys for one service in one region.
pub struct Signer {
    identity: Identity,
    region: String,
    service: String,
}

impl Signer {
    pub fn new(
        access_key: &str,
        secret_key: &str,
        session_token: Option<String>,
        region: &str,
        service: &str,
    ) -> Signer {
        Signer {
            identity: Credentials::new(access_key, secret_key, session_token, None, "hafiz").into(),
            region: region.to_string(),
            service: service.to_string(),
        }
    }

    /// The headers to add to a request (`authorization`, `x-amz-date`,
    /// `x-amz-content-sha256`, and `x-amz-security-token` for session keys).
    /// `headers` are those the request will carry and the signature covers; `host`
    /// must be among them unless `url` names the host the server sees.
    pub fn sign<'a>(
        &self,
        method: &'a str,
        url: &'a str,
        headers: impl Iterator<Item = (&'a str, &'a str)>,
        payload: Payload<'a>,
    ) -> Result<Vec<(String, String)>, SignError> {
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(&self.service)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| SignError(e.to_string()))?
            .into();
        let body = match payload {
            Payload::Bytes(b) => SignableBody::Bytes(b),
            Payload::Unsigned => SignableBody::UnsignedPayload,
        };
        let signable = SignableRequest::new(method, url, headers, body)
            .map_err(|e| SignError(e.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| SignError(e.to_string()))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_with_the_service_region_and_payload_hash() {
        let s = Signer::new("AKID", "secret", None, "eu-west-1", "hafiz-admin");
        let h = s
            .sign(
                "GET",
                "http://127.0.0.1:9001/v1/users",
                [("host", "127.0.0.1:9001")].into_iter(),
                Payload::Bytes(b""),
            )
            .unwrap();
        let get = |n: &str| h.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        let auth = get("authorization").unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKID/"),
            "{auth}"
        );
        assert!(
            auth.contains("/eu-west-1/hafiz-admin/aws4_request"),
            "{auth}"
        );
        assert_eq!(
            get("x-amz-content-sha256"),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert!(get("x-amz-security-token").is_none());
        let unsigned = s
            .sign("PUT", "http://h/b/k", std::iter::empty(), Payload::Unsigned)
            .unwrap();
        assert!(
            unsigned
                .iter()
                .any(|(k, v)| k == "x-amz-content-sha256" && v == "UNSIGNED-PAYLOAD")
        );
    }

    #[test]
    fn session_keys_carry_their_token() {
        let s = Signer::new("ASIA", "secret", Some("tok".into()), "us-east-1", "s3");
        let h = s
            .sign("GET", "http://h/", std::iter::empty(), Payload::Bytes(b""))
            .unwrap();
        assert!(
            h.iter()
                .any(|(k, v)| k == "x-amz-security-token" && v == "tok")
        );
    }
}
