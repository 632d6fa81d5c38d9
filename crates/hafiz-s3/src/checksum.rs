//! S3 additional checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256): computing them
//! while a body streams, and combining part checksums for multipart objects.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use crc_fast::CrcAlgorithm;
use hafiz_meta::{Checksum, ChecksumAlgorithm, ChecksumType};
use sha1::Digest as _;

use crate::error::{S3Error, S3ErrorCode, S3Result};

pub const ALL: [ChecksumAlgorithm; 5] = [
    ChecksumAlgorithm::Crc32,
    ChecksumAlgorithm::Crc32c,
    ChecksumAlgorithm::Crc64Nvme,
    ChecksumAlgorithm::Sha1,
    ChecksumAlgorithm::Sha256,
];

/// `x-amz-checksum-crc32` etc.
pub fn header_name(alg: ChecksumAlgorithm) -> &'static str {
    match alg {
        ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
        ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
        ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
        ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
        ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
    }
}

/// The name as S3 spells it in `x-amz-checksum-algorithm` and XML (`CRC32`, ...).
pub fn algorithm_name(alg: ChecksumAlgorithm) -> &'static str {
    match alg {
        ChecksumAlgorithm::Crc32 => "CRC32",
        ChecksumAlgorithm::Crc32c => "CRC32C",
        ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
        ChecksumAlgorithm::Sha1 => "SHA1",
        ChecksumAlgorithm::Sha256 => "SHA256",
    }
}

pub fn parse_algorithm(name: &str) -> S3Result<ChecksumAlgorithm> {
    ALL.into_iter()
        .find(|a| algorithm_name(*a).eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
            )
        })
}

pub fn type_name(t: ChecksumType) -> &'static str {
    match t {
        ChecksumType::FullObject => "FULL_OBJECT",
        ChecksumType::Composite => "COMPOSITE",
    }
}

pub fn parse_type(name: &str) -> S3Result<ChecksumType> {
    match name {
        "FULL_OBJECT" => Ok(ChecksumType::FullObject),
        "COMPOSITE" => Ok(ChecksumType::Composite),
        _ => Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "Value for x-amz-checksum-type header is invalid.",
        )),
    }
}

fn crc_algorithm(alg: ChecksumAlgorithm) -> Option<CrcAlgorithm> {
    match alg {
        ChecksumAlgorithm::Crc32 => Some(CrcAlgorithm::Crc32IsoHdlc),
        ChecksumAlgorithm::Crc32c => Some(CrcAlgorithm::Crc32Iscsi),
        ChecksumAlgorithm::Crc64Nvme => Some(CrcAlgorithm::Crc64Nvme),
        _ => None,
    }
}

fn crc_bytes(alg: ChecksumAlgorithm, v: u64) -> Vec<u8> {
    match alg {
        ChecksumAlgorithm::Crc64Nvme => v.to_be_bytes().to_vec(),
        _ => (v as u32).to_be_bytes().to_vec(),
    }
}

/// A running checksum over a body.
pub enum Hasher {
    Crc(ChecksumAlgorithm, crc_fast::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Hasher {
    pub fn new(alg: ChecksumAlgorithm) -> Hasher {
        match crc_algorithm(alg) {
            Some(c) => Hasher::Crc(alg, crc_fast::Digest::new(c)),
            None if alg == ChecksumAlgorithm::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            None => Hasher::Sha256(sha2::Sha256::new()),
        }
    }

    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match self {
            Hasher::Crc(a, _) => *a,
            Hasher::Sha1(_) => ChecksumAlgorithm::Sha1,
            Hasher::Sha256(_) => ChecksumAlgorithm::Sha256,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Crc(_, d) => d.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
        }
    }

    pub fn finish_raw(self) -> Vec<u8> {
        match self {
            Hasher::Crc(a, d) => crc_bytes(a, d.finalize()),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
        }
    }

    pub fn finish(self) -> String {
        B64.encode(self.finish_raw())
    }
}

pub fn digest(alg: ChecksumAlgorithm, data: &[u8]) -> String {
    let mut h = Hasher::new(alg);
    h.update(data);
    h.finish()
}

/// The error AWS sends when a supplied checksum does not match the body.
pub fn mismatch(alg: ChecksumAlgorithm) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::BadDigest,
        format!(
            "The {} you specified did not match the calculated checksum.",
            algorithm_name(alg)
        ),
    )
}

