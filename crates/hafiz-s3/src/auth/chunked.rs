//! Decoding (and verifying) `aws-chunked` request bodies.
//!
//! Framing, as sent by the SDKs (all lines end in CRLF):
//!
//! ```text
//! signed:    <hex-size>;chunk-signature=<sig>\r\n<data>\r\n ... 0;chunk-signature=<sig>\r\n
//! unsigned:  <hex-size>\r\n<data>\r\n ... 0\r\n
//! then:      [<name>:<value>\r\n]* [x-amz-trailer-signature:<sig>\r\n] \r\n
//! ```
//!
//! botocore's default PutObject/UploadPart body (STREAMING-UNSIGNED-PAYLOAD-TRAILER) is
//! `17\r\n<23 bytes>\r\n0\r\nx-amz-checksum-crc32:BUkbhQ==\r\n\r\n`.
//!
//! The decoder streams: payload bytes are yielded as soon as they arrive (never more than
//! one input piece is held), each chunk's SHA-256 is computed on the fly and its signature
//! checked when the chunk's last byte has been seen, *before* that last piece is yielded.
//! Earlier pieces of a chunk whose signature then fails have been yielded already, so a
//! consumer must only commit the data once the stream has ended without an error (as it
//! must anyway for a truncated body).

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use aws_sigv4::sign::v4::calculate_signature;
use bytes::Bytes;
use futures_util::stream::Stream;
use sha2::{Digest, Sha256};

use super::sigv4::{sha256_hex, signatures_equal};
use crate::error::{S3Error, S3ErrorCode};

/// Longest chunk header or trailer line accepted (a signed header is ~90 bytes).
const MAX_LINE: usize = 4096;
/// Limits on the trailer section.
const MAX_TRAILER_BYTES: usize = 16 * 1024;
const MAX_TRAILERS: usize = 64;
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
pub const TRAILER_SIGNATURE: &str = "x-amz-trailer-signature";

#[derive(Clone)]
pub enum ChunkSigning {
    /// STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER): each chunk signature chained from the seed signature.
    Signed {
        signing_key: Vec<u8>,
        seed_signature: String,
        amz_date: String,
        scope: String,
        trailer: bool,
    },
    /// STREAMING-UNSIGNED-PAYLOAD-TRAILER: no chunk signatures, trailer may follow.
    Unsigned { trailer: bool },
}

impl fmt::Debug for ChunkSigning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkSigning::Signed {
                seed_signature,
                amz_date,
                scope,
                trailer,
                ..
            } => f
                .debug_struct("Signed")
                .field("signing_key", &"<redacted>")
                .field("seed_signature", seed_signature)
                .field("amz_date", amz_date)
                .field("scope", scope)
                .field("trailer", trailer)
                .finish(),
            ChunkSigning::Unsigned { trailer } => f
                .debug_struct("Unsigned")
                .field("trailer", trailer)
                .finish(),
        }
    }
}

/// Cloneable handle; after the decoder yielded its last item, `get()` returns the trailing
/// headers (lower-case names, values trimmed, `x-amz-trailer-signature` left out).
#[derive(Clone, Default, Debug)]
pub struct TrailerHandle(Arc<Mutex<Vec<(String, String)>>>);

impl TrailerHandle {
    pub fn get(&self) -> Vec<(String, String)> {
        match self.0.lock() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set(&self, trailers: Vec<(String, String)>) {
        match self.0.lock() {
            Ok(mut g) => *g = trailers,
            Err(poisoned) => *poisoned.into_inner() = trailers,
        }
    }
}

struct Signer {
    key: Vec<u8>,
    amz_date: String,
    scope: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a `<hex-size>[;ext]` line.
    Header,
    /// Passing chunk data through.
    Data { remaining: u64 },
    /// Expecting the CRLF after chunk data; `matched` bytes of it seen.
    DataEnd { matched: u8 },
    /// After the zero-size chunk: trailer lines up to an empty line.
    Trailer,
    /// Framing complete; only the end of the input may follow.
    Done,
}

enum Step {
    Data(Bytes),
    Continue,
    NeedInput,
}

/// A Stream adapter decoding an aws-chunked body into the payload bytes.
pub struct AwsChunkedDecoder<S> {
    inner: S,
    inner_done: bool,
    finished: bool,
    signer: Option<Signer>,
    trailer_allowed: bool,
    state: State,
    input: Bytes,
    line: Vec<u8>,
    hasher: Sha256,
    chunk_signature: String,
    prev_signature: String,
    trailers: Vec<(String, String)>,
    trailer_signature: Option<String>,
    trailer_bytes: usize,
    handle: TrailerHandle,
    decoded: u64,
    expected: Option<u64>,
}

fn malformed(detail: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InvalidRequest,
        format!("Malformed aws-chunked request body: {detail}"),
    )
}

