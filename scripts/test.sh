#!/usr/bin/env bash
# Runs every test: the Rust workspace's tests, then the Python end-to-end
# suite, both against the freshly built binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
[[ "$target_dir" = /* ]] || target_dir="$PWD/$target_dir"
export HAFIZ_BIN="$target_dir/debug/hafiz"
export HAFIZ_REQUIRE_BROWSER=1
# The notification tests start real brokers (.ci/run installs them).
export HAFIZ_REQUIRE_BROKERS=1

# The Terraform provider is a binary of its own, next to hafiz (tests/py/test_terraform.py).
cargo build -p hafiz -p terraform-provider-hafiz
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace
else
  cargo test --workspace
fi

tests/py/run.sh

# The data-path suites again on a 4-drive node (erasure coded 2+2): what stores, reads,
# copies, seals, versions, tiers or replicates bytes. Not again: the erasure fault tests
# and the cluster and deployment checks (they choose their own drive layouts), and the
# suites whose answers do not depend on where bytes are (authentication, IAM, policies,
# ACLs, admin API, audit, quotas, rate limits, notifications, TLS, bucket configuration,
# listings, tags, retention settings, the aws CLI's wrappers of the same calls, the
# console, Terraform), which the first pass covers; nor the ingest front ends whose
# bytes then take PutObject's write path (POST Object forms, aws-chunked bodies), nor
# the tests that start clusters of their own.
second_pass_skip=(
  test_erasure test_cluster test_deploy test_linearizability_checker test_notifications
  test_acl test_admin_api test_admin_cli test_audit test_audit_webhook test_auth
  test_bucket_notification test_bucket_policy test_iam test_observability test_quota
  test_rate_limit test_s3_conformance_auth test_s3_conformance_misc test_sts_web_identity
  test_tenants test_tls test_kms_kmip test_console test_console_sso test_saml test_terraform
  test_cli test_boto3_list test_boto3_buckets test_tagging test_kms_admin test_cors_website
  test_bucket_lifecycle test_object_lock test_post_object test_aws_chunked
  test_tiering.py::test_tiering_on_a_three_node_cluster
  test_replication.py::test_replication_from_a_three_node_cluster_survives_leader_sigkill
)
deselect=()
for t in "${second_pass_skip[@]}"; do
  [[ "$t" == *::* ]] && deselect+=(--deselect "tests/py/$t") || deselect+=(--deselect "tests/py/$t.py")
done
HAFIZ_TEST_DRIVES=4 tests/py/run.sh "${deselect[@]}"

# Benchmarks in smoke mode, so they never rot (full runs: see docs/performance.md).
# Built with the test profile: a release build would cost CI minutes for numbers a
# smoke run does not give anyway.
HAFIZ_BENCH_QUICK=1 cargo test -p hafiz-benches --benches

# The S3 load benchmark in smoke mode (the debug build, tiny sizes, seconds): it must
# run end to end with GET verification on. Full matrix: benches/run.sh.
QUICK=1 PROFILE=debug benches/run.sh
