//! Streaming a body into the blob store while computing what S3 reports about it:
//! size, MD5 (the ETag), and the additional checksum, each checked against what the
//! client declared before the blob is handed back for commit.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hafiz_meta::ChecksumAlgorithm;
use hafiz_storage::{BlobStore, StoredBlob};
use http::HeaderMap;
use md5::{Digest, Md5};

use crate::body::RequestBody;
use crate::checksum::{self, Hasher};
use crate::error::{S3Error, S3ErrorCode, S3Result};

/// 5 GiB: the largest single PUT or part S3 accepts.
pub const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum ExpectedChecksum {
    /// Sent as a header before the body.
    Header(String),
    /// Announced in `x-amz-trailer`, arrives after the body.
    Trailer,
    /// Compute and store only.
    Compute,
}

#[derive(Debug, Clone)]
pub struct ChecksumSpec {
    pub algorithm: ChecksumAlgorithm,
    pub expected: ExpectedChecksum,
}

/// Which checksum a write carries. With none named, S3 computes CRC64NVME for every
/// new object, and so do we.
pub fn checksum_spec(h: &HeaderMap) -> S3Result<ChecksumSpec> {
    for alg in checksum::ALL {
        let name = checksum::header_name(alg);
        if let Some(v) = h.get(name) {
            let v = v.to_str().unwrap_or("").trim().to_string();
            if !checksum::well_formed(alg, &v) {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    format!("Value for {name} header is invalid."),
                ));
            }
            return Ok(ChecksumSpec {
                algorithm: alg,
                expected: ExpectedChecksum::Header(v),
            });
        }
    }
    if let Some(t) = h.get("x-amz-trailer").and_then(|v| v.to_str().ok()) {
        let t = t.trim().to_ascii_lowercase();
        if let Some(alg) = checksum::ALL
            .into_iter()
            .find(|a| checksum::header_name(*a) == t)
        {
            return Ok(ChecksumSpec {
                algorithm: alg,
                expected: ExpectedChecksum::Trailer,
            });
        }
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "The value specified in the x-amz-trailer header is not supported",
        ));
    }
    if let Some(a) = h
        .get("x-amz-sdk-checksum-algorithm")
        .and_then(|v| v.to_str().ok())
    {
        return Ok(ChecksumSpec {
            algorithm: checksum::parse_algorithm(a)?,
            expected: ExpectedChecksum::Compute,
        });
    }
    Ok(ChecksumSpec {
        algorithm: ChecksumAlgorithm::Crc64Nvme,
        expected: ExpectedChecksum::Compute,
    })
}

/// `Content-MD5`, decoded.
pub fn content_md5(h: &HeaderMap) -> S3Result<Option<[u8; 16]>> {
    let Some(v) = h.get("content-md5") else {
        return Ok(None);
    };
    let raw = B64
        .decode(v.to_str().unwrap_or("").trim())
        .map_err(|_| S3Error::new(S3ErrorCode::InvalidDigest))?;
    let arr: [u8; 16] = raw
        .try_into()
        .map_err(|_| S3Error::new(S3ErrorCode::InvalidDigest))?;
    Ok(Some(arr))
}

/// The payload length the client declared, if any (decoded length for aws-chunked).
pub fn declared_length(h: &HeaderMap) -> S3Result<Option<u64>> {
    let v = h
        .get("x-amz-decoded-content-length")
        .or_else(|| h.get(http::header::CONTENT_LENGTH));
    match v {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| {
                S3Error::with_message(S3ErrorCode::InvalidArgument, "Invalid content length")
            }),
    }
}

pub struct Ingested {
    pub size: u64,
    pub md5_hex: String,
    pub checksum_algorithm: ChecksumAlgorithm,
    /// Base64 checksum of the body.
    pub checksum: String,
    pub stored: StoredBlob,
}

pub struct IngestLimits {
    pub declared_len: Option<u64>,
    pub max: u64,
}

/// Stream `body` into a new blob, sealed by `sealer` when the object is encrypted
/// (MD5 and checksums are of the plaintext, as S3 reports them). On any error the
/// partial blob is discarded.
pub async fn ingest(
    body: &mut RequestBody,
    blobs: &dyn BlobStore,
    placement: &str,
    spec: &ChecksumSpec,
    md5_expected: Option<[u8; 16]>,
    limits: IngestLimits,
    mut sealer: Option<hafiz_crypto::ChunkSealer>,
) -> S3Result<Ingested> {
    if let Some(len) = limits.declared_len
        && len > limits.max
    {
        return Err(S3Error::new(S3ErrorCode::EntityTooLarge)
            .extra("ProposedSize", len.to_string())
            .extra("MaxSizeAllowed", limits.max.to_string()));
    }
    let mut writer = blobs.writer(placement).await?;
    let mut md5 = Md5::new();
    let mut hasher = Hasher::new(spec.algorithm);
    let mut size = 0u64;
    let result: S3Result<()> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            if size > limits.max {
                return Err(S3Error::new(S3ErrorCode::EntityTooLarge));
            }
            md5.update(&chunk);
            hasher.update(&chunk);
            match &mut sealer {
                None => writer.write(chunk).await?,
                Some(s) => {
                    for sealed in s.push(&chunk) {
                        writer.write(sealed).await?;
                    }
                }
            }
        }
        if let Some(last) = sealer.take().and_then(|s| s.finish()) {
            writer.write(last).await?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        writer.abort().await;
        return Err(e);
    }
    let md5_raw: [u8; 16] = md5.finalize().into();
    let computed = hasher.finish();
    let verdict = (|| {
        if let Some(len) = limits.declared_len
            && len != size
        {
            return Err(S3Error::new(S3ErrorCode::IncompleteBody));
        }
        if let Some(expected) = md5_expected
            && expected != md5_raw
        {
            return Err(S3Error::new(S3ErrorCode::BadDigest));
        }
        let expected = match &spec.expected {
            ExpectedChecksum::Header(v) => Some(v.clone()),
            ExpectedChecksum::Trailer => {
                let name = checksum::header_name(spec.algorithm);
                match body.trailer(name) {
                    Some(v) => Some(v),
                    None => {
                        return Err(S3Error::with_message(
                            S3ErrorCode::InvalidRequest,
                            format!("The {name} trailer announced in x-amz-trailer was not sent"),
                        ));
                    }
                }
            }
            ExpectedChecksum::Compute => None,
        };
        if let Some(v) = expected
            && v.trim() != computed
        {
            return Err(checksum::mismatch(spec.algorithm));
        }
        Ok(())
    })();
    if let Err(e) = verdict {
        writer.abort().await;
        return Err(e);
    }
    let stored = writer.finish().await?;
    metrics::counter!("hafiz_s3_received_bytes_total").increment(size);
    Ok(Ingested {
        size,
        md5_hex: hex::encode(md5_raw),
        checksum_algorithm: spec.algorithm,
        checksum: computed,
        stored,
    })
}
