//! The resources, by type name without the `hafiz_` prefix (the server adds it).

use std::collections::HashMap;

use tf_provider::DynamicResource;

use crate::state::Shared;

pub mod account;
pub mod bucket;
pub mod events;
pub mod iam;
pub mod managed;

use managed::Adapter;

pub fn all(shared: &Shared) -> HashMap<String, Box<dyn DynamicResource>> {
    let mut m: HashMap<String, Box<dyn DynamicResource>> = HashMap::new();
    m.insert(
        "bucket".into(),
        Box::new(bucket::BucketResource(shared.clone())),
    );
    m.insert(
        "bucket_policy".into(),
        Box::new(Adapter::new(shared, account::BucketPolicy)),
    );
    m.insert(
        "account".into(),
        Box::new(Adapter::new(shared, account::Account)),
    );
    m.insert("user".into(), Box::new(Adapter::new(shared, iam::User)));
    m.insert(
        "access_key".into(),
        Box::new(Adapter::new(shared, iam::AccessKey)),
    );
    m.insert("group".into(), Box::new(Adapter::new(shared, iam::Group)));
    m.insert("policy".into(), Box::new(Adapter::new(shared, iam::Policy)));
    m.insert(
        "policy_attachment".into(),
        Box::new(Adapter::new(shared, iam::Attachment)),
    );
    m.insert(
        "notify_target".into(),
        Box::new(Adapter::new(shared, events::NotifyTarget)),
    );
    m.insert(
        "notification".into(),
        Box::new(Adapter::new(shared, events::Notification)),
    );
    m.insert(
        "replication_target".into(),
        Box::new(Adapter::new(shared, events::ReplicationTarget)),
    );
    m.insert(
        "replication".into(),
        Box::new(Adapter::new(shared, events::Replication)),
    );
    m
}
