//! Encryption at rest. Objects are sealed in independently authenticated chunks
//! (`chunks`) with a per-object data key (`keys`); data keys are wrapped by a key of
//! the key service (`kms`), whose key material is in turn sealed by the master key
//! (`master`). Rotating the master key re-seals the key service's few key versions,
//! never an object; the master key may live in an external KMS (`kmip`); rotating a service key adds a version, and objects keep the
//! version that wrapped them.

pub mod chunks;
mod error;
pub mod keys;
pub mod kmip;
pub mod kms;
pub mod master;
pub mod object;

pub use chunks::{ChunkSealer, RangeOpener, Segment, sealed_len};
pub use error::{CryptoError, CryptoResult};
pub use keys::DataKey;
pub use kms::{DEFAULT_KMS_KEY, KeyInfo, KeyService, SSE_S3_KEY};
pub use master::{MasterKey, MasterSource};
pub use object::{decrypting, segments};
