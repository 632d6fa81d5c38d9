//! Accounts as S3 shows them: every account (the default one and each tenant) has
//! its own 12-digit id and canonical user id, which ListBuckets' Owner, ACL owners
//! and grantees and `x-amz-expected-bucket-owner` use.

use sha2::{Digest, Sha256};

use crate::S3State;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::xml;

/// An account's S3 identity.
#[derive(Debug, Clone)]
pub(crate) struct AccountOwner {
    /// The account's name ("" for the default account).
    pub account: String,
    pub account_id: String,
    pub canonical_id: String,
    pub display_name: String,
}

impl AccountOwner {
    pub fn xml(&self) -> xml::Owner {
        xml::Owner {
            id: self.canonical_id.clone(),
            display_name: self.display_name.clone(),
        }
    }
}

/// A tenant's canonical id: 64 hex digits, stable for its 12-digit id.
fn canonical_id(account_id: &str) -> String {
    hex::encode(Sha256::digest(format!("hafiz canonical user {account_id}")))
}

/// The identity of account `name` ("" is the default account).
pub(crate) async fn of_account(state: &S3State, name: &str) -> S3Result<AccountOwner> {
    if name.is_empty() {
        return Ok(AccountOwner {
            account: String::new(),
            account_id: state.owner.account_id.clone(),
            canonical_id: state.owner.id.clone(),
            display_name: state.owner.display_name.clone(),
        });
    }
    let a =
        state.meta.account(name).await?.ok_or_else(|| {
            S3Error::internal(format!("account {name} of a bucket does not exist"))
        })?;
    Ok(AccountOwner {
        account: a.name.clone(),
        canonical_id: canonical_id(&a.id),
        account_id: a.id,
        display_name: a.name,
    })
}

/// The account a canonical user id names (ACL grants by id).
pub(crate) async fn by_canonical_id(state: &S3State, id: &str) -> S3Result<Option<AccountOwner>> {
    if id == state.owner.id {
        return of_account(state, "").await.map(Some);
    }
    for a in state.meta.accounts().await? {
        if canonical_id(&a.id) == id {
            return of_account(state, &a.name).await.map(Some);
        }
    }
    Ok(None)
}

/// `x-amz-expected-bucket-owner` (and, for a copy's source,
/// `x-amz-source-expected-bucket-owner`): 403 when the bucket's account differs.
pub(crate) async fn check_expected(
    state: &S3State,
    headers: &http::HeaderMap,
    header: &str,
    bucket: &str,
) -> S3Result<()> {
    let Some(expected) = headers.get(header).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let Some(b) = state.meta.bucket(bucket).await? else {
        return Ok(());
    };
    let owner = of_account(state, &b.account).await?;
    if owner.account_id != expected.trim() {
        return Err(S3Error::new(S3ErrorCode::AccessDenied));
    }
    Ok(())
}
