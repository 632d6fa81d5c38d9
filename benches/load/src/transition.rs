//! Transition throughput against a plain S3 copy between the same two processes.
//!
//! The baseline copies every object from the hot server to the remote one with one
//! GET and one PUT per object (`concurrency` in flight), as a client-side `cp` would.
//! Then a lifecycle rule (Days 0) sends the same objects to the hot server's tier on
//! the remote server, and the clock runs until every object lists in the tier's
//! storage class: scan, job queueing and the copies themselves. Both move the same
//! bytes over the same loopback between the same processes; the ratio is transition
//! MiB/s over copy MiB/s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http::{Method, StatusCode};
use sha2::{Digest, Sha256};

use crate::s3::{Body, S3Client, encode_path, xml_value};

pub(crate) fn object_body(i: u64, size: u64) -> Bytes {
    let mut block = Sha256::digest(i.to_be_bytes()).to_vec();
    let mut out = Vec::with_capacity(size as usize);
    while (out.len() as u64) < size {
        block = Sha256::digest(&block).to_vec();
        for _ in 0..128 {
            out.extend_from_slice(&block);
        }
    }
    out.truncate(size as usize);
    Bytes::from(out)
}

pub(crate) fn unsigned(bytes: Bytes) -> Body {
    Body {
        bytes,
        sha256: String::new(),
    }
}

pub(crate) async fn in_flight<F, Fut>(n: u64, concurrency: usize, f: F) -> anyhow::Result<()>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let f = Arc::new(f);
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (f, next) = (f.clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), anyhow::Error>(());
                }
                f(i).await?;
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(())
}

pub(crate) fn key(i: u64) -> String {
    format!("tier-bench/{i:05}")
}

/// PUT `objects` objects of `size` (key(i), object_body(i)) into `bucket`.
pub(crate) async fn populate(
    local: &Arc<S3Client>,
    bucket: &str,
    size: u64,
    objects: u64,
    concurrency: usize,
) -> anyhow::Result<()> {
    let (local, b) = (local.clone(), bucket.to_string());
    in_flight(objects, concurrency.max(8), move |i| {
        let (local, b) = (local.clone(), b.clone());
        async move {
            let path = format!("/{}/{}", encode_path(&b), encode_path(&key(i)));
            let (st, _, body) = local
                .send_read(Method::PUT, &path, unsigned(object_body(i, size)))
                .await?;
            if !st.is_success() {
                bail!("PUT {path}: {st} {}", String::from_utf8_lossy(&body));
            }
            Ok(())
        }
    })
    .await
}

/// The baseline of background copies: GET every object from `local`, PUT it into
/// `copy_bucket` of `remote`, `concurrency` in flight; returns the seconds it took.
pub(crate) async fn plain_copy(
    local: &Arc<S3Client>,
    remote: &Arc<S3Client>,
    bucket: &str,
    copy_bucket: &str,
    size: u64,
    objects: u64,
    concurrency: usize,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let (local, remote, b, cb) = (
        local.clone(),
        remote.clone(),
        bucket.to_string(),
        copy_bucket.to_string(),
    );
    in_flight(objects, concurrency, move |i| {
        let (local, remote, b, cb) = (local.clone(), remote.clone(), b.clone(), cb.clone());
        async move {
            let src = format!("/{}/{}", encode_path(&b), encode_path(&key(i)));
            let (st, _, body) = local.send_read(Method::GET, &src, Body::empty()).await?;
            if st != StatusCode::OK || body.len() as u64 != size {
                bail!("GET {src}: {st}, {} bytes", body.len());
            }
            let dst = format!("/{}/{}", encode_path(&cb), encode_path(&key(i)));
            let (st, _, _) = remote.send_read(Method::PUT, &dst, unsigned(body)).await?;
            if !st.is_success() {
                bail!("PUT {dst}: {st}");
            }
            Ok(())
        }
    })
    .await?;
    Ok(started.elapsed().as_secs_f64())
}

