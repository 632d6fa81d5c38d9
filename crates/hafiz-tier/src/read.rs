//! Reading an object's bytes wherever they are: inline in the row, in blobs of the
//! hot drives, or in a tier. The gateway's GET and CopyObject and the tier jobs
//! (which copy data between places) all read through here.

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt;
use hafiz_meta::{BlobLocation, BlobSpan, ObjectData};
use hafiz_storage::{BlobStore, ByteStream, StorageError, StorageResult};

use crate::registry::Tiers;
use crate::store::Source;

/// Where data can be: the hot drives and the configured tiers.
#[derive(Clone)]
pub struct DataSources {
    pub blobs: Arc<dyn BlobStore>,
    pub tiers: Arc<Tiers>,
}

impl DataSources {
    /// Stream `len` bytes from `offset` of `data`, touching only the spans that
    /// overlap the range. The first stored span is opened now, so that a missing
    /// blob fails before a caller sends headers; later ones open when reached.
    pub async fn stream(
        &self,
        data: &ObjectData,
        offset: u64,
        len: u64,
    ) -> StorageResult<ByteStream> {
        let (start, end) = (offset, offset + len);
        let spans: Vec<BlobSpan> = match data {
            ObjectData::Inline(b) => vec![BlobSpan {
                location: BlobLocation::Inline(b.clone()),
                size: b.len() as u64,
            }],
            ObjectData::Blobs(s) => s.clone(),
            ObjectData::Tiered(copy) => {
                let tier = self.tiers.get(&copy.tier).await.ok_or_else(|| {
                    StorageError::Remote(format!("tier {} is not configured", copy.tier))
                })?;
                return tier.store.read(&copy.name, copy.size, offset, len).await;
            }
        };
        let mut streams: Vec<ByteStream> = Vec::new();
        let mut at = 0u64;
        for span in spans {
            let (s, e) = (at, at + span.size);
            at = e;
            if e <= start || s >= end {
                continue;
            }
            let from = start.max(s) - s;
            let to = end.min(e) - s;
            match span.location {
                BlobLocation::Inline(b) => {
                    let bytes = bytes::Bytes::from(b).slice(from as usize..to as usize);
                    streams.push(futures_util::stream::once(async move { Ok(bytes) }).boxed());
                }
                BlobLocation::Stored(id) if streams.is_empty() => {
                    streams.push(self.blobs.read(&id, span.size, from, to - from).await?);
                }
                BlobLocation::Stored(id) => {
                    let blobs = self.blobs.clone();
                    let size = span.size;
                    streams.push(
                        futures_util::stream::once(async move {
                            blobs.read(&id, size, from, to - from).await
                        })
                        .map(|r| match r {
                            Ok(s) => s,
                            Err(e) => futures_util::stream::once(async move { Err(e) }).boxed(),
                        })
                        .flatten()
                        .boxed(),
                    );
                }
            }
        }
        Ok(futures_util::stream::iter(streams).flatten().boxed())
    }
}

/// A version's data as the source of a copy into a tier (or back).
pub struct DataSource<'a> {
    pub sources: &'a DataSources,
    pub data: &'a ObjectData,
}

#[async_trait]
impl Source for DataSource<'_> {
    async fn read(&self, offset: u64, len: u64) -> StorageResult<ByteStream> {
        self.sources.stream(self.data, offset, len).await
    }
}
