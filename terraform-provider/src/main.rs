//! `terraform-provider-hafiz`: Terraform runs this binary and talks to it over the
//! plugin protocol (version 6); it manages a Hafiz server's buckets, IAM and
//! targets through the server's S3 and admin APIs. See docs/terraform.md.

mod api;
mod data_sources;
mod provider;
mod resources;
mod s3xml;
mod schema;
mod state;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // One crypto provider for every TLS connection of the process (the plugin's
    // gRPC listener and https:// endpoints).
    let _ = rustls::crypto::ring::default_provider().install_default();
    tf_provider::serve("hafiz", provider::HafizProvider::default())
        .await
        .map_err(|e| e.into())
}