#[allow(clippy::too_many_arguments)]
pub async fn run(
    local: S3Client,
    remote: S3Client,
    bucket: &str,
    class: &str,
    size: u64,
    objects: u64,
    concurrency: usize,
    label: Option<&str>,
) -> anyhow::Result<()> {
    let local = Arc::new(local);
    let remote = Arc::new(remote);
    let copy_bucket = format!("{bucket}-copy");
    local.ensure_bucket(bucket).await?;
    remote.ensure_bucket(&copy_bucket).await?;
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

    // Transition: a rule due at once; the scan runs on its own schedule.
    let rule = format!(
        "<LifecycleConfiguration><Rule><ID>bench</ID><Filter><Prefix>tier-bench/</Prefix></Filter>\
         <Status>Enabled</Status><Transition><Days>0</Days><StorageClass>{class}</StorageClass>\
         </Transition></Rule></LifecycleConfiguration>"
    );
    let sum = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(rule.as_bytes()))
    };
    let started = Instant::now();
    let resp = local
        .send_with(
            Method::PUT,
            &format!("/{}?lifecycle", encode_path(bucket)),
            unsigned(Bytes::from(rule)),
            &[("x-amz-checksum-sha256", sum)],
        )
        .await?;
    if !resp.status().is_success() {
        bail!("PutBucketLifecycleConfiguration: {}", resp.status());
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut first_moved: Option<f64> = None;
    // When the first `concurrency` objects were moved (the first wave of jobs).
    let mut wave: Option<(f64, u64)> = None;
    loop {
        let moved = count_listed(
            &local,
            bucket,
            &format!("<StorageClass>{class}</StorageClass>"),
        )
        .await?;
        let t = started.elapsed().as_secs_f64();
        if moved > 0 && first_moved.is_none() {
            first_moved = Some(t);
        }
        if moved >= concurrency as u64 && wave.is_none() {
            wave = Some((t, moved));
        }
        if moved >= objects {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {moved} of {objects} objects transitioned in 600 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let tier_secs = started.elapsed().as_secs_f64();
    // Every object still reads back whole, from the tier.
    for i in [0, objects / 2, objects - 1] {
        let src = format!("/{}/{}", encode_path(bucket), encode_path(&key(i)));
        let (st, _, body) = local.send_read(Method::GET, &src, Body::empty()).await?;
        if st != StatusCode::OK || body != object_body(i, size) {
            bail!(
                "GET {src} after the transition: {st}, {} bytes, wrong body",
                body.len()
            );
        }
    }
    let (copy_rate, tier_rate) = (mib / copy_secs, mib / tier_secs);
    // Past the first wave: the jobs' own pace, without the scan's pickup delay.
    let steady = match wave {
        Some((t, moved)) if moved < objects && tier_secs > t => {
            ((objects - moved) * size) as f64 / (1024.0 * 1024.0) / (tier_secs - t)
        }
        _ => tier_rate,
    };
    println!(
        "transition {objects} x {} MiB: plain copy {copy_rate:.1} MiB/s ({copy_secs:.2} s), \
         transition {tier_rate:.1} MiB/s end to end ({tier_secs:.2} s, first object after {:.2} s; \
         {steady:.1} MiB/s after the first wave); ratio {:.2} (after the first wave {:.2})",
        size as f64 / 1048576.0,
        first_moved.unwrap_or(tier_secs),
        tier_rate / copy_rate,
        steady / copy_rate,
    );
    println!(
        "{}",
        serde_json::json!({
            "op": "transition",
            "label": label,
            "objects": objects,
            "size": size,
            "copy_mib_s": copy_rate,
            "transition_mib_s": tier_rate,
            "first_seconds": first_moved,
            "ratio": tier_rate / copy_rate,
            "steady_mib_s": steady,
            "steady_ratio": steady / copy_rate,
        })
    );
    Ok(())
}

/// How many listed objects under `tier-bench/` of `bucket` show `needle` in their
/// ListObjectsV2 entry (a storage class, or `<Key>` for all of them).
pub(crate) async fn count_listed(c: &S3Client, bucket: &str, needle: &str) -> anyhow::Result<u64> {
    let mut n = 0;
    let mut token: Option<String> = None;
    loop {
        let mut path = format!("/{}?list-type=2&prefix=tier-bench%2F", encode_path(bucket));
        if let Some(t) = &token {
            path.push_str(&format!(
                "&continuation-token={}",
                crate::s3::encode_query(t)
            ));
        }
        let (st, _, body) = c
            .send_read(Method::GET, &path, Body::empty())
            .await
            .context("counting listed objects")?;
        let text = String::from_utf8_lossy(&body);
        if st != StatusCode::OK {
            bail!("ListObjectsV2: {st}");
        }
        n += text.matches(needle).count() as u64;
        match xml_value(&text, "NextContinuationToken") {
            Some(t) if xml_value(&text, "IsTruncated").as_deref() == Some("true") => {
                token = Some(t)
            }
            _ => return Ok(n),
        }
    }
}
