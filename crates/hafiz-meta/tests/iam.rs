//! IAM rows and AWS's rules on them, through the store's apply.

use hafiz_meta::iam::{AccessKey, IamCommand, IamGroup, IamUser, ManagedPolicy};
use hafiz_meta::*;

fn store() -> (tempfile::TempDir, MetaStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = MetaStore::open(&dir.path().join("meta")).unwrap();
    (dir, s)
}

fn iam(s: &MetaStore, c: IamCommand) -> MetaResult<Outcome> {
    s.apply_sync(Command::Iam(c))
}

fn user(name: &str) -> IamCommand {
    IamCommand::CreateUser(IamUser {
        name: name.into(),
        id: format!("AIDA{name}"),
        path: "/".into(),
        ..Default::default()
    })
}

fn key(user: &str, id: &str) -> IamCommand {
    IamCommand::CreateAccessKey(AccessKey {
        access_key_id: id.into(),
        secret_key: "s".into(),
        user: user.into(),
        active: true,
        created: 1,
        session: None,
    })
}

#[tokio::test]
async fn users_keys_and_their_limits() {
    let (_d, s) = store();
    let g0 = s.iam_generation();
    iam(&s, user("alice")).unwrap();
    assert!(s.iam_generation() > g0);
    assert!(matches!(
        iam(&s, user("alice")),
        Err(MetaError::EntityAlreadyExists(_))
    ));
    assert!(matches!(
        iam(&s, key("bob", "K0")),
        Err(MetaError::NoSuchEntity { .. })
    ));
    iam(&s, key("alice", "K1")).unwrap();
    iam(&s, key("alice", "K2")).unwrap();
    assert!(matches!(
        iam(&s, key("alice", "K3")),
        Err(MetaError::LimitExceeded(_))
    ));
    assert_eq!(s.access_keys("alice").await.unwrap().len(), 2);
    iam(
        &s,
        IamCommand::UpdateAccessKey {
            user: "alice".into(),
            access_key_id: "K1".into(),
            active: false,
        },
    )
    .unwrap();
    assert!(!s.access_key("K1").await.unwrap().unwrap().active);
    // A key of another user cannot be touched through this one.
    iam(&s, user("bob")).unwrap();
    assert!(matches!(
        iam(
            &s,
            IamCommand::DeleteAccessKey {
                user: "bob".into(),
                access_key_id: "K1".into()
            }
        ),
        Err(MetaError::NoSuchEntity { .. })
    ));
    assert!(matches!(
        iam(
            &s,
            IamCommand::DeleteUser {
                name: "alice".into(),
                detach: false,
            }
        ),
        Err(MetaError::DeleteConflict(_))
    ));
    for k in ["K1", "K2"] {
        iam(
            &s,
            IamCommand::DeleteAccessKey {
                user: "alice".into(),
                access_key_id: k.into(),
            },
        )
        .unwrap();
    }
    iam(
        &s,
        IamCommand::DeleteUser {
            name: "alice".into(),
            detach: false,
        },
    )
    .unwrap();
    assert!(s.iam_user("alice").await.unwrap().is_none());
    assert_eq!(s.iam_users().await.unwrap().len(), 1);
}

