//! Request bodies as streams of verified payload bytes: aws-chunked framing decoded,
//! chunk signatures and `x-amz-content-sha256` checked as the bytes pass, so a bad
//! body fails before anything is committed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use futures_util::stream::{BoxStream, StreamExt};
use sha2::{Digest, Sha256};

use crate::auth::PayloadCheck;
use crate::auth::chunked::{AwsChunkedDecoder, TrailerHandle};
use crate::error::{S3Error, S3ErrorCode, S3Result};

pub type PayloadStream = BoxStream<'static, S3Result<Bytes>>;

pub struct RequestBody {
    /// Handlers hold `&Ctx` across awaits, so the body must be `Sync`; it is only
    /// ever polled through `&mut`.
    stream: sync_wrapper::SyncWrapper<PayloadStream>,
    trailers: Option<TrailerHandle>,
    /// Payload bytes handed out so far (rate limits charge what was really received).
    received: Arc<AtomicU64>,
}

fn transport_error(e: impl std::fmt::Display) -> S3Error {
    tracing::debug!(error = %e, "request body interrupted");
    S3Error::new(S3ErrorCode::IncompleteBody)
}

impl RequestBody {
    pub fn new(body: axum::body::Body, payload: PayloadCheck) -> RequestBody {
        let raw = body.into_data_stream();
        match payload {
            PayloadCheck::Unsigned => {
                RequestBody::wrap(raw.map(|r| r.map_err(transport_error)).boxed(), None)
            }
            PayloadCheck::Sha256(expected) => RequestBody::wrap(
                verify_sha256(raw.map(|r| r.map_err(transport_error)).boxed(), expected),
                None,
            ),
            PayloadCheck::Chunked(signing) => {
                let decoder = AwsChunkedDecoder::new(raw, signing);
                let trailers = decoder.trailers();
                RequestBody::wrap(decoder.boxed(), Some(trailers))
            }
        }
    }

    fn wrap(stream: PayloadStream, trailers: Option<TrailerHandle>) -> RequestBody {
        RequestBody {
            stream: sync_wrapper::SyncWrapper::new(stream),
            trailers,
            received: Arc::default(),
        }
    }

    pub fn from_stream(stream: PayloadStream) -> RequestBody {
        RequestBody::wrap(stream, None)
    }

    pub async fn next(&mut self) -> Option<S3Result<Bytes>> {
        let item = self.stream.get_mut().next().await;
        if let Some(Ok(b)) = &item {
            self.received.fetch_add(b.len() as u64, Ordering::Relaxed);
        }
        item
    }

    /// A counter of the payload bytes read from this body, readable after it is gone.
    pub fn received(&self) -> Arc<AtomicU64> {
        self.received.clone()
    }

    /// A trailing header (aws-chunked trailer), available once the stream is consumed.
    pub fn trailer(&self, name: &str) -> Option<String> {
        self.trailers
            .as_ref()?
            .get()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Read a small body whole (XML documents), refusing more than `limit` bytes.
    pub async fn collect_limited(&mut self, limit: usize) -> S3Result<Bytes> {
        let mut buf = BytesMut::new();
        while let Some(chunk) = self.next().await {
            let chunk = chunk?;
            if buf.len() + chunk.len() > limit {
                return Err(S3Error::with_message(
                    S3ErrorCode::MalformedXML,
                    "The XML you provided was too large",
                ));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }
}

fn verify_sha256(inner: PayloadStream, expected: String) -> PayloadStream {
    struct State {
        inner: PayloadStream,
        hasher: Option<Sha256>,
        expected: String,
    }
    futures_util::stream::unfold(
        State {
            inner,
            hasher: Some(Sha256::new()),
            expected,
        },
        |mut st| async move {
            let hasher = st.hasher.as_mut()?;
            match st.inner.next().await {
                Some(Ok(b)) => {
                    hasher.update(&b);
                    Some((Ok(b), st))
                }
                Some(Err(e)) => {
                    st.hasher = None;
                    Some((Err(e), st))
                }
                None => {
                    let digest = hex::encode(st.hasher.take()?.finalize());
                    if digest.eq_ignore_ascii_case(&st.expected) {
                        None
                    } else {
                        Some((
                            Err(S3Error::new(S3ErrorCode::XAmzContentSHA256Mismatch)),
                            st,
                        ))
                    }
                }
            }
        },
    )
    .boxed()
}
