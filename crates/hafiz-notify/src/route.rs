//! Chains: a target that forwards each event to the targets whose routes select it
//! (by event type and key), so one bucket rule can fan out by rules of the operator.

use serde::{Deserialize, Serialize};

use crate::config::{event_matches, glob_matches};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Route {
    /// The ARN of the target the route leads to (not itself a chain).
    pub target: String,
    /// Event types as in a bucket rule (`s3:ObjectCreated:*`); empty selects all.
    #[serde(default)]
    pub events: Vec<String>,
    /// A glob over the key (`*` within a segment, `**` across); None selects all.
    #[serde(default)]
    pub key: Option<String>,
}

#[derive(Deserialize)]
struct WithRoutes {
    #[serde(default)]
    routes: Vec<Route>,
}

impl Route {
    /// The routes of a stored target configuration (JSON with a `routes` list);
    /// empty for a target that delivers by itself.
    pub fn of_target(config: &[u8]) -> Vec<Route> {
        serde_json::from_slice::<WithRoutes>(config)
            .map(|w| w.routes)
            .unwrap_or_default()
    }

    pub fn selects(&self, event: &str, key: &str) -> bool {
        (self.events.is_empty() || self.events.iter().any(|e| event_matches(e, event)))
            && self.key.as_deref().is_none_or(|g| glob_matches(g, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_select_by_event_and_key() {
        let raw = br#"{"kind":"chain","routes":[
            {"target":"a","events":["s3:ObjectCreated:*"],"key":"images/**/*.jpg"},
            {"target":"b","events":[]}]}"#;
        let routes = Route::of_target(raw);
        assert_eq!(routes.len(), 2);
        assert!(routes[0].selects("s3:ObjectCreated:Put", "images/2026/x.jpg"));
        assert!(!routes[0].selects("s3:ObjectRemoved:Delete", "images/2026/x.jpg"));
        assert!(!routes[0].selects("s3:ObjectCreated:Put", "images/x.png"));
        assert!(routes[1].selects("s3:ObjectRemoved:Delete", "any"));
        assert!(Route::of_target(br#"{"kind":"webhook"}"#).is_empty());
    }
}