#[tokio::test]
async fn policies_and_groups_count_their_attachments() {
    let (_d, s) = store();
    iam(&s, user("carol")).unwrap();
    iam(
        &s,
        IamCommand::CreatePolicy(ManagedPolicy {
            name: "ro".into(),
            document: "{}".into(),
            ..Default::default()
        }),
    )
    .unwrap();
    iam(
        &s,
        IamCommand::CreateGroup(IamGroup {
            name: "readers".into(),
            ..Default::default()
        }),
    )
    .unwrap();
    iam(
        &s,
        IamCommand::AttachUserPolicy {
            user: "carol".into(),
            policy: "ro".into(),
        },
    )
    .unwrap();
    iam(
        &s,
        IamCommand::AttachGroupPolicy {
            group: "readers".into(),
            policy: "ro".into(),
        },
    )
    .unwrap();
    iam(
        &s,
        IamCommand::AddUserToGroup {
            group: "readers".into(),
            user: "carol".into(),
        },
    )
    .unwrap();
    assert_eq!(s.iam_policy("ro").await.unwrap().unwrap().attachments, 2);
    assert_eq!(
        s.iam_user("carol").await.unwrap().unwrap().groups,
        ["readers"]
    );
    assert!(matches!(
        iam(&s, IamCommand::DeletePolicy { name: "ro".into() }),
        Err(MetaError::DeleteConflict(_))
    ));
    assert!(matches!(
        iam(
            &s,
            IamCommand::DeleteGroup {
                name: "readers".into()
            }
        ),
        Err(MetaError::DeleteConflict(_))
    ));
    iam(
        &s,
        IamCommand::DetachUserPolicy {
            user: "carol".into(),
            policy: "ro".into(),
        },
    )
    .unwrap();
    iam(
        &s,
        IamCommand::DetachGroupPolicy {
            group: "readers".into(),
            policy: "ro".into(),
        },
    )
    .unwrap();
    iam(&s, IamCommand::DeletePolicy { name: "ro".into() }).unwrap();
    iam(
        &s,
        IamCommand::RemoveUserFromGroup {
            group: "readers".into(),
            user: "carol".into(),
        },
    )
    .unwrap();
    assert!(
        s.iam_user("carol")
            .await
            .unwrap()
            .unwrap()
            .groups
            .is_empty()
    );
    iam(
        &s,
        IamCommand::DeleteGroup {
            name: "readers".into(),
        },
    )
    .unwrap();
}

#[tokio::test]
async fn expired_sessions_are_swept_and_live_ones_kept() {
    use hafiz_meta::iam::Session;
    let (_d, s) = store();
    iam(&s, user("dave")).unwrap();
    iam(&s, key("dave", "LONG")).unwrap();
    for (id, expires) in [("OLD", 100), ("NEW", 10_000)] {
        iam(
            &s,
            IamCommand::CreateSessionKey(AccessKey {
                access_key_id: id.into(),
                secret_key: "s".into(),
                user: "dave".into(),
                active: true,
                created: 1,
                session: Some(Session {
                    token: "t".into(),
                    expires,
                    policy: None,
                    name: "n".into(),
                    web_identity: None,
                    parent_key: None,
                }),
            }),
        )
        .unwrap();
    }
    // Temporary keys do not count against the two-key limit.
    iam(&s, key("dave", "LONG2")).unwrap();
    iam(&s, IamCommand::RemoveExpiredSessions { now: 5_000 }).unwrap();
    assert!(s.access_key("OLD").await.unwrap().is_none());
    assert!(s.access_key("NEW").await.unwrap().is_some());
    assert!(s.access_key("LONG").await.unwrap().is_some());
}

#[tokio::test]
async fn deleting_with_detach_takes_keys_attachments_and_memberships_at_once() {
    let (_d, s) = store();
    iam(&s, user("erin")).unwrap();
    iam(&s, key("erin", "KE")).unwrap();
    iam(
        &s,
        IamCommand::CreatePolicy(ManagedPolicy {
            name: "ro".into(),
            document: "{}".into(),
            ..Default::default()
        }),
    )
    .unwrap();
    iam(
        &s,
        IamCommand::AttachUserPolicy {
            user: "erin".into(),
            policy: "ro".into(),
        },
    )
    .unwrap();
    iam(
        &s,
        IamCommand::CreateGroup(IamGroup {
            name: "devs".into(),
            ..Default::default()
        }),
    )
    .unwrap();
    iam(
        &s,
        IamCommand::AddUserToGroup {
            group: "devs".into(),
            user: "erin".into(),
        },
    )
    .unwrap();
    iam(
        &s,
        IamCommand::DeleteUser {
            name: "erin".into(),
            detach: true,
        },
    )
    .unwrap();
    assert!(s.iam_user("erin").await.unwrap().is_none());
    assert!(s.access_key("KE").await.unwrap().is_none());
    assert_eq!(s.iam_policy("ro").await.unwrap().unwrap().attachments, 0);
    assert!(
        s.iam_group("devs")
            .await
            .unwrap()
            .unwrap()
            .members
            .is_empty()
    );
    // The policy is free to go now.
    iam(&s, IamCommand::DeletePolicy { name: "ro".into() }).unwrap();
}
