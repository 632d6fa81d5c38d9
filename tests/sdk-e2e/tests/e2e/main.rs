//! End-to-end tests: the real `hafiz` binary (env `HAFIZ_BIN`, default
//! `<workspace>/target/debug/hafiz`) driven by aws-sdk-s3 over plain HTTP.
//! Every test starts its own server on a free loopback port with its own
//! temporary data directory, and is bounded in time.

mod harness;

mod auth;
mod buckets;
mod listing;
mod multipart;
mod objects;
mod presign;
