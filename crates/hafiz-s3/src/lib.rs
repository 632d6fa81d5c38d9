//! Hafiz's S3 protocol layer: routing (path and virtual-host style), SigV4, XML, S3
//! errors, and one handler per operation family in [`ops`]. It sees metadata and data
//! only through the `hafiz_meta::Metadata` and `hafiz_storage::BlobStore` traits.

pub mod access;
pub mod audit;
pub mod auth;
pub mod body;
pub mod checksum;
pub mod conditions;
pub mod cors;
pub mod error;
pub mod iam_api;
pub mod ingest;
mod ops;
mod owners;
mod post_object;
pub mod range;
pub mod ratelimit;
pub mod router;
pub mod server;
mod sse;
pub mod sts_api;
pub mod sts_saml;
pub mod sts_web_identity;
pub mod timefmt;
pub mod website;
pub mod xml;

pub use error::{S3Error, S3ErrorCode, S3Result};
pub use ops::{check_bucket_policy, release_blobs, valid_bucket_name};
pub use server::{OwnerInfo, S3Config, S3State, app};
