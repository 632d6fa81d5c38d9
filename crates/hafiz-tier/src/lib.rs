//! Tiering: tiers configured by the operator (sets of local drives, or buckets of
//! S3 endpoints) exposed as storage classes; transitions, restores of archived
//! objects, promotions on reads and the deletion of copies, all as durable jobs.
//!
//! A copy in a tier is referenced by its version's row (`ObjectData::Tiered`): the
//! metadata commit that moves a version's data is the moment a transition happens,
//! and the commit that drops a reference queues the copy's deletion (see
//! `hafiz_meta::TIER_DELETE_JOB`), so no copy is left without an owner.

pub mod config;
pub mod error;
pub mod jobs;
pub mod policy;
pub mod read;
pub mod registry;
pub mod remote;
pub mod store;

pub use config::{HOT_CLASS, TierConfig, TierKind, TierKindSpec, TierSpec, TierView};
pub use error::{TierError, TierResult};
pub use jobs::{MoveJob, PROMOTE_JOB, RESTORE_JOB, RestoreJob, TRANSITION_JOB, Tiering};
pub use read::{DataSource, DataSources};
pub use registry::{Tier, Tiers};
pub use store::{Source, TierStore};
