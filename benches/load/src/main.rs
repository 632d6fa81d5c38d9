//! `hafiz-bench`: load benchmark for Hafiz (or any S3 endpoint).
//!
//! Speaks S3 over HTTP/1.1 keep-alive with real SigV4 signing, measures one operation
//! per run (ops/s, MiB/s, p50/p99/p999 latency, errors), verifies every GET body, and
//! ends with one JSON line. `--noop-server`, `--op noop` and `--files-baseline` measure
//! the ceilings the server is compared against; `--report` prints the ratio table.
//! `benches/run.sh` drives the whole matrix.

mod baseline;
mod payload;
mod replicate;
mod report;
mod s3;
mod stats;
mod transition;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http::{Method, StatusCode};
use http_body_util::BodyExt;

use crate::payload::Payload;
use crate::s3::{Body, S3Client, encode_path, encode_query, xml_value};
use crate::stats::{Stats, format_size, parse_size};

#[derive(Parser, Debug)]
#[command(
    name = "hafiz-bench",
    version,
    about = "Load benchmark for Hafiz / any S3 endpoint: SigV4 over HTTP/1.1 keep-alive, \
             verified GETs, latency percentiles, file and no-op HTTP baselines"
)]
struct Cli {
    /// S3 endpoint (path-style, plain HTTP).
    #[arg(long, default_value = "http://127.0.0.1:9000")]
    endpoint: String,
    /// Operation to measure.
    #[arg(long, value_enum, default_value_t = Op::Put)]
    op: Op,
    /// Object size: 4KiB, 1MiB, 64MiB, 0 ...
    #[arg(long, default_value = "4KiB", value_parser = parse_size)]
    size: u64,
    /// Requests (or files) in flight.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Objects (= operations without --duration). Default 1000. With --duration it is
    /// the key space the operations cycle over.
    #[arg(long)]
    count: Option<u64>,
    /// Run for this many seconds instead of --count operations.
    #[arg(long)]
    duration: Option<f64>,
    /// Bucket (created if missing).
    #[arg(long, default_value = "hafiz-bench")]
    bucket: String,
    /// Key prefix; default `bench-<size>/`, so a `get` finds what a `put` of the same
    /// size wrote.
    #[arg(long)]
    prefix: Option<String>,
    /// Keys per ListObjectsV2 page.
    #[arg(long, default_value_t = 1000)]
    page_size: u32,
    /// Part size for --op multipart.
    #[arg(long, default_value = "8MiB", value_parser = parse_size)]
    part_size: u64,
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    access_key: Option<String>,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Sign `UNSIGNED-PAYLOAD` instead of the body's SHA-256.
    #[arg(long)]
    unsigned_payload: bool,
    /// get/head/delete/list: the objects already exist (written by an earlier `put` with
    /// the same --prefix/--size/--count); skip writing them first.
    #[arg(long)]
    populated: bool,
    /// Concurrency of the populate phase (default: max(--concurrency, 32)).
    #[arg(long)]
    populate_concurrency: Option<usize>,
    /// Per-request timeout, seconds.
    #[arg(long, default_value_t = 300.0)]
    timeout: f64,
    /// Set the bucket's default encryption to SSE-S3 (AES256) before the run.
    #[arg(long)]
    sse_s3: bool,
    /// Added to the JSON line as "label" (run.sh: the node layout).
    #[arg(long)]
    label: Option<String>,
    /// Exit 0 even if some requests failed.
    #[arg(long)]
    allow_errors: bool,
    /// Run a no-op HTTP/1.1 server on ADDR (200, empty body, for every request) and
    /// nothing else.
    #[arg(long, value_name = "ADDR")]
    noop_server: Option<SocketAddr>,
    /// Write --count files of --size into DIR with fsync, read them back: the physical
    /// baseline (ops file-write / file-read).
    #[arg(long, value_name = "DIR")]
    files_baseline: Option<PathBuf>,
    /// Print the ratio table of a results file (JSON lines from earlier runs).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Transition benchmark: --endpoint has a tier of --storage-class on the S3
    /// endpoint given here. Puts --count objects of --size, copies them to this
    /// endpoint with GET+PUT (the baseline), then lets a lifecycle rule move them.
    #[arg(long, value_name = "URL")]
    transition_to: Option<String>,
    /// The tier's storage class (--transition-to).
    #[arg(long, default_value = "STANDARD_IA")]
    storage_class: String,
    /// Replication benchmark: --endpoint has replication target --target-arn, whose
    /// bucket is --dest-bucket on the S3 endpoint given here. Puts --count objects of
    /// --size, copies them there with GET+PUT (the baseline), then lets a replication
    /// rule with ExistingObjectReplication send them.
    #[arg(long, value_name = "URL", requires_all = ["target_arn", "dest_bucket"])]
    replicate_to: Option<String>,
    #[arg(long)]
    target_arn: Option<String>,
    #[arg(long)]
    dest_bucket: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Put,
    Get,
    Head,
    Delete,
    List,
    Multipart,
    /// Signed GETs that only count `200`s: run against `--noop-server`.
    Noop,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::Get => "get",
            Op::Head => "head",
            Op::Delete => "delete",
            Op::List => "list",
            Op::Multipart => "multipart",
            Op::Noop => "noop",
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hafiz-bench: tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hafiz-bench: FATAL: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Seed of the object bodies: fixed, so a later run can verify what an earlier one wrote.
const SEED: u64 = 0x6861_6669_7a21;

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Some(path) = &cli.report {
        let missed = report::report(path)?;
        println!("targets missed: {missed}");
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(addr) = cli.noop_server {
        baseline::noop_server(addr).await?;
        return Ok(ExitCode::SUCCESS);
    }
    if cli.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let objects = cli.count.unwrap_or(1000);
    let deadline_secs = cli.duration.map(Duration::from_secs_f64);

    if let Some(dir) = &cli.files_baseline {
        let payload = Arc::new(Payload::new(cli.size, objects, SEED));
        let dir = dir.clone();
        let conc = cli.concurrency;
        let (w, r) =
            tokio::task::spawn_blocking(move || baseline::files(&dir, payload, objects, conc))
                .await??;
        stats::print_header();
        stats::print_row(&w);
        stats::print_row(&r);
        println!("{}", w.json(cli.label.as_deref()));
        println!("{}", r.json(cli.label.as_deref()));
        return Ok(ExitCode::SUCCESS);
    }

    let (access_key, secret_key) = match (&cli.access_key, &cli.secret_key) {
        (Some(a), Some(s)) => (a.clone(), s.clone()),
        _ if cli.op == Op::Noop => ("noop".to_string(), "noop".to_string()),
        _ => bail!(
            "credentials: --access-key/--secret-key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        ),
    };
    let client = |url: &str, conc: usize| {
        S3Client::new(
            url,
            &access_key,
            &secret_key,
            &cli.region,
            true,
            conc,
            Duration::from_secs_f64(cli.timeout),
        )
    };
    if let (Some(remote), Some(arn), Some(dest)) =
        (&cli.replicate_to, &cli.target_arn, &cli.dest_bucket)
    {
        replicate::run(
            client(&cli.endpoint, cli.concurrency.max(8))?,
            client(remote, cli.concurrency)?,
            &cli.bucket,
            arn,
            dest,
            cli.size,
            objects,
            cli.concurrency,
            cli.label.as_deref(),
        )
        .await?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(remote) = &cli.transition_to {
        transition::run(
            client(&cli.endpoint, cli.concurrency.max(8))?,
            client(remote, cli.concurrency)?,
            &cli.bucket,
            &cli.storage_class,
            cli.size,
            objects,
            cli.concurrency,
            cli.label.as_deref(),
        )
        .await?;
        return Ok(ExitCode::SUCCESS);
    }
    let populate_conc = cli.populate_concurrency.unwrap_or(cli.concurrency.max(32));
    let client = S3Client::new(
        &cli.endpoint,
        &access_key,
        &secret_key,
        &cli.region,
        cli.unsigned_payload,
        cli.concurrency.max(populate_conc),
        Duration::from_secs_f64(cli.timeout),
    )?;
    if cli.op != Op::Noop {
        client.ensure_bucket(&cli.bucket).await?;
        if cli.sse_s3 {
            client.encrypt_bucket(&cli.bucket).await?;
        }
    }
    // Put with only --duration writes fresh keys until time is up.
    let key_space = match (cli.op, cli.count, cli.duration) {
        (Op::Put | Op::Multipart, None, Some(_)) => None,
        (_, _, Some(_)) => Some(objects),
        _ => None,
    };
    let bench = Arc::new(Bench {
        client,
        // One distinct body per object (up to the payload's limit); fresh keys without end
        // (put with only --duration) use as many as it has.
        payload: Arc::new(Payload::new(
            cli.size,
            if key_space.is_none() && cli.duration.is_some() {
                u64::MAX
            } else {
                objects
            },
            SEED,
        )),
        bucket: cli.bucket.clone(),
        prefix: cli
            .prefix
            .clone()
            .unwrap_or_else(|| format!("bench-{}/", format_size(cli.size))),
        part_size: usize::try_from(cli.part_size)?.max(1),
        page_size: cli.page_size.max(1),
        objects,
        stop: AtomicBool::new(false),
        fatal: Mutex::new(None),
        logged: AtomicU64::new(0),
    });

    let populate = matches!(cli.op, Op::Get | Op::Head | Op::Delete | Op::List) && !cli.populated;
    if !cli.unsigned_payload && (populate || matches!(cli.op, Op::Put | Op::Multipart)) {
        // The SHA-256 signed into x-amz-content-sha256 is the body's real one, as an SDK
        // sends it; it is computed here, before the timed phases, since the client's
        // hashing (on CPUs it shares with the server) is not what is measured.
        let payload = bench.payload.clone();
        let part = if cli.op == Op::Multipart {
            bench.part_size
        } else {
            usize::MAX
        };
        let keys = key_space.unwrap_or(if cli.duration.is_some() {
            u64::MAX
        } else {
            objects
        });
        tokio::task::spawn_blocking(move || payload.prehash(keys, part)).await?;
    }

    stats::print_header();
    if populate {
        let mut s = phase(
            bench.clone(),
            Op::Put,
            populate_conc,
            Some(objects),
            None,
            None,
        )
        .await?;
        s.op = "put(populate)".into();
        stats::print_row(&s);
        if s.errors > 0 {
            bail!("populate: {} PUTs failed", s.errors);
        }
    }

    let deadline = deadline_secs.map(|d| Instant::now() + d);
    let limit = match (cli.op, deadline) {
        (_, None) => Some(objects),
        // Each object can be deleted once.
        (Op::Delete, Some(_)) => Some(objects),
        (_, Some(_)) => None,
    };
    let s = if cli.op == Op::List {
        list_phase(bench.clone(), cli.concurrency, deadline).await?
    } else {
        phase(
            bench.clone(),
            cli.op,
            cli.concurrency,
            limit,
            deadline,
            key_space,
        )
        .await?
    };
    stats::print_row(&s);
    println!("{}", s.json(cli.label.as_deref()));
    if s.errors > 0 && !cli.allow_errors {
        eprintln!(
            "hafiz-bench: {} of {} requests failed",
            s.errors,
            s.errors + s.ops
        );
        return Ok(ExitCode::from(1));
    }
    if s.ops == 0 {
        eprintln!("hafiz-bench: no operation succeeded");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

struct Bench {
    client: S3Client,
    payload: Arc<Payload>,
    bucket: String,
    prefix: String,
    part_size: usize,
    page_size: u32,
    objects: u64,
    stop: AtomicBool,
    fatal: Mutex<Option<String>>,
    logged: AtomicU64,
}

/// Why an operation failed: `Soft` is counted as an error; `Fatal` (a GET returning
/// other bytes than were written, a listing missing keys) stops the run.
enum Fail {
    Soft(String),
    Fatal(String),
}

impl From<anyhow::Error> for Fail {
    fn from(e: anyhow::Error) -> Fail {
        Fail::Soft(format!("{e:#}"))
    }
}

type OpResult = Result<u64, Fail>;

impl Bench {
    fn key(&self, i: u64) -> String {
        format!("{}{i:08}", self.prefix)
    }

    fn path(&self, i: u64) -> String {
        format!(
            "/{}/{}",
            encode_path(&self.bucket),
            encode_path(&self.key(i))
        )
    }

    fn record_fatal(&self, msg: String) {
        let mut f = self.fatal.lock().expect("fatal");
        if f.is_none() {
            *f = Some(msg);
        }
        self.stop.store(true, Ordering::SeqCst);
    }

    fn log_error(&self, msg: &str) {
        let n = self.logged.fetch_add(1, Ordering::Relaxed);
        if n < 10 {
            eprintln!("error: {msg}");
        } else if n == 10 {
            eprintln!("error: (further errors not shown)");
        }
    }

    async fn op(&self, op: Op, i: u64) -> OpResult {
        match op {
            Op::Put => self.put(i).await,
            Op::Get => self.get(i).await,
            Op::Head => self.head(i).await,
            Op::Delete => self.delete(i).await,
            Op::Multipart => self.multipart(i).await,
            Op::Noop => self.noop().await,
            Op::List => unreachable!("list runs in list_phase"),
        }
    }

    async fn put(&self, i: u64) -> OpResult {
        let size = self.payload.size();
        let body = Body {
            bytes: self.payload.body(i),
            sha256: self.payload.sha256(i, 0, size),
        };
        let path = self.path(i);
        let (status, _, resp) = self.client.send_read(Method::PUT, &path, body).await?;
        expect(status, StatusCode::OK, "PUT", &path, &resp)?;
        Ok(size as u64)
    }

    async fn get(&self, i: u64) -> OpResult {
        let path = self.path(i);
        let resp = self.client.send(Method::GET, &path, Body::empty()).await?;
        let (parts, mut body) = resp.into_parts();
        if parts.status != StatusCode::OK {
            let b = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            return Err(status_error("GET", &path, parts.status, &b));
        }
        let expected = self.payload.body(i);
        if let Some(len) = content_length(&parts.headers)
            && len != expected.len() as u64
        {
            return Err(Fail::Fatal(format!(
                "GET {path}: Content-Length {len}, wrote {} bytes",
                expected.len()
            )));
        }
        // Compare chunk by chunk as the body streams in; nothing is buffered.
        let mut off = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| Fail::Soft(format!("GET {path}: body: {e}")))?;
            if let Ok(data) = frame.into_data() {
                let end = off + data.len();
                if end > expected.len() || data[..] != expected[off..end] {
                    let at = (0..data.len())
                        .find(|&k| expected.get(off + k) != Some(&data[k]))
                        .map_or(off, |k| off + k);
                    return Err(Fail::Fatal(format!(
                        "GET {path}: VERIFY FAILED: body differs from what was written at byte {at}"
                    )));
                }
                off = end;
            }
        }
        if off != expected.len() {
            return Err(Fail::Fatal(format!(
                "GET {path}: VERIFY FAILED: {off} bytes received, {} written",
                expected.len()
            )));
        }
        Ok(off as u64)
    }

    async fn head(&self, i: u64) -> OpResult {
        let path = self.path(i);
        let (status, headers, _) = self
            .client
            .send_read(Method::HEAD, &path, Body::empty())
            .await?;
        expect(status, StatusCode::OK, "HEAD", &path, b"")?;
        let want = self.payload.size() as u64;
        match content_length(&headers) {
            Some(len) if len == want => Ok(0),
            other => Err(Fail::Fatal(format!(
                "HEAD {path}: Content-Length {other:?}, wrote {want} bytes"
            ))),
        }
    }

    async fn delete(&self, i: u64) -> OpResult {
        let path = self.path(i);
        let (status, _, resp) = self
            .client
            .send_read(Method::DELETE, &path, Body::empty())
            .await?;
        if status == StatusCode::NO_CONTENT || status == StatusCode::OK {
            Ok(0)
        } else {
            Err(status_error("DELETE", &path, status, &resp))
        }
    }

    async fn noop(&self) -> OpResult {
        let path = format!(
            "/{}/{}",
            encode_path(&self.bucket),
            encode_path(&format!("{}noop", self.prefix))
        );
        let (status, _, resp) = self
            .client
            .send_read(Method::GET, &path, Body::empty())
            .await?;
        expect(status, StatusCode::OK, "GET", &path, &resp)?;
        Ok(resp.len() as u64)
    }

    /// CreateMultipartUpload, UploadPart (sequentially, --part-size each), Complete.
    async fn multipart(&self, i: u64) -> OpResult {
        let size = self.payload.size();
        let path = self.path(i);
        let (status, _, resp) = self
            .client
            .send_read(Method::POST, &format!("{path}?uploads"), Body::empty())
            .await?;
        expect(
            status,
            StatusCode::OK,
            "CreateMultipartUpload",
            &path,
            &resp,
        )?;
        let upload_id = xml_value(&String::from_utf8_lossy(&resp), "UploadId")
            .ok_or_else(|| Fail::Soft(format!("CreateMultipartUpload {path}: no UploadId")))?;
        let upload_q = encode_query(&upload_id);
        let mut complete = String::from("<CompleteMultipartUpload>");
        let mut start = 0usize;
        let mut part = 1u32;
        while start < size || part == 1 {
            let end = (start + self.part_size).min(size);
            let body = Body {
                bytes: self.payload.range(i, start, end),
                sha256: self.payload.sha256(i, start, end),
            };
            let q = format!("{path}?partNumber={part}&uploadId={upload_q}");
            let (status, headers, resp) = self.client.send_read(Method::PUT, &q, body).await?;
            expect(status, StatusCode::OK, "UploadPart", &path, &resp)?;
            let etag = headers
                .get(http::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| Fail::Soft(format!("UploadPart {path}: no ETag")))?;
            complete.push_str(&format!(
                "<Part><PartNumber>{part}</PartNumber><ETag>{etag}</ETag></Part>"
            ));
            start = end;
            part += 1;
        }
        complete.push_str("</CompleteMultipartUpload>");
        let bytes = Bytes::from(complete);
        let sha256 = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&bytes))
        };
        let (status, _, resp) = self
            .client
            .send_read(
                Method::POST,
                &format!("{path}?uploadId={upload_q}"),
                Body { bytes, sha256 },
            )
            .await?;
        expect(
            status,
            StatusCode::OK,
            "CompleteMultipartUpload",
            &path,
            &resp,
        )?;
        // S3 may report a failed completion in a 200 response.
        if String::from_utf8_lossy(&resp).contains("<Error>") {
            return Err(status_error(
                "CompleteMultipartUpload",
                &path,
                status,
                &resp,
            ));
        }
        Ok(size as u64)
    }

