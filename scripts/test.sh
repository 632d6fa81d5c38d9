#!/usr/bin/env bash
# Runs every test: the Rust workspace's tests, then the end-to-end suite
# against the freshly built binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo build -p hafiz
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace
else
  cargo test --workspace
fi

target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
HAFIZ_BIN="$target_dir/debug/hafiz" tests/py/run.sh
