#!/usr/bin/env bash
# Load benchmark of the real server: builds `hafiz` and `hafiz-bench` (release), then
# for each node layout (1 drive; 4 drives erasure coded 2+2) starts hafiz on fresh
# temp dirs on a free loopback port, runs the matrix with hafiz-bench, stops it.
# Baselines in the same run: files written with fsync and read back in the same temp
# dirs, and a no-op hyper HTTP/1.1 server (the loopback round-trip ceiling).
# Ends with the ratio table; every phase's JSON line goes to the results file.
#
#   benches/run.sh                 full matrix (LIST over LIST_OBJECTS=100000 keys)
#   QUICK=1 benches/run.sh         smoke mode: seconds, tiny counts, 64 MiB -> 4 MiB
#
# Env: QUICK, PROFILE (release; debug for a smoke run on the test build), LIST_OBJECTS, LIST_CONCURRENCY (4), LAYOUTS ("1 4"; "" for none), CLUSTER (1),
#   REPLICATION (1; REPLICATION_SIZE, REPLICATION_COUNT),
# TIERING (1: transition to a second hafiz vs a GET+PUT copy), RESULTS (file),
# BENCH_TMPDIR (where the drives go; default /tmp), CARGO_TARGET_DIR.
# Every GET body is verified against what was written; a mismatch fails the run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
[[ "$target_dir" = /* ]] || target_dir="$PWD/$target_dir"

# PROFILE=debug reuses the test build (CI's smoke run: it checks that the harness runs
# end to end, and a release build would cost CI ten minutes for numbers nobody reads).
PROFILE="${PROFILE:-release}"
build_started=$SECONDS
if [[ "$PROFILE" = debug ]]; then
  cargo build -p hafiz -p hafiz-bench
else
  cargo build --release -p hafiz -p hafiz-bench
fi
echo "build ($PROFILE): $((SECONDS - build_started)) s"
HAFIZ="$target_dir/$PROFILE/hafiz"
BENCH="$target_dir/$PROFILE/hafiz-bench"

QUICK="${QUICK:-0}"
if [[ "$QUICK" = 1 ]]; then
  SMALL_N=300 HEAD1_N=300 MID_N=20 LARGE=4MiB LARGE_N=6
  MP_SIZE=12MiB MP_PART=5MiB MP_N=2 NOOP_SECS=1 MEM_SIZE=4MiB
  LIST_OBJECTS="${LIST_OBJECTS:-2500}"
else
  SMALL_N=20000 HEAD1_N=5000 MID_N=1000 LARGE=64MiB LARGE_N=32
  MP_SIZE=64MiB MP_PART=8MiB MP_N=8 NOOP_SECS=10 MEM_SIZE=16MiB
  LIST_OBJECTS="${LIST_OBJECTS:-100000}"
fi
LIST_CONCURRENCY="${LIST_CONCURRENCY:-4}"
LAYOUTS="${LAYOUTS-1 4}"
RESULTS="${RESULTS:-$target_dir/loadbench-$(date +%Y%m%d-%H%M%S).jsonl}"
mkdir -p "$(dirname "$RESULTS")"
: >"$RESULTS"

export AWS_ACCESS_KEY_ID=loadbenchaccesskey
export AWS_SECRET_ACCESS_KEY=loadbenchsecretkey0123456789abcdef
export HAFIZ_ROOT_ACCESS_KEY="$AWS_ACCESS_KEY_ID" HAFIZ_ROOT_SECRET_KEY="$AWS_SECRET_ACCESS_KEY"

work="$(mktemp -d "${BENCH_TMPDIR:-/tmp}/hafiz-loadbench.XXXXXX")"
server_pid=""
noop_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [[ -n "$noop_pid" ]] && kill -TERM "$noop_pid" 2>/dev/null && wait "$noop_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Ports below the kernel's ephemeral range: a port that merely answers no connect can
# still be the local end of a client connection (the bench's own), and then bind fails.
ephemeral_low="$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((10000 + RANDOM % (ephemeral_low - 10000)))
    if port_free "$p"; then echo "$p"; return; fi
  done
  echo "no free port" >&2
  return 1
}

# GET http://127.0.0.1:$1$2 -> HTTP status code (000 when nothing answers).
http_status() {
  curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1$2" 2>/dev/null || true
}

# Runs hafiz-bench; its table rows go to the terminal, its JSON lines to $RESULTS.
bench() {
  local out="$work/bench.out"
  if ! "$BENCH" "$@" >"$out"; then
    cat "$out"
    echo "FAILED: hafiz-bench $*" >&2
    exit 1
  fi
  grep -v '^{' "$out" | grep -v '^op ' || true
  grep '^{' "$out" >>"$RESULTS"
}

header() {
  printf '%-16s %9s %5s %9s %8s %11s %10s %9s %9s %9s %7s\n' \
    op size conc ops secs ops/s MiB/s "p50 ms" "p99 ms" "p999 ms" errors
}

echo "results: $RESULTS (QUICK=$QUICK, LIST_OBJECTS=$LIST_OBJECTS)"

# --- the no-op HTTP/1.1 round trip ceiling -----------------------------------------
noop_port="$(free_port)"
"$BENCH" --noop-server "127.0.0.1:$noop_port" 2>"$work/noop.log" &
noop_pid=$!
for _ in $(seq 100); do [[ "$(http_status "$noop_port" /)" = 200 ]] && break; sleep 0.05; done
echo
echo "== no-op hyper server (loopback round-trip ceiling) =="
header
for c in 32 1; do
  bench --endpoint "http://127.0.0.1:$noop_port" --op noop --concurrency "$c" \
    --duration "$NOOP_SECS" --label noop
done
kill -TERM "$noop_pid"
wait "$noop_pid" 2>/dev/null || true
noop_pid=""

# Starts hafiz on a free port with the given --data args; sets server_pid and port.
start_server() {
  local drives="$1"
  shift
  local ready="" attempt
  # Another process can take the port between the check and the bind: try another one.
  for attempt in 1 2 3 4 5; do
    port="$(free_port)"
    "$HAFIZ" server --address "127.0.0.1:$port" --admin-address 127.0.0.1:0 "$@" --log-format json \
      >>"$work/$drives/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 600); do
      if [[ "$(http_status "$port" /health/ready)" = 200 ]]; then ready=1; break; fi
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.05
    done
    [[ -n "$ready" ]] && break
    kill -0 "$server_pid" 2>/dev/null && break
    wait "$server_pid" 2>/dev/null || true
    grep -q "cannot listen on 127.0.0.1:$port" "$work/$drives/server.log" || break
    echo "port $port was taken (attempt $attempt), trying another" >&2
  done
  if [[ -z "$ready" ]]; then
    echo "hafiz did not become ready on port $port:" >&2
    grep -v '^ ' "$work/$drives/server.log" | tail -n 20 >&2
    exit 1
  fi
}

# SIGTERM; the server must drain and exit 0.
stop_server() {
  kill -TERM "$server_pid"
  local rc=0
  wait "$server_pid" || rc=$?
  server_pid=""
  if [[ "$rc" != 0 ]]; then
    echo "hafiz exited $rc after SIGTERM" >&2
    tail -n 30 "$work/$1/server.log" >&2
    exit 1
  fi
}

# --- each node layout --------------------------------------------------------------
for drives in $LAYOUTS; do
  case "$drives" in
    1) label="1-drive"; data=(--data "$work/$drives/d1") ;;
    4) label="4-drive-2+2"; data=(--data "$work/$drives/d{1...4}") ;;
    *) label="$drives-drive"; data=(--data "$work/$drives/d{1...$drives}") ;;
  esac
  mkdir -p "$work/$drives"
  echo
  echo "== $label =="
  header

  # Physical baseline: plain files in the same temp dir (same filesystem as the drives).
  bench --files-baseline "$work/$drives/files" --size 4KiB --count "$SMALL_N" --concurrency 32 --label "$label"
  bench --files-baseline "$work/$drives/files" --size 1MiB --count "$MID_N" --concurrency 16 --label "$label"
  bench --files-baseline "$work/$drives/files" --size "$LARGE" --count "$LARGE_N" --concurrency 4 --label "$label"
  rm -rf "$work/$drives/files"

  start_server "$drives" "${data[@]}"
  ep=(--endpoint "http://127.0.0.1:$port" --bucket loadbench --label "$label")

  bench "${ep[@]}" --op put --size 4KiB --concurrency 32 --count "$SMALL_N"
  bench "${ep[@]}" --op get --size 4KiB --concurrency 32 --count "$SMALL_N" --populated
  bench "${ep[@]}" --op head --size 4KiB --concurrency 32 --count "$SMALL_N" --populated
  bench "${ep[@]}" --op head --size 4KiB --concurrency 1 --count "$HEAD1_N" --populated
  bench "${ep[@]}" --op put --size 1MiB --concurrency 16 --count "$MID_N"
  bench "${ep[@]}" --op get --size 1MiB --concurrency 16 --count "$MID_N" --populated
  bench "${ep[@]}" --op put --size "$LARGE" --concurrency 4 --count "$LARGE_N"
  bench "${ep[@]}" --op get --size "$LARGE" --concurrency 4 --count "$LARGE_N" --populated
  # The same with SSE-S3 (bucket default encryption), against the rows above.
  sse=(--endpoint "http://127.0.0.1:$port" --bucket loadbench-sse --label "$label-sse")
  bench "${sse[@]}" --op put --size "$LARGE" --concurrency 4 --count "$LARGE_N" --sse-s3
  bench "${sse[@]}" --op get --size "$LARGE" --concurrency 4 --count "$LARGE_N" --populated
  bench "${ep[@]}" --op multipart --size "$MP_SIZE" --part-size "$MP_PART" --concurrency 4 \
    --count "$MP_N" --prefix mp/
  # LIST: 0-byte objects written at concurrency 64, then full listings in 1,000-key pages.
  bench "${ep[@]}" --op list --size 0 --count "$LIST_OBJECTS" --page-size 1000 \
    --concurrency "$LIST_CONCURRENCY" --populate-concurrency 64 --prefix list/
  bench "${ep[@]}" --op delete --size 4KiB --concurrency 32 --count "$SMALL_N" --populated

  hwm_kib="$(awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status")"
  echo "hafiz peak RSS (VmHWM), $label: $((hwm_kib / 1024)) MiB"
  printf '{"op":"server-rss","label":"%s","vmhwm_kib":%s}\n' "$label" "$hwm_kib" >>"$RESULTS"

  stop_server "$drives"
  rm -rf "${work:?}/$drives"/d*

  # Memory under load: a fresh server (so VmHWM is this phase's peak) takes 64
  # concurrent large PUTs ($MEM_SIZE each). Bound: the idle server's RSS plus, per
  # stream, the block being gathered and the block in flight with its parity
  # (2 x (k+m)/k MiB) and 2 MiB of HTTP and allocator slack; see docs/performance.md.
  start_server "$drives" "${data[@]}"
  base_kib="$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")"
  case "$drives" in 1) per_stream_kib=4096 ;; *) per_stream_kib=6144 ;; esac
  bench --endpoint "http://127.0.0.1:$port" --bucket loadbench --label "$label" \
    --op put --size "$MEM_SIZE" --concurrency 64 --count 64 --prefix mem/
  hwm_kib="$(awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status")"
  bound_kib=$((base_kib + 64 * per_stream_kib))
  echo "hafiz peak RSS under 64 concurrent $MEM_SIZE PUTs, $label: $((hwm_kib / 1024)) MiB (idle $((base_kib / 1024)) MiB, bound $((bound_kib / 1024)) MiB)"
  printf '{"op":"memory","label":"%s","streams":64,"base_kib":%s,"vmhwm_kib":%s,"bound_kib":%s}\n' \
    "$label" "$base_kib" "$hwm_kib" "$bound_kib" >>"$RESULTS"
  stop_server "$drives"
  rm -rf "${work:?}/$drives"
done

# --- a 3-node loopback cluster, driven through node 1 ----------------------------------
if [[ " ${LAYOUTS} " == *" 1 "* && "${CLUSTER:-1}" = 1 ]]; then
  label="cluster-3"
  mkdir -p "$work/cluster"
  echo
  echo "== $label (3 nodes x 1 drive on loopback, through node 1) =="
  header
  export HAFIZ_CLUSTER_SECRET=loadbench-cluster-secret
  declare -A cport cpid
  rpc=()
  peers=()
  for i in 1 2 3; do
    rpc[$i]="$(free_port)"
    peers+=(--peer "$i=127.0.0.1:${rpc[$i]}")
  done
  for i in 1 2 3; do
    cport[$i]="$(free_port)"
    "$HAFIZ" server --node-id "$i" --address "127.0.0.1:${cport[$i]}" --admin-address 127.0.0.1:0 \
      --rpc-address "127.0.0.1:${rpc[$i]}" "${peers[@]}" --data "$work/cluster/n$i" --log-format json \
      >>"$work/cluster/server$i.log" 2>&1 &
    cpid[$i]=$!
  done
  for i in 1 2 3; do
    for _ in $(seq 600); do
      [[ "$(http_status "${cport[$i]}" /health/ready)" = 200 ]] && break
      sleep 0.05
    done
  done
  ep=(--endpoint "http://127.0.0.1:${cport[1]}" --bucket loadbench --label "$label")
  bench "${ep[@]}" --op put --size 4KiB --concurrency 32 --count "$SMALL_N"
  bench "${ep[@]}" --op get --size 4KiB --concurrency 32 --count "$SMALL_N" --populated
  bench "${ep[@]}" --op put --size "$LARGE" --concurrency 4 --count "$LARGE_N"
  bench "${ep[@]}" --op get --size "$LARGE" --concurrency 4 --count "$LARGE_N" --populated
  # Failover: SIGKILL the leader, then time until a write through a survivor succeeds.
  leader="$(grep -h '"became metadata leader"' "$work"/cluster/server*.log | tail -n1 | sed 's/.*"node":\([0-9]*\).*/\1/')"
  leader="${leader:-1}"
  survivor=$(( leader % 3 + 1 ))
  t0="$(date +%s%N)"
  kill -KILL "${cpid[$leader]}"
  wait "${cpid[$leader]}" 2>/dev/null || true
  for _ in $(seq 300); do
    if "$BENCH" --endpoint "http://127.0.0.1:${cport[$survivor]}" --bucket loadbench --label "$label" \
      --op put --size 4KiB --concurrency 1 --count 1 --prefix failover/ >/dev/null 2>&1; then
      break
    fi
  done
  t1="$(date +%s%N)"
  secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')"
  echo "failover (leader $leader SIGKILL -> first write via node $survivor): $secs s"
  printf '{"op":"failover","label":"%s","seconds":%s}\n' "$label" "$secs" >>"$RESULTS"
  for i in 1 2 3; do
    [[ "$i" = "$leader" ]] && continue
    kill -TERM "${cpid[$i]}" 2>/dev/null || true
    wait "${cpid[$i]}" 2>/dev/null || true
  done
  unset HAFIZ_CLUSTER_SECRET
  rm -rf "${work:?}/cluster"
fi

# --- tiering: transition throughput against a plain copy between the same two processes ---
if [[ "${TIERING:-1}" = 1 ]]; then
  if [[ "$QUICK" = 1 ]]; then TIER_SIZE=4MiB TIER_N=8; else TIER_SIZE=32MiB TIER_N=32; fi
  mkdir -p "$work/tier"
  rport="$(free_port)"
  "$HAFIZ" server --address "127.0.0.1:$rport" --admin-address 127.0.0.1:0 \
    --data "$work/tier/remote" --log-format json >>"$work/tier/remote.log" 2>&1 &
  tier_pids=($!)
  hport="$(free_port)" aport="$(free_port)"
  # A lifecycle day of one second and a scan every second: a Days 0 rule is due at
  # once and picked up within a second.
  HAFIZ_LIFECYCLE_DAY_SECONDS=1 "$HAFIZ" server --address "127.0.0.1:$hport" \
    --admin-address "127.0.0.1:$aport" --data "$work/tier/hot" --lifecycle-interval "every 1s" \
    --log-format json >>"$work/tier/hot.log" 2>&1 &
  tier_pids+=($!)
  for p in "$rport" "$hport"; do
    for _ in $(seq 600); do [[ "$(http_status "$p" /health/ready)" = 200 ]] && break; sleep 0.05; done
  done
  # The remote bucket, then the tier pointing at it.
  bench --endpoint "http://127.0.0.1:$rport" --bucket tier-remote --op put --size 0 --count 1 \
    --prefix probe/ --label tier-setup
  cli=(env HAFIZ_CONFIG_DIR="$work/tier/cli" "$HAFIZ" admin)
  "${cli[@]}" alias set hot "http://127.0.0.1:$aport" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >/dev/null
  "${cli[@]}" tier add hot warm --type s3 --storage-class STANDARD_IA \
    --endpoint "http://127.0.0.1:$rport" --bucket tier-remote --prefix hafiz \
    --access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" >/dev/null
  echo
  echo "== tiering: transition to a second hafiz vs GET+PUT copy between the same two =="
  bench --endpoint "http://127.0.0.1:$hport" --transition-to "http://127.0.0.1:$rport" \
    --bucket tierbench --size "$TIER_SIZE" --count "$TIER_N" --concurrency 4 --label tiering
  for p in "${tier_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "${work:?}/tier"
fi

# --- replication: replication throughput against a plain copy between the same two processes ---
if [[ "${REPLICATION:-1}" = 1 ]]; then
  if [[ "$QUICK" = 1 ]]; then REPL_SIZE=1MiB REPL_N=16; else REPL_SIZE=8MiB REPL_N=128; fi
  REPL_SIZE="${REPLICATION_SIZE:-$REPL_SIZE}" REPL_N="${REPLICATION_COUNT:-$REPL_N}"
  mkdir -p "$work/repl"
  dport="$(free_port)"
  "$HAFIZ" server --address "127.0.0.1:$dport" --admin-address 127.0.0.1:0 \
    --data "$work/repl/dest" --log-format json >>"$work/repl/dest.log" 2>&1 &
  repl_pids=($!)
  sport="$(free_port)" saport="$(free_port)"
  "$HAFIZ" server --address "127.0.0.1:$sport" --admin-address "127.0.0.1:$saport" \
    --data "$work/repl/src" --log-format json >>"$work/repl/src.log" 2>&1 &
  repl_pids+=($!)
  for p in "$dport" "$sport"; do
    for _ in $(seq 600); do [[ "$(http_status "$p" /health/ready)" = 200 ]] && break; sleep 0.05; done
  done
  cli=(env HAFIZ_CONFIG_DIR="$work/repl/cli" "$HAFIZ" admin)
  "${cli[@]}" alias set src "http://127.0.0.1:$saport" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >/dev/null
  # Not checked: the bench creates the destination bucket.
  "${cli[@]}" replicate add src dr --endpoint "http://127.0.0.1:$dport" --bucket repl-dest \
    --access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" --no-check >/dev/null
  echo
  echo "== replication: existing objects to a second hafiz vs GET+PUT copy between the same two =="
  bench --endpoint "http://127.0.0.1:$sport" --replicate-to "http://127.0.0.1:$dport" \
    --target-arn arn:hafiz:replication::dr:repl-dest --dest-bucket repl-dest \
    --bucket replbench --size "$REPL_SIZE" --count "$REPL_N" --concurrency 4 --label replication
  for p in "${repl_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "${work:?}/repl"
fi

echo
echo "== ratios (targets: large GET >= 0.7 x file read, large PUT >= 0.5 x file write;"
echo "   4 KiB GET >= 0.5, HEAD >= 0.6, PUT >= 0.3 x no-op rate; p99 HEAD at c1 < 1 ms) =="
"$BENCH" --report "$RESULTS"
echo "results: $RESULTS"