fn incomplete(detail: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::IncompleteBody,
        format!("The request body ended prematurely: {detail}"),
    )
}

impl<S> AwsChunkedDecoder<S> {
    pub fn new(inner: S, signing: ChunkSigning) -> Self {
        let (signer, prev_signature, trailer_allowed) = match signing {
            ChunkSigning::Signed {
                signing_key,
                seed_signature,
                amz_date,
                scope,
                trailer,
            } => (
                Some(Signer {
                    key: signing_key,
                    amz_date,
                    scope,
                }),
                seed_signature,
                trailer,
            ),
            ChunkSigning::Unsigned { trailer } => (None, String::new(), trailer),
        };
        AwsChunkedDecoder {
            inner,
            inner_done: false,
            finished: false,
            signer,
            trailer_allowed,
            state: State::Header,
            input: Bytes::new(),
            line: Vec::new(),
            hasher: Sha256::new(),
            chunk_signature: String::new(),
            prev_signature,
            trailers: Vec::new(),
            trailer_signature: None,
            trailer_bytes: 0,
            handle: TrailerHandle::default(),
            decoded: 0,
            expected: None,
        }
    }

    /// Also require the decoded payload to be exactly `len` bytes (the request's
    /// `x-amz-decoded-content-length`); a shorter one fails with IncompleteBody, a longer one
    /// with InvalidRequest as soon as it overflows.
    pub fn expect_decoded_length(mut self, len: u64) -> Self {
        self.expected = Some(len);
        self
    }

    pub fn trailers(&self) -> TrailerHandle {
        self.handle.clone()
    }

    /// Takes one CRLF-terminated line from the input, or buffers a partial one.
    fn take_line(&mut self) -> Result<Option<Vec<u8>>, S3Error> {
        let found = self.input.iter().position(|b| *b == b'\n');
        let take = found.map_or(self.input.len(), |i| i + 1);
        if self.line.len() + take > MAX_LINE + 2 {
            return Err(malformed("line too long"));
        }
        self.line.extend_from_slice(&self.input.split_to(take));
        if found.is_none() {
            return Ok(None);
        }
        let mut line = std::mem::take(&mut self.line);
        line.pop(); // '\n'
        if line.pop() != Some(b'\r') {
            return Err(malformed("line not terminated by CRLF"));
        }
        Ok(Some(line))
    }

    fn step(&mut self) -> Result<Step, S3Error> {
        match self.state {
            State::Header => {
                let Some(line) = self.take_line()? else {
                    return Ok(Step::NeedInput);
                };
                let (size, signature) = parse_chunk_header(&line, self.signer.is_some())?;
                self.chunk_signature = signature;
                if size == 0 {
                    self.verify_chunk()?;
                    self.state = State::Trailer;
                } else {
                    self.state = State::Data { remaining: size };
                }
                Ok(Step::Continue)
            }
            State::Data { remaining } => {
                if self.input.is_empty() {
                    return Ok(Step::NeedInput);
                }
                let n = usize::try_from(remaining)
                    .unwrap_or(usize::MAX)
                    .min(self.input.len());
                let data = self.input.split_to(n);
                if self.signer.is_some() {
                    self.hasher.update(&data);
                }
                self.decoded = self.decoded.saturating_add(n as u64);
                if self.expected.is_some_and(|e| self.decoded > e) {
                    return Err(malformed("more data than x-amz-decoded-content-length"));
                }
                let remaining = remaining - n as u64;
                if remaining == 0 {
                    self.verify_chunk()?;
                    self.state = State::DataEnd { matched: 0 };
                } else {
                    self.state = State::Data { remaining };
                }
                Ok(Step::Data(data))
            }
            State::DataEnd { mut matched } => {
                while matched < 2 {
                    let Some(&b) = self.input.first() else {
                        self.state = State::DataEnd { matched };
                        return Ok(Step::NeedInput);
                    };
                    if b != b"\r\n"[usize::from(matched)] {
                        return Err(malformed("chunk data not followed by CRLF"));
                    }
                    let _ = self.input.split_to(1);
                    matched += 1;
                }
                self.state = State::Header;
                Ok(Step::Continue)
            }
            State::Trailer => {
                let Some(line) = self.take_line()? else {
                    return Ok(Step::NeedInput);
                };
                if line.is_empty() {
                    self.finish()?;
                    self.state = State::Done;
                    return Ok(Step::Continue);
                }
                if !self.trailer_allowed {
                    return Err(malformed("unexpected trailer after the final chunk"));
                }
                self.trailer_bytes += line.len() + 2;
                if self.trailer_bytes > MAX_TRAILER_BYTES || self.trailers.len() >= MAX_TRAILERS {
                    return Err(malformed("trailer section too large"));
                }
                let (name, value) = parse_trailer(&line)?;
                if name == TRAILER_SIGNATURE {
                    if self.trailer_signature.replace(value).is_some() {
                        return Err(malformed("duplicate x-amz-trailer-signature"));
                    }
                } else if self.trailer_signature.is_some() {
                    return Err(malformed("trailer after x-amz-trailer-signature"));
                } else {
                    self.trailers.push((name, value));
                }
                Ok(Step::Continue)
            }
            State::Done => {
                if self.input.is_empty() {
                    Ok(Step::NeedInput)
                } else {
                    Err(malformed("data after the final chunk"))
                }
            }
        }
    }