/// Whether a supplied value is a well-formed checksum of `alg`.
pub fn well_formed(alg: ChecksumAlgorithm, value: &str) -> bool {
    let expected_len = match alg {
        ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
        ChecksumAlgorithm::Crc64Nvme => 8,
        ChecksumAlgorithm::Sha1 => 20,
        ChecksumAlgorithm::Sha256 => 32,
    };
    B64.decode(value)
        .map(|b| b.len() == expected_len)
        .unwrap_or(false)
}

/// The checksum of a multipart object from its parts' checksums (base64, in part order)
/// and sizes: the checksum of the concatenated part checksums with a `-N` suffix
/// (COMPOSITE), or the CRC of the whole object combined from the part CRCs
/// (FULL_OBJECT), as S3 computes them.
pub fn combine_parts(
    alg: ChecksumAlgorithm,
    kind: ChecksumType,
    parts: &[(String, u64)],
) -> Option<Checksum> {
    let raw: Option<Vec<Vec<u8>>> = parts.iter().map(|(v, _)| B64.decode(v).ok()).collect();
    let raw = raw?;
    let value = match kind {
        ChecksumType::Composite => {
            let mut h = Hasher::new(alg);
            for r in &raw {
                h.update(r);
            }
            format!("{}-{}", h.finish(), parts.len())
        }
        ChecksumType::FullObject => {
            let crc = crc_algorithm(alg)?;
            let mut acc: Option<u64> = None;
            for (r, (_, size)) in raw.iter().zip(parts) {
                let mut buf = [0u8; 8];
                buf[8 - r.len()..].copy_from_slice(r);
                let v = u64::from_be_bytes(buf);
                acc = Some(match acc {
                    None => v,
                    Some(a) => crc_fast::checksum_combine(crc, a, v, *size),
                });
            }
            B64.encode(crc_bytes(alg, acc.unwrap_or(0)))
        }
    };
    Some(Checksum {
        algorithm: alg,
        value,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // Values from the AWS documentation examples / independent implementations.
        assert_eq!(digest(ChecksumAlgorithm::Crc32, b"hello world"), "DUoRhQ==");
        assert_eq!(
            digest(ChecksumAlgorithm::Crc32c, b"hello world"),
            "yZRlqg=="
        );
        assert_eq!(
            digest(ChecksumAlgorithm::Sha1, b"hello world"),
            "Kq5sNclPz7QV2+lfQIuc6R7oRu0="
        );
        assert_eq!(
            digest(ChecksumAlgorithm::Sha256, b"hello world"),
            "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="
        );
        assert!(well_formed(
            ChecksumAlgorithm::Crc64Nvme,
            &digest(ChecksumAlgorithm::Crc64Nvme, b"x")
        ));
    }

    #[test]
    fn full_object_crc_combines_to_whole_crc() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 256) as u8).collect();
        for alg in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let parts: Vec<(String, u64)> = data
                .chunks(30_000)
                .map(|c| (digest(alg, c), c.len() as u64))
                .collect();
            let combined = combine_parts(alg, ChecksumType::FullObject, &parts).unwrap();
            assert_eq!(combined.value, digest(alg, &data), "{alg:?}");
        }
    }

    #[test]
    fn composite_has_part_count_suffix() {
        let parts = vec![
            (digest(ChecksumAlgorithm::Crc32, b"a"), 1),
            (digest(ChecksumAlgorithm::Crc32, b"b"), 1),
        ];
        let c = combine_parts(ChecksumAlgorithm::Crc32, ChecksumType::Composite, &parts).unwrap();
        assert!(c.value.ends_with("-2"));
    }
}