    /// One ListObjectsV2 page: (keys, next continuation token, response bytes).
    async fn list_page(&self, token: Option<&str>) -> Result<(u64, Option<String>, u64), Fail> {
        let mut q = format!(
            "/{}?list-type=2&max-keys={}&prefix={}",
            encode_path(&self.bucket),
            self.page_size,
            encode_query(&self.prefix)
        );
        if let Some(t) = token {
            q.push_str("&continuation-token=");
            q.push_str(&encode_query(t));
        }
        let (status, _, resp) = self
            .client
            .send_read(Method::GET, &q, Body::empty())
            .await?;
        expect(status, StatusCode::OK, "ListObjectsV2", &q, &resp)?;
        let xml = String::from_utf8_lossy(&resp);
        let keys = xml.matches("<Key>").count() as u64;
        let truncated = xml_value(&xml, "IsTruncated").as_deref() == Some("true");
        let next = if truncated {
            Some(xml_value(&xml, "NextContinuationToken").ok_or_else(|| {
                Fail::Fatal(format!("ListObjectsV2 {q}: truncated without a token"))
            })?)
        } else {
            None
        };
        Ok((keys, next, resp.len() as u64))
    }
}

fn content_length(h: &http::HeaderMap) -> Option<u64> {
    h.get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn expect(
    status: StatusCode,
    want: StatusCode,
    what: &str,
    path: &str,
    body: &[u8],
) -> Result<(), Fail> {
    if status == want {
        Ok(())
    } else {
        Err(status_error(what, path, status, body))
    }
}

fn status_error(what: &str, path: &str, status: StatusCode, body: &[u8]) -> Fail {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    Fail::Soft(format!("{what} {path}: {status} {text}"))
}

/// Runs `op` with `concurrency` workers taking operation numbers from a shared counter
/// until `limit` operations or the deadline; operation `n` addresses key `n % key_space`.
async fn phase(
    bench: Arc<Bench>,
    op: Op,
    concurrency: usize,
    limit: Option<u64>,
    deadline: Option<Instant>,
    key_space: Option<u64>,
) -> anyhow::Result<Stats> {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let bench = bench.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let (mut bytes, mut errors) = (0u64, 0u64);
            loop {
                if bench.stop.load(Ordering::Relaxed)
                    || deadline.is_some_and(|d| Instant::now() >= d)
                {
                    break;
                }
                let n = next.fetch_add(1, Ordering::Relaxed);
                if limit.is_some_and(|l| n >= l) {
                    break;
                }
                let key = key_space.map_or(n, |k| n % k.max(1));
                let t = Instant::now();
                match bench.op(op, key).await {
                    Ok(b) => {
                        lat.push(t.elapsed());
                        bytes += b;
                    }
                    Err(Fail::Soft(m)) => {
                        errors += 1;
                        bench.log_error(&m);
                    }
                    Err(Fail::Fatal(m)) => {
                        bench.record_fatal(m);
                        break;
                    }
                }
            }
            (lat, bytes, errors)
        }));
    }
    collect(bench, op.name(), concurrency, started, tasks).await
}

