//! Node-to-node authentication: every RPC carries an HMAC-SHA256 over its method,
//! path, sender, cluster id, timestamp, nonce and body, keyed by the cluster secret.
//! A receiver refuses a request outside a ±30 s window of its clock, or whose nonce
//! it has already seen within the window (a replay), and counts each refusal.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const H_TIME: &str = "x-hafiz-time";
pub const H_NONCE: &str = "x-hafiz-nonce";
pub const H_FROM: &str = "x-hafiz-from";
pub const H_CLUSTER: &str = "x-hafiz-cluster";
pub const H_SIGNATURE: &str = "x-hafiz-signature";

/// How far a request's timestamp may be from the receiver's clock.
pub const WINDOW: Duration = Duration::from_secs(30);

/// Why a request was refused (the `reason` label of
/// `hafiz_cluster_rpc_rejected_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("missing or malformed authentication headers")]
    Malformed,
    #[error("signature does not match (wrong cluster secret?)")]
    BadSignature,
    #[error("timestamp outside the allowed window")]
    Expired,
    #[error("nonce already used (replay)")]
    Replayed,
}

impl Rejection {
    pub fn reason(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed",
            Rejection::BadSignature => "signature",
            Rejection::Expired => "expired",
            Rejection::Replayed => "replayed",
        }
    }
}

/// The fields a signature covers, besides the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub from: u64,
    pub cluster: &'a str,
    pub time_ms: u64,
    pub nonce: &'a str,
}

pub struct ClusterKey {
    secret: Vec<u8>,
    /// Nonces seen within the window, with their timestamps.
    seen: Mutex<HashMap<String, u64>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl ClusterKey {
    pub fn new(secret: &[u8]) -> ClusterKey {
        ClusterKey {
            secret: secret.to_vec(),
            seen: Mutex::new(HashMap::new()),
        }
    }

    fn mac(&self, s: &Signed<'_>, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key");
        let head = format!(
            "HAFIZ-RPC-1\n{}\n{}\n{}\n{}\n{}\n{}\n",
            s.method, s.path, s.from, s.cluster, s.time_ms, s.nonce
        );
        mac.update(head.as_bytes());
        mac.update(body);
        mac
    }

    /// The MAC a streamed body carries as its last 32 bytes: the headers' signature
    /// cannot cover a body that is not there yet, so the body is authenticated at
    /// its end, bound to the request by its nonce. A receiver commits nothing
    /// before the trailer checks out.
    pub fn stream_mac(&self, nonce: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key");
        mac.update(format!("HAFIZ-STREAM-1\n{nonce}\n").as_bytes());
        mac
    }

    /// Headers for a request: `(name, value)` pairs.
    pub fn sign(
        &self,
        method: &str,
        path: &str,
        from: u64,
        cluster: &str,
        body: &[u8],
    ) -> Vec<(&'static str, String)> {
        let nonce = hex::encode(rand::random::<[u8; 16]>());
        let time_ms = now_ms();
        let s = Signed {
            method,
            path,
            from,
            cluster,
            time_ms,
            nonce: &nonce,
        };
        let sig = hex::encode(self.mac(&s, body).finalize().into_bytes());
        vec![
            (H_TIME, time_ms.to_string()),
            (H_NONCE, nonce),
            (H_FROM, from.to_string()),
            (H_CLUSTER, cluster.to_string()),
            (H_SIGNATURE, sig),
        ]
    }

    /// Check a request's signature, window and nonce.
    pub fn verify(&self, s: &Signed<'_>, signature: &str, body: &[u8]) -> Result<(), Rejection> {
        let sig = hex::decode(signature).map_err(|_| Rejection::Malformed)?;
        if s.nonce.len() != 32 {
            return Err(Rejection::Malformed);
        }
        // Constant time: `verify_slice` compares with `subtle`.
        self.mac(s, body)
            .verify_slice(&sig)
            .map_err(|_| Rejection::BadSignature)?;
        let now = now_ms();
        let window = WINDOW.as_millis() as u64;
        if s.time_ms.abs_diff(now) > window {
            return Err(Rejection::Expired);
        }
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() > 4096 {
            seen.retain(|_, t| t.abs_diff(now) <= window);
        }
        if seen.insert(s.nonce.to_string(), s.time_ms).is_some() {
            return Err(Rejection::Replayed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(h: &[(&'static str, String)]) -> (u64, String, String) {
        let get = |n: &str| h.iter().find(|(k, _)| *k == n).unwrap().1.clone();
        (get(H_TIME).parse().unwrap(), get(H_NONCE), get(H_SIGNATURE))
    }

    #[test]
    fn genuine_requests_pass_once() {
        let k = ClusterKey::new(b"secret");
        let h = k.sign("POST", "/raft/vote", 2, "c1", b"body");
        let (time_ms, nonce, sig) = parts(&h);
        let s = Signed {
            method: "POST",
            path: "/raft/vote",
            from: 2,
            cluster: "c1",
            time_ms,
            nonce: &nonce,
        };
        assert_eq!(k.verify(&s, &sig, b"body"), Ok(()));
        assert_eq!(k.verify(&s, &sig, b"body"), Err(Rejection::Replayed));
    }

    #[test]
    fn forged_or_altered_requests_fail() {
        let k = ClusterKey::new(b"secret");
        let other = ClusterKey::new(b"other secret");
        let h = other.sign("POST", "/raft/vote", 2, "c1", b"body");
        let (time_ms, nonce, sig) = parts(&h);
        let mut s = Signed {
            method: "POST",
            path: "/raft/vote",
            from: 2,
            cluster: "c1",
            time_ms,
            nonce: &nonce,
        };
        assert_eq!(k.verify(&s, &sig, b"body"), Err(Rejection::BadSignature));
        let h = k.sign("POST", "/raft/vote", 2, "c1", b"body");
        let (time_ms, nonce, sig) = parts(&h);
        s.time_ms = time_ms;
        s.nonce = &nonce;
        assert_eq!(k.verify(&s, &sig, b"bodY"), Err(Rejection::BadSignature));
        let moved = Signed {
            path: "/raft/append",
            ..s.clone()
        };
        assert_eq!(
            k.verify(&moved, &sig, b"body"),
            Err(Rejection::BadSignature)
        );
        assert_eq!(k.verify(&s, "zz", b"body"), Err(Rejection::Malformed));
    }

    #[test]
    fn stale_timestamps_fail_even_when_signed() {
        let k = ClusterKey::new(b"secret");
        let nonce = "0".repeat(32);
        let s = Signed {
            method: "GET",
            path: "/cluster/status",
            from: 1,
            cluster: "",
            time_ms: now_ms() - 31_000,
            nonce: &nonce,
        };
        let sig = hex::encode(k.mac(&s, b"").finalize().into_bytes());
        assert_eq!(k.verify(&s, &sig, b""), Err(Rejection::Expired));
    }
}
