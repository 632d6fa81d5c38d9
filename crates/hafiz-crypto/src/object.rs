//! Reading an encrypted object version: its sealed segments, and its plaintext as a
//! stream of opened chunks.

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt};
use hafiz_meta::ObjectVersion;

use crate::{CryptoError, RangeOpener, Segment};

/// The sealed segments of a version: its parts when each was sealed on its own (a
/// completed multipart upload), else the whole object as segment 0.
pub fn segments(v: &ObjectVersion) -> Vec<Segment> {
    match (&v.parts, &v.encryption) {
        (Some(parts), Some(e)) if e.parts_sealed => parts
            .iter()
            .map(|p| Segment {
                number: p.number,
                plain_len: p.size,
            })
            .collect(),
        _ => vec![Segment {
            number: 0,
            plain_len: v.size,
        }],
    }
}

/// Plaintext of the sealed chunks `cipher` streams (read from `opener.cipher_range()`).
/// A chunk that fails to open ends the stream with an error, so a reader sees a cut
/// body, never wrong bytes.
pub fn decrypting<E: Send + 'static>(
    cipher: BoxStream<'static, Result<Bytes, E>>,
    opener: RangeOpener,
    on_error: fn(CryptoError) -> E,
) -> BoxStream<'static, Result<Bytes, E>> {
    let state = (
        cipher,
        Some(opener),
        std::collections::VecDeque::<Bytes>::new(),
    );
    futures_util::stream::unfold(
        state,
        move |(mut cipher, mut opener, mut ready)| async move {
            loop {
                if let Some(b) = ready.pop_front() {
                    return Some((Ok(b), (cipher, opener, ready)));
                }
                let o = opener.as_mut()?;
                match cipher.next().await {
                    Some(Ok(c)) => match o.push(c) {
                        Ok(plain) => ready.extend(plain),
                        Err(e) => {
                            tracing::error!(error = %e, "an encrypted object failed to decrypt");
                            return Some((Err(on_error(e)), (cipher, None, ready)));
                        }
                    },
                    Some(Err(e)) => return Some((Err(e), (cipher, None, ready))),
                    None => {
                        let done = o.finish();
                        opener = None;
                        if let Err(e) = done {
                            return Some((Err(on_error(e)), (cipher, None, ready)));
                        }
                    }
                }
            }
        },
    )
    .boxed()
}
