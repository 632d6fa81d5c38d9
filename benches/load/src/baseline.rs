//! The ceilings a server is measured against: a no-op HTTP/1.1 server (the loopback
//! round trip with no work behind it) and plain files written with fsync and read back.

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::payload::Payload;
use crate::stats::Stats;

/// Answers every request `200` with an empty body, after reading the request body.
pub async fn noop_server(addr: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("bind {addr}"))?;
    eprintln!("no-op server listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|req: Request<Incoming>| async move {
                let mut body = req.into_body();
                // Drain without buffering: large PUT bodies cost only the copy into
                // hyper's read buffer, as in any server.
                while let Some(frame) = body.frame().await {
                    if frame.is_err() {
                        break;
                    }
                }
                Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
            });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Writes `count` files of the payload's size into `dir` (create, write, fsync) with
/// `concurrency` threads, then reads them back and compares them. Returns the write and
/// read phases. The files are removed afterwards.
pub fn files(
    dir: &Path,
    payload: Arc<Payload>,
    count: u64,
    concurrency: usize,
) -> anyhow::Result<(Stats, Stats)> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let path = |i: u64| dir.join(format!("hafiz-bench-{i:08}"));
    let size = payload.size() as u64;

    let write = phase("file-write", size, count, concurrency, |i, _buf| {
        let p = path(i);
        let mut f = std::fs::File::create(&p).with_context(|| format!("create {}", p.display()))?;
        f.write_all(&payload.body(i))?;
        f.sync_all()?;
        Ok(size)
    })?;
    // Make the new directory entries durable too, once, as a store would on commit.
    std::fs::File::open(dir)?.sync_all()?;

    let read = phase("file-read", size, count, concurrency, |i, buf| {
        let p = path(i);
        let mut f = std::fs::File::open(&p).with_context(|| format!("open {}", p.display()))?;
        buf.resize(size as usize, 0);
        f.read_exact(buf)?;
        if buf[..] != payload.body(i)[..] {
            bail!("file {} read back different bytes", p.display());
        }
        Ok(size)
    })?;

    for i in 0..count {
        let _ = std::fs::remove_file(path(i));
    }
    Ok((write, read))
}

fn phase<F>(op: &str, size: u64, count: u64, concurrency: usize, f: F) -> anyhow::Result<Stats>
where
    F: Fn(u64, &mut Vec<u8>) -> anyhow::Result<u64> + Sync,
{
    let next = AtomicU64::new(0);
    let started = Instant::now();
    let results: Vec<anyhow::Result<(Vec<Duration>, u64)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..concurrency.max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut lat = Vec::new();
                    let mut bytes = 0;
                    let mut buf = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            break;
                        }
                        let t = Instant::now();
                        bytes += f(i, &mut buf)?;
                        lat.push(t.elapsed());
                    }
                    Ok((lat, bytes))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("baseline thread panicked"))
            .collect()
    });
    let elapsed = started.elapsed();
    let mut lat = Vec::new();
    let mut bytes = 0;
    for r in results {
        let (l, b) = r?;
        lat.extend(l);
        bytes += b;
    }
    Ok(Stats::new(op, size, concurrency, 0, bytes, elapsed, lat))
}