/// ListObjectsV2 over the prefix: every worker lists it page by page, once without a
/// deadline, over and over with one. Each page is an operation; a complete pass must
/// find exactly the objects written.
async fn list_phase(
    bench: Arc<Bench>,
    concurrency: usize,
    deadline: Option<Instant>,
) -> anyhow::Result<Stats> {
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let bench = bench.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let (mut bytes, mut errors) = (0u64, 0u64);
            'passes: loop {
                let mut token: Option<String> = None;
                let mut seen = 0u64;
                let mut retries = 0u32;
                loop {
                    if bench.stop.load(Ordering::Relaxed)
                        || deadline.is_some_and(|d| Instant::now() >= d)
                    {
                        break 'passes;
                    }
                    let t = Instant::now();
                    match bench.list_page(token.as_deref()).await {
                        Ok((keys, next, b)) => {
                            retries = 0;
                            lat.push(t.elapsed());
                            bytes += b;
                            seen += keys;
                            token = next;
                            if token.is_none() {
                                break;
                            }
                        }
                        Err(Fail::Soft(m)) => {
                            errors += 1;
                            bench.log_error(&m);
                            retries += 1;
                            if retries > 10 {
                                bench.record_fatal(format!("LIST: page failed 10 times: {m}"));
                                break 'passes;
                            }
                            // The next round retries the same page.
                        }
                        Err(Fail::Fatal(m)) => {
                            bench.record_fatal(m);
                            break 'passes;
                        }
                    }
                }
                if seen != bench.objects {
                    bench.record_fatal(format!(
                        "LIST VERIFY FAILED: a full listing of {:?} found {seen} keys, {} were written",
                        bench.prefix, bench.objects
                    ));
                    break;
                }
                if deadline.is_none() {
                    break;
                }
            }
            (lat, bytes, errors)
        }));
    }
    collect(bench, "list", concurrency, started, tasks).await
}

type WorkerResult = (Vec<Duration>, u64, u64);

async fn collect(
    bench: Arc<Bench>,
    op: &str,
    concurrency: usize,
    started: Instant,
    tasks: Vec<tokio::task::JoinHandle<WorkerResult>>,
) -> anyhow::Result<Stats> {
    let mut lat = Vec::new();
    let (mut bytes, mut errors) = (0, 0);
    for t in tasks {
        let (l, b, e) = t.await.context("worker panicked")?;
        lat.extend(l);
        bytes += b;
        errors += e;
    }
    let elapsed = started.elapsed();
    if let Some(m) = bench.fatal.lock().expect("fatal").take() {
        return Err(anyhow!("{m}"));
    }
    // The no-op round trip moves no object (empty request and response bodies).
    let size = if op == "noop" {
        0
    } else {
        bench.payload.size() as u64
    };
    Ok(Stats::new(
        op,
        size,
        concurrency,
        errors,
        bytes,
        elapsed,
        lat,
    ))
}
