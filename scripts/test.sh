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

cargo build -p hafiz
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace
else
  cargo test --workspace
fi

tests/py/run.sh

# The client suites again on a 4-drive node (erasure coded 2+2). The erasure fault
# tests run once, in the first pass: they choose their own drive layouts; so do the
# cluster suites (multi-process clusters) and the deployment checks.
HAFIZ_TEST_DRIVES=4 tests/py/run.sh --deselect tests/py/test_erasure.py \
  --deselect tests/py/test_cluster.py --deselect tests/py/test_deploy.py \
  --deselect tests/py/test_linearizability_checker.py --deselect tests/py/test_notifications.py

# Benchmarks in smoke mode, so they never rot (full runs: see docs/performance.md).
# Built with the test profile: a release build would cost CI minutes for numbers a
# smoke run does not give anyway.
HAFIZ_BENCH_QUICK=1 cargo test -p hafiz-benches --benches

# The S3 load benchmark in smoke mode (the debug build, tiny sizes, seconds): it must
# run end to end with GET verification on. Full matrix: benches/run.sh.
QUICK=1 PROFILE=debug benches/run.sh