    /// Checks the signature of the chunk whose data has just been hashed (signed mode only).
    fn verify_chunk(&mut self) -> Result<(), S3Error> {
        let Some(signer) = &self.signer else {
            return Ok(());
        };
        let hash = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA256}\n{hash}",
            signer.amz_date, signer.scope, self.prev_signature
        );
        let computed = calculate_signature(&signer.key, sts.as_bytes());
        let provided = std::mem::take(&mut self.chunk_signature);
        if !signatures_equal(&computed, &provided) {
            tracing::debug!(string_to_sign = %sts, "chunk signature mismatch");
            return Err(S3Error::new(S3ErrorCode::SignatureDoesNotMatch)
                .extra("StringToSign", sts)
                .extra("SignatureProvided", provided));
        }
        self.prev_signature = provided;
        Ok(())
    }

    /// End of the trailer section: check the trailer signature and the decoded length, then
    /// publish the trailers.
    fn finish(&mut self) -> Result<(), S3Error> {
        if let Some(signer) = &self.signer
            && self.trailer_allowed
            && (!self.trailers.is_empty() || self.trailer_signature.is_some())
        {
            let Some(provided) = self.trailer_signature.take() else {
                return Err(S3Error::with_message(
                    S3ErrorCode::SignatureDoesNotMatch,
                    "The trailing headers are missing x-amz-trailer-signature.",
                ));
            };
            // aws-sigv4 signs the trailers sorted by name; try the order received as well.
            let mut sorted = self.trailers.clone();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            let mut orders = vec![sorted];
            if orders[0] != self.trailers {
                orders.push(self.trailers.clone());
            }
            let ok = orders.iter().any(|order| {
                let mut canonical = Vec::new();
                for (name, value) in order {
                    canonical.extend_from_slice(name.as_bytes());
                    canonical.push(b':');
                    canonical.extend_from_slice(value.as_bytes());
                    canonical.push(b'\n');
                }
                let sts = format!(
                    "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
                    signer.amz_date,
                    signer.scope,
                    self.prev_signature,
                    sha256_hex(&canonical)
                );
                signatures_equal(&calculate_signature(&signer.key, sts.as_bytes()), &provided)
            });
            if !ok {
                return Err(S3Error::new(S3ErrorCode::SignatureDoesNotMatch)
                    .extra("SignatureProvided", provided));
            }
        }
        if let Some(expected) = self.expected
            && self.decoded != expected
        {
            return Err(incomplete(&format!(
                "decoded {} bytes, x-amz-decoded-content-length is {expected}",
                self.decoded
            )));
        }
        self.handle.set(std::mem::take(&mut self.trailers));
        Ok(())
    }
}

/// Parses `<hex-size>[;name=value]*`; in signed mode `chunk-signature` is required.
fn parse_chunk_header(line: &[u8], signed: bool) -> Result<(u64, String), S3Error> {
    let line = std::str::from_utf8(line).map_err(|_| malformed("invalid chunk header"))?;
    let (size, extensions) = line.split_once(';').unwrap_or((line, ""));
    if size.is_empty() || size.len() > 16 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed("invalid chunk size"));
    }
    let size = u64::from_str_radix(size, 16).map_err(|_| malformed("invalid chunk size"))?;
    if !signed {
        return Ok((size, String::new()));
    }
    let signature = extensions
        .split(';')
        .find_map(|ext| ext.trim().strip_prefix("chunk-signature="))
        .ok_or_else(|| malformed("missing chunk-signature"))?;
    Ok((size, signature.to_string()))
}

