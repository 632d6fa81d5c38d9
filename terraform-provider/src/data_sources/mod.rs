//! The data sources, by type name without the `hafiz_` prefix (the server adds it).

use std::collections::HashMap;

use tf_provider::DynamicDataSource;

use crate::state::Shared;

mod lookup;
mod policy_document;

pub fn all(shared: &Shared) -> HashMap<String, Box<dyn DynamicDataSource>> {
    let mut m: HashMap<String, Box<dyn DynamicDataSource>> = HashMap::new();
    m.insert(
        "bucket".into(),
        Box::new(lookup::BucketData(shared.clone())),
    );
    m.insert("user".into(), Box::new(lookup::UserData(shared.clone())));
    m.insert(
        "policy_document".into(),
        Box::new(policy_document::PolicyDocument),
    );
    m
}
