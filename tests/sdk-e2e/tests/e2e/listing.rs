use aws_sdk_s3::Client;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::primitives::ByteStream;

use crate::harness::{Server, bounded};

const BUCKET: &str = "e2e-listing";

/// 300 keys: 120 + 80 under two "folders" of photos/, 50 under docs/, 50 at the top.
fn all_keys() -> Vec<String> {
    let mut keys = Vec::new();
    keys.extend((0..120).map(|i| format!("photos/2024/img-{i:03}.jpg")));
    keys.extend((0..80).map(|i| format!("photos/2025/img-{i:03}.jpg")));
    keys.extend((0..50).map(|i| format!("docs/readme-{i:03}.txt")));
    keys.extend((0..50).map(|i| format!("top-{i:03}")));
    keys
}

async fn put_all(s3: &Client, keys: &[String]) {
    // Bounded concurrency: 16 uploads in flight.
    for chunk in keys.chunks(16) {
        let mut set = tokio::task::JoinSet::new();
        for key in chunk {
            let s3 = s3.clone();
            let key = key.clone();
            set.spawn(async move {
                s3.put_object()
                    .bucket(BUCKET)
                    .key(&key)
                    .body(ByteStream::from(key.clone().into_bytes()))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("put_object {key}: {e:?}"));
            });
        }
        while let Some(res) = set.join_next().await {
            res.expect("put task panicked");
        }
    }
}

/// All pages of a listing, via the SDK paginator.
async fn pages(
    s3: &Client,
    prefix: Option<&str>,
    delimiter: Option<&str>,
    page_size: i32,
) -> Vec<ListObjectsV2Output> {
    let mut stream = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .set_prefix(prefix.map(str::to_string))
        .set_delimiter(delimiter.map(str::to_string))
        .into_paginator()
        .page_size(page_size)
        .send();
    let mut out = Vec::new();
    while let Some(page) = stream.next().await {
        out.push(page.expect("list_objects_v2 page"));
        assert!(out.len() <= 100, "runaway pagination");
    }
    out
}

fn keys_of(pages: &[ListObjectsV2Output]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| p.contents())
        .map(|o| o.key().expect("Key").to_string())
        .collect()
}

fn prefixes_of(pages: &[ListObjectsV2Output]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| p.common_prefixes())
        .map(|c| c.prefix().expect("Prefix").to_string())
        .collect()
}

fn check_page_shape(pages: &[ListObjectsV2Output], page_size: i32) {
    let last = pages.len() - 1;
    for (i, page) in pages.iter().enumerate() {
        let entries = (page.contents().len() + page.common_prefixes().len()) as i32;
        assert_eq!(page.key_count(), Some(entries), "page {i}: KeyCount");
        assert_eq!(page.max_keys(), Some(page_size), "page {i}: MaxKeys");
        assert!(entries <= page_size, "page {i}: {entries} > {page_size}");
        assert_eq!(
            page.is_truncated(),
            Some(i != last),
            "page {i}: IsTruncated"
        );
        assert_eq!(
            page.next_continuation_token().is_some(),
            i != last,
            "page {i}: NextContinuationToken"
        );
    }
}

#[tokio::test]
async fn list_objects_v2_prefix_delimiter_pagination() {
    bounded("list_objects_v2_prefix_delimiter_pagination", async {
        let server = Server::start().await;
        let s3 = server.client();
        s3.create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .expect("create_bucket");
        let keys = all_keys();
        put_all(&s3, &keys).await;
        let mut sorted = keys.clone();
        sorted.sort(); // UTF-8 byte order == S3 order for ASCII keys.

        // Everything, 50 per page: 6 full pages, lexicographic order, no dupes.
        let all = pages(&s3, None, None, 50).await;
        assert_eq!(all.len(), 6, "page count");
        check_page_shape(&all, 50);
        assert!(all[..5].iter().all(|p| p.key_count() == Some(50)));
        assert_eq!(keys_of(&all), sorted);
        assert!(prefixes_of(&all).is_empty());
        for obj in all.iter().flat_map(|p| p.contents()) {
            let key = obj.key().unwrap();
            assert_eq!(obj.size(), Some(key.len() as i64), "{key}: Size");
            assert!(
                obj.e_tag().is_some() && obj.last_modified().is_some(),
                "{key}"
            );
        }

        // Prefix only, odd page size: 80 keys in pages of 30, 30, 20.
        let p2025 = pages(&s3, Some("photos/2025/"), None, 30).await;
        assert_eq!(p2025.len(), 3);
        check_page_shape(&p2025, 30);
        let expected: Vec<String> = sorted
            .iter()
            .filter(|k| k.starts_with("photos/2025/"))
            .cloned()
            .collect();
        assert_eq!(keys_of(&p2025), expected);
        for page in &p2025 {
            assert_eq!(page.prefix(), Some("photos/2025/"));
        }

        // Prefix + delimiter: only the two sub-"folders", no objects.
        let photos = pages(&s3, Some("photos/"), Some("/"), 1000).await;
        assert_eq!(photos.len(), 1);
        assert!(keys_of(&photos).is_empty());
        assert_eq!(prefixes_of(&photos), ["photos/2024/", "photos/2025/"]);
        assert_eq!(photos[0].delimiter(), Some("/"));
        assert_eq!(photos[0].key_count(), Some(2));

        // Delimiter at the root with small pages: common prefixes count toward
        // MaxKeys, are rolled up once each and interleave in key order
        // (docs/ < photos/ < top-000...). 2 prefixes + 50 keys = 52 entries.
        let root = pages(&s3, None, Some("/"), 7).await;
        assert_eq!(root.len(), 8, "52 entries in pages of 7");
        check_page_shape(&root, 7);
        assert_eq!(prefixes_of(&root), ["docs/", "photos/"]);
        let top: Vec<String> = (0..50).map(|i| format!("top-{i:03}")).collect();
        assert_eq!(keys_of(&root), top);
        assert_eq!(
            root[0].common_prefixes().len(),
            2,
            "both prefixes sort before every top-level key"
        );
        assert_eq!(root[0].contents().len(), 5);

        // start_after skips to the middle.
        let out = s3
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix("docs/")
            .start_after("docs/readme-044.txt")
            .send()
            .await
            .expect("list_objects_v2 start_after");
        let got: Vec<&str> = out.contents().iter().filter_map(|o| o.key()).collect();
        let want: Vec<String> = (45..50)
            .map(|i| format!("docs/readme-{i:03}.txt"))
            .collect();
        assert_eq!(got, want);
        assert_eq!(out.start_after(), Some("docs/readme-044.txt"));
    })
    .await;
}