/// Parses `name:value` (name lower-cased, value trimmed).
fn parse_trailer(line: &[u8]) -> Result<(String, String), S3Error> {
    let line = std::str::from_utf8(line).map_err(|_| malformed("invalid trailer"))?;
    let (name, value) = line
        .split_once(':')
        .ok_or_else(|| malformed("invalid trailer"))?;
    let name = name.trim_matches([' ', '\t']);
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.!#$%&'*+^`|~".contains(&b))
    {
        return Err(malformed("invalid trailer name"));
    }
    Ok((
        name.to_ascii_lowercase(),
        value.trim_matches([' ', '\t']).to_string(),
    ))
}

impl<S, E> Stream for AwsChunkedDecoder<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: fmt::Display,
{
    type Item = Result<Bytes, S3Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.finished {
                return Poll::Ready(None);
            }
            match this.step() {
                Err(e) => {
                    this.finished = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Ok(Step::Data(data)) => {
                    if !data.is_empty() {
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
                Ok(Step::Continue) => {}
                Ok(Step::NeedInput) => {
                    if this.inner_done {
                        this.finished = true;
                        if this.state == State::Done {
                            return Poll::Ready(None);
                        }
                        return Poll::Ready(Some(Err(incomplete("truncated aws-chunked body"))));
                    }
                    match Pin::new(&mut this.inner).poll_next(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Some(Ok(bytes))) => this.input = bytes,
                        Poll::Ready(Some(Err(e))) => {
                            this.finished = true;
                            return Poll::Ready(Some(Err(incomplete(&format!(
                                "error reading the body: {e}"
                            )))));
                        }
                        Poll::Ready(None) => this.inner_done = true,
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decoded payload (or the error) and the trailers.
    type Decoded = (Result<Vec<u8>, S3Error>, Vec<(String, String)>);
    use futures_util::StreamExt;
    use futures_util::stream;

    /// Runs the decoder over `pieces` synchronously (the input stream is always ready).
    pub(crate) fn decode(pieces: Vec<Bytes>, signing: ChunkSigning) -> Decoded {
        let input = stream::iter(
            pieces
                .into_iter()
                .map(Ok::<Bytes, std::convert::Infallible>),
        );
        let mut dec = AwsChunkedDecoder::new(input, signing);
        let handle = dec.trailers();
        let mut out = Vec::new();
        let result = block_on(async {
            while let Some(item) = dec.next().await {
                match item {
                    Ok(b) => out.extend_from_slice(&b),
                    Err(e) => {
                        assert!(dec.next().await.is_none(), "stream must end after an error");
                        return Err(e);
                    }
                }
            }
            Ok(())
        });
        (result.map(|()| out), handle.get())
    }

    /// Minimal `block_on` for always-ready streams (no executor needed).
    pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut f = std::pin::pin!(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    fn unsigned(trailer: bool) -> ChunkSigning {
        ChunkSigning::Unsigned { trailer }
    }

    fn one(body: &[u8], signing: ChunkSigning) -> Decoded {
        decode(vec![Bytes::copy_from_slice(body)], signing)
    }

    #[test]
    fn botocore_unsigned_trailer_framing() {
        // Exactly what botocore 1.43 sends for PutObject (see src/auth/testdata/botocore_vectors.py).
        let body = b"17\r\nhello aws-chunked world\r\n0\r\nx-amz-checksum-crc32:BUkbhQ==\r\n\r\n";
        for split in 0..=body.len() {
            let pieces = vec![
                Bytes::copy_from_slice(&body[..split]),
                Bytes::copy_from_slice(&body[split..]),
            ];
            let (data, trailers) = decode(pieces, unsigned(true));
            assert_eq!(data.unwrap(), b"hello aws-chunked world", "split {split}");
            assert_eq!(
                trailers,
                vec![("x-amz-checksum-crc32".to_string(), "BUkbhQ==".to_string())]
            );
        }
        let bytes: Vec<Bytes> = body.iter().map(|b| Bytes::copy_from_slice(&[*b])).collect();
        let (data, trailers) = decode(bytes, unsigned(true));
        assert_eq!(data.unwrap(), b"hello aws-chunked world");
        assert_eq!(trailers.len(), 1);
    }

    #[test]
    fn unsigned_without_trailer_and_empty_body() {
        assert_eq!(one(b"0\r\n\r\n", unsigned(false)).0.unwrap(), b"");
        assert_eq!(
            one(b"3\r\nabc\r\n0\r\n\r\n", unsigned(true)).0.unwrap(),
            b"abc"
        );
        // botocore's empty body with a checksum.
        let (d, t) = one(
            b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
            unsigned(true),
        );
        assert_eq!(d.unwrap(), b"");
        assert_eq!(t[0].1, "AAAAAA==");
        // Chunk extensions are ignored when unsigned; upper-case hex sizes are fine.
        assert_eq!(
            one(b"A;x=y\r\n0123456789\r\n0\r\n\r\n", unsigned(false))
                .0
                .unwrap(),
            b"0123456789"
        );
    }

    #[test]
    fn malformed_and_truncated() {
        let code = |body: &[u8], s: ChunkSigning| one(body, s).0.unwrap_err().code;
        use S3ErrorCode::*;
        assert_eq!(code(b"", unsigned(true)), IncompleteBody);
        assert_eq!(code(b"3\r\nab", unsigned(true)), IncompleteBody);
        assert_eq!(code(b"3\r\nabc\r\n", unsigned(true)), IncompleteBody);
        assert_eq!(code(b"3\r\nabc\r\n0\r\n", unsigned(true)), IncompleteBody);
        assert_eq!(
            code(
                b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:x\r\n",
                unsigned(true)
            ),
            IncompleteBody
        );
        assert_eq!(
            code(b"3\r\nabcX\r\n0\r\n\r\n", unsigned(true)),
            InvalidRequest
        );
        assert_eq!(
            code(b"zz\r\nabc\r\n0\r\n\r\n", unsigned(true)),
            InvalidRequest
        );
        assert_eq!(code(b"\r\n", unsigned(true)), InvalidRequest);
        assert_eq!(code(b"3\nabc\r\n0\r\n\r\n", unsigned(true)), InvalidRequest);
        assert_eq!(
            code(b"11111111111111111\r\n", unsigned(true)),
            InvalidRequest
        );
        assert_eq!(
            code(b"ffffffffffffffff\r\nabc", unsigned(true)),
            IncompleteBody
        );
        assert_eq!(code(b"0\r\n\r\nextra", unsigned(true)), InvalidRequest);
        assert_eq!(
            code(b"0\r\nx-amz-checksum-crc32:x\r\n\r\n", unsigned(false)),
            InvalidRequest
        );
        assert_eq!(
            code(b"0\r\nno-colon\r\n\r\n", unsigned(true)),
            InvalidRequest
        );
        assert_eq!(code(b"0\r\n:v\r\n\r\n", unsigned(true)), InvalidRequest);
        let long = vec![b'1'; 10_000];
        assert_eq!(code(&long, unsigned(true)), InvalidRequest);
        let mut many = b"0\r\n".to_vec();
        for i in 0..100 {
            many.extend_from_slice(format!("x-t{i}:v\r\n").as_bytes());
        }
        assert_eq!(code(&many, unsigned(true)), InvalidRequest);
    }

    #[test]
    fn decoded_length() {
        let run = |len: u64| {
            let input = stream::iter([Ok::<_, std::convert::Infallible>(Bytes::from_static(
                b"3\r\nabc\r\n0\r\n\r\n",
            ))]);
            let mut dec = AwsChunkedDecoder::new(input, unsigned(false)).expect_decoded_length(len);
            block_on(async {
                let mut last = Ok(());
                while let Some(item) = dec.next().await {
                    if let Err(e) = item {
                        last = Err(e.code);
                    }
                }
                last
            })
        };
        assert_eq!(run(3), Ok(()));
        assert_eq!(run(4), Err(S3ErrorCode::IncompleteBody));
        assert_eq!(run(2), Err(S3ErrorCode::InvalidRequest));
    }

    #[test]
    fn inner_error_and_pending() {
        let input = stream::iter([Ok(Bytes::from_static(b"3\r\nab")), Err("connection reset")]);
        let mut dec = AwsChunkedDecoder::new(input, unsigned(false));
        let items: Vec<_> = block_on(async {
            let mut v = Vec::new();
            while let Some(i) = dec.next().await {
                v.push(i);
            }
            v
        });
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].as_ref().unwrap().as_ref(), b"ab");
        let e = items[1].as_ref().unwrap_err();
        assert_eq!(e.code, S3ErrorCode::IncompleteBody);
        assert!(e.message.contains("connection reset"));
    }
}
