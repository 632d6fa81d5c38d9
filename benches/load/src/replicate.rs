//! Replication throughput against a plain S3 copy between the same two processes.
//!
//! The baseline copies every object from the source server to the destination with
//! one GET and one PUT per object (`concurrency` in flight), as a client-side `cp`
//! would. Then a replication rule with ExistingObjectReplication sends the same
//! objects to the destination bucket of the source's replication target, and the
//! clock runs until every object lists there: the resync job's walk, the queueing
//! and the replicator's copies. Both move the same bytes over the same loopback
//! between the same processes; the ratio is replication MiB/s over copy MiB/s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::Bytes;
use http::{Method, StatusCode};
use sha2::{Digest, Sha256};

use crate::s3::{Body, S3Client, encode_path};
use crate::transition::{count_listed, key, object_body, plain_copy, populate, unsigned};

async fn put_xml(c: &S3Client, path: &str, xml: String) -> anyhow::Result<()> {
    let sum = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(xml.as_bytes()))
    };
    let resp = c
        .send_with(
            Method::PUT,
            path,
            unsigned(Bytes::from(xml)),
            &[("x-amz-checksum-sha256", sum)],
        )
        .await?;
    if !resp.status().is_success() {
        bail!("PUT {path}: {}", resp.status());
    }
    Ok(())
}

async fn enable_versioning(c: &S3Client, bucket: &str) -> anyhow::Result<()> {
    put_xml(
        c,
        &format!("/{}?versioning", encode_path(bucket)),
        "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>".into(),
    )
    .await
}

/// `target_arn` is the source's replication target; `dest_bucket` its bucket on
/// `remote`.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    local: S3Client,
    remote: S3Client,
    bucket: &str,
    target_arn: &str,
    dest_bucket: &str,
    size: u64,
    objects: u64,
    concurrency: usize,
    label: Option<&str>,
) -> anyhow::Result<()> {
    let local = Arc::new(local);
    let remote = Arc::new(remote);
    let copy_bucket = format!("{bucket}-copy");
    local.ensure_bucket(bucket).await?;
    enable_versioning(&local, bucket).await?;
    remote.ensure_bucket(&copy_bucket).await?;
    remote.ensure_bucket(dest_bucket).await?;
    enable_versioning(&remote, dest_bucket).await?;
    populate(&local, bucket, size, objects, concurrency).await?;
    let mib = (size * objects) as f64 / (1024.0 * 1024.0);
    let copy_secs = plain_copy(
        &local,
        &remote,
        bucket,
        &copy_bucket,
        size,
        objects,
        concurrency,
    )
    .await?;

    // Replication of the existing objects, from the moment the rule is put.
    let rule = format!(
        "<ReplicationConfiguration><Role>bench</Role><Rule><ID>bench</ID><Priority>1</Priority>\
         <Status>Enabled</Status><Filter><Prefix>tier-bench/</Prefix></Filter>\
         <DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication>\
         <ExistingObjectReplication><Status>Enabled</Status></ExistingObjectReplication>\
         <Destination><Bucket>{target_arn}</Bucket></Destination></Rule></ReplicationConfiguration>"
    );
    let started = Instant::now();
    put_xml(
        &local,
        &format!("/{}?replication", encode_path(bucket)),
        rule,
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut first: Option<f64> = None;
    loop {
        let there = count_listed(&remote, dest_bucket, "<Key>").await?;
        let t = started.elapsed().as_secs_f64();
        if there > 0 && first.is_none() {
            first = Some(t);
        }
        if there >= objects {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {there} of {objects} objects replicated in 600 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let repl_secs = started.elapsed().as_secs_f64();
    for i in [0, objects / 2, objects - 1] {
        let dst = format!("/{}/{}", encode_path(dest_bucket), encode_path(&key(i)));
        let (st, _, body) = remote.send_read(Method::GET, &dst, Body::empty()).await?;
        if st != StatusCode::OK || body != object_body(i, size) {
            bail!(
                "GET {dst} of the replica: {st}, {} bytes, wrong body",
                body.len()
            );
        }
    }
    let (copy_rate, repl_rate) = (mib / copy_secs, mib / repl_secs);
    println!(
        "replication {objects} x {} MiB: plain copy {copy_rate:.1} MiB/s ({copy_secs:.2} s), \
         replication {repl_rate:.1} MiB/s end to end ({repl_secs:.2} s, first object after {:.2} s); \
         ratio {:.2}",
        size as f64 / 1048576.0,
        first.unwrap_or(repl_secs),
        repl_rate / copy_rate,
    );
    println!(
        "{}",
        serde_json::json!({
            "op": "replication",
            "label": label,
            "objects": objects,
            "size": size,
            "copy_mib_s": copy_rate,
            "replication_mib_s": repl_rate,
            "first_seconds": first,
            "ratio": repl_rate / copy_rate,
        })
    );
    Ok(())
}
