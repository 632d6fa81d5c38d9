//! Console sessions: a random id in an HttpOnly, SameSite=Strict cookie (Secure when
//! the console is served over TLS) naming server-side state, which holds the keys the
//! console signs with. The secret never goes back to the browser. Sessions live in
//! memory: a restart signs everyone out, which is the safe failure.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use crate::backend::Keys;

pub const COOKIE_NAME: &str = "hafiz_console";

/// A signed-in user.
#[derive(Debug)]
pub struct Session {
    pub id: String,
    pub keys: Keys,
    /// Shown in the header: the access key id, or the SSO subject.
    pub who: String,
    /// Every form carries it; a POST without it is refused.
    pub csrf: String,
    pub expires: Instant,
}

#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Arc<Session>>>,
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

impl Sessions {
    pub fn create(&self, keys: Keys, who: String, ttl: Duration) -> Arc<Session> {
        let s = Arc::new(Session {
            id: random_token(),
            keys,
            who,
            csrf: random_token(),
            expires: Instant::now() + ttl,
        });
        let mut map = self.map.lock().expect("lock");
        let now = Instant::now();
        map.retain(|_, v| v.expires > now);
        map.insert(s.id.clone(), s.clone());
        s
    }

    /// The live session named by the request's cookie.
    pub fn from_headers(&self, headers: &HeaderMap) -> Option<Arc<Session>> {
        let id = cookie(headers, COOKIE_NAME)?;
        let mut map = self.map.lock().expect("lock");
        match map.get(id) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    pub fn remove(&self, id: &str) {
        self.map.lock().expect("lock").remove(id);
    }
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `Set-Cookie` for a session (an empty id and no ttl clear it).
pub fn set_cookie(id: &str, ttl: Option<Duration>, secure: bool) -> String {
    let age = ttl.map(|t| t.as_secs()).unwrap_or(0);
    format!(
        "{COOKIE_NAME}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={age}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Constant-time comparison of a submitted CSRF token with the session's.
pub fn csrf_ok(session: &Session, submitted: &str) -> bool {
    let (a, b) = (session.csrf.as_bytes(), submitted.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys {
            access_key: "AK".into(),
            secret_key: "SK".into(),
            session_token: None,
        }
    }

    #[test]
    fn a_session_is_found_by_its_cookie_until_it_expires() {
        let store = Sessions::default();
        let s = store.create(keys(), "AK".into(), Duration::from_secs(60));
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            format!("other=1; {COOKIE_NAME}={}", s.id).parse().unwrap(),
        );
        assert_eq!(store.from_headers(&h).unwrap().id, s.id);
        let gone = store.create(keys(), "AK".into(), Duration::ZERO);
        h.insert(
            COOKIE,
            format!("{COOKIE_NAME}={}", gone.id).parse().unwrap(),
        );
        assert!(store.from_headers(&h).is_none());
        store.remove(&s.id);
        h.insert(COOKIE, format!("{COOKIE_NAME}={}", s.id).parse().unwrap());
        assert!(store.from_headers(&h).is_none());
    }

    #[test]
    fn csrf_tokens_must_match_exactly() {
        let store = Sessions::default();
        let s = store.create(keys(), "AK".into(), Duration::from_secs(60));
        assert!(csrf_ok(&s, &s.csrf.clone()));
        assert!(!csrf_ok(&s, ""));
        assert!(!csrf_ok(&s, &s.csrf[1..]));
        let cookie = set_cookie(&s.id, Some(Duration::from_secs(60)), true);
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Strict")
                && cookie.ends_with("Secure")
        );
    }
}
