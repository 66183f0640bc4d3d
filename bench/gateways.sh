#!/usr/bin/env bash
# Compares Tributary's router with other federation gateways on the public
# graphql-gateways-benchmark (graphql-hive/graphql-gateways-benchmark, pinned commit below):
# its Rust subgraphs (accounts, inventory, products, reviews in one `subgraphs` binary), its
# supergraph and the deep `TestQuery` of its k6.js (users -> reviews -> product -> reviews ->
# author -> reviews -> product, and topProducts likewise).
#
# Run by hand from anywhere:   bench/gateways.sh
# Given the benchmark's checkout and subgraphs, it
#   1. takes the benchmark's checkout (GATEWAYS_BENCHMARK_DIR, at the pinned commit) and its
#      subgraphs binary (SUBGRAPHS_BIN), both prepared by you outside this repository,
#   2. (nothing: third-party code is never fetched or built by this script),
#   3. installs Hive Router (`cargo install hive-router`, pinned version) into the bench home,
#   4. builds Tributary's router (`cargo build --release -p tributary-gateway`, the repo's target dir),
#   5. installs Apollo Gateway from npm (bench/peer's package.json) into the bench home, when
#      node is present (APOLLO=0 skips it, APOLLO=1 requires it),
# each step skipped when already done. Cargo builds wait until no other cargo build, check,
# clippy, test or install runs on the machine, and run under `nice -n 5`.
# Then it starts the subgraphs once on 127.0.0.1:$SUBGRAPHS_PORT, and for every gateway and
# regime starts a fresh gateway process on 127.0.0.1:$GATEWAY_PORT, checks its answer to the
# TestQuery once (data, no errors, equal as JSON to the first gateway's answer), drives it with
# `wrk -t2 -c50` (closed loop) for a warm-up then a measured window, and records RPS, p50/p99,
# errors (non-2xx/3xx plus socket errors), gateway and subgraph CPU time per request (utime +
# stime from /proc/PID/stat around the measured window), RSS before and after, and peak RSS
# (VmHWM). Regimes: subgraph-request dedupe on and off (Tributary: [subgraphs] dedupe; Hive
# Router: traffic_shaping.all.dedupe_enabled) with client-request dedupe off (Tributary:
# [server] dedupe_requests; Hive Router: traffic_shaping.router.dedupe.enabled), plus one row
# of each with both on, as the public benchmark configures Hive Router. Apollo Gateway has
# no dedupe setting and runs once.
#
# The markdown results go to stdout and to $BENCH_HOME/last-results.md; progress goes to stderr;
# logs, configs and raw wrk output of the last run are in $BENCH_HOME/run/.
#
# Environment (all optional):
#   TRIBUTARY_BENCH_HOME   where everything is downloaded, built and run (~/.cache/tributary-bench)
#   WARMUP, DURATION       seconds of warm-up and of measurement per row (10, 30)
#   CONNECTIONS, THREADS   wrk connections and threads (50, 2)
#   SCALING=1              also run Tributary and Hive Router (dedupe off) at SCALING_CONNECTIONS
#                          ("10 50 200 500") connections
#   APOLLO                 auto (default: if node is present), 0 or 1
#   GATEWAYS_BENCHMARK_DIR a checkout of the benchmark repository (required)
#   SUBGRAPHS_BIN          its built `subgraphs` binary (required)
#   TRIBUTARY_BIN          a prebuilt tributary-gateway binary (skips step 4)
#   SUBGRAPHS_PORT, GATEWAY_PORT   loopback ports (6200, 6400)
#   WRK_TIMEOUT            wrk's socket timeout (10s)
#   HIVE_LOG_LEVEL         Hive Router's log.level (warn: at info, 0.2.19 writes one JSON line per
#                          request, an access log Tributary does not keep; the public benchmark
#                          runs an older version at info)
#   QUIET_WAIT             most seconds a row waits for a quiet machine (600)
#   BENCH_NO_CARGO_WAIT=1  wait neither for other cargo processes nor for a quiet machine
# A build waits until no other cargo build runs; a row waits for that too and for a quiet machine
# (other processes below a quarter of a core). The CPU that other processes used during a row's
# measured window is shown ("others' cores"): well above 0 means the row was disturbed.
# Needs: git, cargo, wrk (apt-get install wrk), python3, curl; node/npm for Apollo Gateway.
# Everything runs on this machine's loopback; the figures compare gateways within one run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
BENCH_HOME=${TRIBUTARY_BENCH_HOME:-$HOME/.cache/tributary-bench}
WARMUP=${WARMUP:-10}
DURATION=${DURATION:-30}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-2}
SCALING=${SCALING:-0}
SCALING_CONNECTIONS=${SCALING_CONNECTIONS:-10 50 200 500}
APOLLO=${APOLLO:-auto}
SUBGRAPHS_PORT=${SUBGRAPHS_PORT:-6200}
GATEWAY_PORT=${GATEWAY_PORT:-6400}
WRK_TIMEOUT=${WRK_TIMEOUT:-10s}
HIVE_LOG_LEVEL=${HIVE_LOG_LEVEL:-warn}
BENCHMARK_COMMIT=e583a1ff4ae2e0e5380b9caabd8a00d400947a8b
HIVE_ROUTER_VERSION=0.2.19

say() { printf '[gateways] %s\n' "$*" >&2; }
die() { printf 'bench/gateways.sh: error: %s\n' "$*" >&2; exit 1; }

for tool in git cargo wrk python3 curl pgrep; do
  command -v "$tool" >/dev/null || die "$tool is needed but not found$([ "$tool" = wrk ] && echo ' (apt-get install wrk)')"
done
for n in "$WARMUP" "$DURATION" "$CONNECTIONS" "$THREADS" "$SUBGRAPHS_PORT" "$GATEWAY_PORT"; do
  [[ $n =~ ^[0-9]+$ ]] || die "WARMUP, DURATION, CONNECTIONS, THREADS and the ports must be whole numbers (got '$n')"
done
[ "$DURATION" -gt 0 ] || die "DURATION must be at least 1"
case $APOLLO in auto | 0 | 1) ;; *) die "APOLLO must be auto, 0 or 1" ;; esac
tools_py=$here/gateways/tools.py
wrk_lua=$here/gateways/wrk.lua
if [ ! -f "$tools_py" ] || [ ! -f "$wrk_lua" ]; then die "helper files missing under $here/gateways"; fi
mkdir -p "$BENCH_HOME"
BENCH_HOME=$(cd "$BENCH_HOME" && pwd)
ulimit -n 65536 2>/dev/null || true
started=$(date +%s)

# ---- processes: every one started here is stopped on exit ---------------------------------
pids=()
stop_pid() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in ${pids[@]+"${pids[@]}"}; do stop_pid "$pid"; done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_cargo_idle() {
  [ "${BENCH_NO_CARGO_WAIT:-0}" = 1 ] && return 0
  local waited=0
  while pgrep -f 'cargo (build|check|clippy|test|nextest|install|doc|bench)( |$)' >/dev/null 2>&1; do
    [ $((waited % 60)) -eq 0 ] && say "another cargo build runs on this machine; waiting for it to end (${waited}s so far)"
    sleep 5
    waited=$((waited + 5))
  done
}

# ---- 1. the benchmark repository -------------------------------------------------------------
# The benchmark's own checkout and its built subgraphs are provided by the person running the
# bench, outside this repository: this script neither fetches nor builds third-party code.
bench_src=${GATEWAYS_BENCHMARK_DIR:-}
[ -n "$bench_src" ] && [ -f "$bench_src/k6.js" ] \
  || die "set GATEWAYS_BENCHMARK_DIR to a checkout of graphql-gateways-benchmark (commit $BENCHMARK_COMMIT)"
sub_bin=${SUBGRAPHS_BIN:-}
[ -n "$sub_bin" ] && [ -x "$sub_bin" ] \
  || die "set SUBGRAPHS_BIN to the benchmark's built subgraphs binary (its 'subgraphs' package, release)"

# ---- 3. Hive Router --------------------------------------------------------------------------
hive_root=$BENCH_HOME/hive-router
hive_bin=$hive_root/bin/hive_router
if [ ! -x "$hive_bin" ] || ! grep -q "^\"hive-router $HIVE_ROUTER_VERSION " "$hive_root/.crates.toml" 2>/dev/null; then
  wait_cargo_idle
  say "installing hive-router $HIVE_ROUTER_VERSION from crates.io into $hive_root"
  CARGO_TARGET_DIR=$BENCH_HOME/target/hive-router nice -n 5 cargo install hive-router \
    --version "$HIVE_ROUTER_VERSION" --features graphiql --locked --root "$hive_root" \
    || die "cargo install hive-router $HIVE_ROUTER_VERSION failed"
  [ -x "$hive_bin" ] || die "cargo install hive-router left no $hive_bin (bin/: $(ls "$hive_root/bin" 2>/dev/null | tr '\n' ' '))"
fi

# ---- 4. Tributary's router -------------------------------------------------------------------
if [ -n "${TRIBUTARY_BIN:-}" ]; then
  trib_bin=$TRIBUTARY_BIN
else
  wait_cargo_idle
  say "building Tributary's router (cargo build --release -p tributary-gateway)"
  (cd "$repo" && nice -n 5 cargo build --release -p tributary-gateway) || die "building tributary-gateway failed"
  target_dir=${CARGO_TARGET_DIR:-$repo/target}
  case $target_dir in /*) ;; *) target_dir=$repo/$target_dir ;; esac
  trib_bin=$target_dir/release/tributary-gateway
fi
[ -x "$trib_bin" ] || die "no Tributary router binary at $trib_bin"

# ---- 5. Apollo Gateway (optional) ------------------------------------------------------------
apollo=0
apollo_version=""
peer_home=$BENCH_HOME/apollo-peer
if [ "$APOLLO" != 0 ]; then
  if command -v node >/dev/null && command -v npm >/dev/null; then
    mkdir -p "$peer_home"
    cp "$repo/bench/peer/apollo-gateway.mjs" "$peer_home/"
    if [ ! -d "$peer_home/node_modules/@apollo/gateway" ] \
      || ! cmp -s "$repo/bench/peer/package-lock.json" "$peer_home/package-lock.json"; then
      say "installing Apollo Gateway from npm into $peer_home"
      cp "$repo/bench/peer/package.json" "$repo/bench/peer/package-lock.json" "$peer_home/"
      (cd "$peer_home" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci in $peer_home failed"
    fi
    apollo=1
    apollo_version=$(node -p "require('$peer_home/node_modules/@apollo/gateway/package.json').version")
  elif [ "$APOLLO" = 1 ]; then
    die "APOLLO=1 but node/npm are not found"
  else
    say "node not found: Apollo Gateway is left out"
  fi
fi

# ---- inputs: supergraph with local subgraph URLs, the TestQuery body ------------------------
run=$BENCH_HOME/run
rm -rf "$run"
mkdir -p "$run"
supergraph=$BENCH_HOME/supergraph.graphql
sed "s#http://0\.0\.0\.0:4200/#http://127.0.0.1:$SUBGRAPHS_PORT/#g" \
  "$bench_src/gateways/hive-router/supergraph.graphql" > "$supergraph"
for name in accounts inventory products reviews; do
  grep -q "url: \"http://127.0.0.1:$SUBGRAPHS_PORT/$name\"" "$supergraph" \
    || die "the supergraph has no URL for subgraph $name after rewriting (see $supergraph)"
done
grep -q '0\.0\.0\.0:4200' "$supergraph" && die "the supergraph still names 0.0.0.0:4200 (see $supergraph)"
body=$BENCH_HOME/test-query.json
python3 "$tools_py" body "$bench_src/k6.js" "$body" || die "could not take the TestQuery from k6.js"
export WRK_BODY_FILE=$body

# ---- subgraphs -------------------------------------------------------------------------------
port_open "$SUBGRAPHS_PORT" && die "port $SUBGRAPHS_PORT is already in use (set SUBGRAPHS_PORT)"
port_open "$GATEWAY_PORT" && die "port $GATEWAY_PORT is already in use (set GATEWAY_PORT)"
HOST=127.0.0.1 PORT=$SUBGRAPHS_PORT "$sub_bin" > "$run/subgraphs.log" 2>&1 &
sub_pid=$!
pids+=("$sub_pid")
for i in $(seq 1 100); do
  kill -0 "$sub_pid" 2>/dev/null || die "the subgraphs exited at start: $(tail -5 "$run/subgraphs.log")"
  curl -sf "http://127.0.0.1:$SUBGRAPHS_PORT/health" >/dev/null 2>&1 && break
  [ "$i" = 100 ] && die "the subgraphs did not answer /health within 20 s"
  sleep 0.2
done
curl -sf "http://127.0.0.1:$SUBGRAPHS_PORT/accounts" -H 'content-type: application/json' \
  -d '{"query":"{ users { id } }"}' | grep -q '"users"' || die "the accounts subgraph does not answer a query"

# ---- one measured cell -------------------------------------------------------------------------
clk_tck=$(getconf CLK_TCK)
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; } # all CPUs, in ticks
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; } # utime + stime (fields 14, 15), in ticks
mem_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
gw_pid=""
gw_url=""

# Before a row: wait (up to QUIET_WAIT seconds, 600 by default) until processes other than the
# subgraphs use less than a quarter of a core over 3 s, so a row is not measured beside another
# benchmark or build.
wait_machine_quiet() {
  [ "${BENCH_NO_CARGO_WAIT:-0}" = 1 ] && return 0
  local waited=0 b0 s0 b1 s1 busy
  while :; do
    b0=$(busy_ticks); s0=$(cpu_ticks "$sub_pid")
    sleep 3
    b1=$(busy_ticks); s1=$(cpu_ticks "$sub_pid")
    busy=$(awk -v d=$((b1 - b0 - s1 + s0)) -v t="$clk_tck" 'BEGIN { printf "%.2f", d / t / 3 }')
    awk -v b="$busy" 'BEGIN { exit !(b < 0.25) }' && return 0
    if [ "$waited" -ge "${QUIET_WAIT:-600}" ]; then
      say "the machine is still busy ($busy cores used by other processes); measuring anyway"
      return 0
    fi
    [ $((waited % 60)) -eq 0 ] && say "other processes use $busy cores; waiting for a quiet machine (${waited}s so far)"
    waited=$((waited + 3))
  done
}

start_gateway() { # $1 kind (tributary|hive|apollo), $2 name of the cell, $3 subgraph dedupe, $4 client dedupe
  local kind=$1 cell=$2 sub_dedupe=$3 client_dedupe=$4 dir=$run/$2
  mkdir -p "$dir"
  port_open "$GATEWAY_PORT" && die "port $GATEWAY_PORT is still in use before starting $cell"
  case $kind in
    tributary)
      # Engine keys: docs/config.md. The deep TestQuery passes the default [limits].
      printf '[server]\ndedupe_requests = %s\n\n[subgraphs]\ndedupe = %s\n' "$client_dedupe" "$sub_dedupe" \
        > "$dir/tributary.toml"
      "$trib_bin" --supergraph "$supergraph" --listen "127.0.0.1:$GATEWAY_PORT" \
        --config "$dir/tributary.toml" --no-watch > "$dir/gateway.log" 2>&1 &
      gw_url=http://127.0.0.1:$GATEWAY_PORT/graphql
      ;;
    hive)
      # Keys of hive-router-config (the crate hive-router $HIVE_ROUTER_VERSION depends on);
      # unknown keys are refused at start.
      cat > "$dir/router.config.yaml" <<EOF
http:
  host: 127.0.0.1
  port: $GATEWAY_PORT
supergraph:
  source: file
  path: $supergraph
log:
  level: $HIVE_LOG_LEVEL
traffic_shaping:
  all:
    dedupe_enabled: $sub_dedupe
  router:
    dedupe:
      enabled: $client_dedupe
EOF
      (cd "$dir" && exec env -u RUST_LOG "$hive_bin") > "$dir/gateway.log" 2>&1 &
      gw_url=http://127.0.0.1:$GATEWAY_PORT/graphql
      ;;
    apollo)
      node "$peer_home/apollo-gateway.mjs" "$supergraph" "$GATEWAY_PORT" > "$dir/gateway.log" 2>&1 &
      gw_url=http://127.0.0.1:$GATEWAY_PORT/
      ;;
  esac
  gw_pid=$!
  pids+=("$gw_pid")
  local code=""
  for i in $(seq 1 300); do
    kill -0 "$gw_pid" 2>/dev/null || die "$cell exited at start; last lines of $dir/gateway.log:
$(tail -15 "$dir/gateway.log")"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
      --data-binary "@$body" "$gw_url" 2>/dev/null || true)
    [ "$code" = 200 ] && break
    [ "$i" = 300 ] && die "$cell did not answer the TestQuery with 200 within 60 s (last status '$code'; see $dir/gateway.log)"
    sleep 0.2
  done
  curl -s -H 'content-type: application/json' --data-binary "@$body" "$gw_url" > "$dir/answer.json"
  python3 "$tools_py" check "$dir/answer.json" "$run/reference-answer.json" "$cell" >&2 \
    || die "$cell gives a wrong answer to the TestQuery"
}

measure() { # $1 row label, $2 gateway kind, $3 sub dedupe, $4 client dedupe, $5 connections, $6 kind of row
  local label=$1 kind=$2 sub=$3 client=$4 conns=$5 rowkind=$6
  local cell
  cell=$(printf '%s-%s-sub-%s-client-%s-c%s' "$rowkind" "$label" "$sub" "$client" "$conns" | tr -c 'A-Za-z0-9\n' '-' | tr -s '-')
  wait_cargo_idle
  wait_machine_quiet
  say "$label (subgraph dedupe $sub, client dedupe $client), $conns connections: ${WARMUP}s warm-up, ${DURATION}s measured"
  start_gateway "$kind" "$cell" "$sub" "$client"
  local dir=$run/$cell
  local rss_before
  rss_before=$(mem_kb "$gw_pid" VmRSS)
  if [ "$WARMUP" -gt 0 ]; then
    wrk -t"$THREADS" -c"$conns" -d"${WARMUP}s" --timeout "$WRK_TIMEOUT" -s "$wrk_lua" "$gw_url" > "$dir/wrk-warmup.txt" 2>&1 \
      || die "wrk warm-up failed for $label: $(tail -5 "$dir/wrk-warmup.txt")"
  fi
  local g0 s0 b0 t0 g1 s1 b1 t1 TIMEFORMAT='%3U %3S'
  g0=$(cpu_ticks "$gw_pid")
  s0=$(cpu_ticks "$sub_pid")
  b0=$(busy_ticks)
  t0=$(date +%s%N)
  { time wrk -t"$THREADS" -c"$conns" -d"${DURATION}s" --timeout "$WRK_TIMEOUT" -s "$wrk_lua" "$gw_url" > "$dir/wrk.txt" 2>&1; } 2> "$dir/wrk-cpu.txt" \
    || die "wrk failed for $label: $(tail -5 "$dir/wrk.txt")"
  t1=$(date +%s%N)
  b1=$(busy_ticks)
  g1=$(cpu_ticks "$gw_pid")
  s1=$(cpu_ticks "$sub_pid")
  local others # CPU of every other process during the window (machine busy - gateway - subgraphs - wrk), in cores
  others=$(awk -v b=$((b1 - b0)) -v g=$((g1 - g0)) -v s=$((s1 - s0)) -v tck="$clk_tck" -v ns=$((t1 - t0)) \
    '{ o = (b - g - s - ($1 + $2) * tck) / tck / (ns / 1e9); printf "%.3f", (o < 0 ? 0 : o) }' "$dir/wrk-cpu.txt")
  kill -0 "$gw_pid" 2>/dev/null || die "$label exited during the run (see $dir/gateway.log)"
  local rss_after hwm
  rss_after=$(mem_kb "$gw_pid" VmRSS)
  hwm=$(mem_kb "$gw_pid" VmHWM)
  stop_pid "$gw_pid"
  local line
  line=$(grep '^WRKRESULT' "$dir/wrk.txt") || die "no result line in $dir/wrk.txt"
  # shellcheck disable=SC2034 # all are set by the eval below; mean_us is unused
  local requests duration_us connect read write status timeout p50_us p99_us mean_us
  eval "$(printf '%s\n' "${line#WRKRESULT }" | tr ' ' '\n' | sed 's/^/local /')"
  [ "$requests" -gt 0 ] || die "$label completed no request (see $dir/wrk.txt)"
  awk -v label="$label" -v gw="$kind" -v sub_d="$sub" -v cli="$client" -v c="$conns" -v n="$requests" \
    -v us="$duration_us" -v p50="$p50_us" -v p99="$p99_us" \
    -v errs=$((status + connect + read + write + timeout)) -v tck="$clk_tck" \
    -v gd=$((g1 - g0)) -v sd=$((s1 - s0)) -v rb="$rss_before" -v ra="$rss_after" -v hw="$hwm" -v kind="$rowkind" -v others="$others" \
    'BEGIN { OFS = "\t"; secs = us / 1e6;
       print label, gw, sub_d, cli, c, n, secs, n / secs, p50 / 1000, p99 / 1000, errs,
         gd * 1e6 / tck / n, sd * 1e6 / tck / n, gd / tck / secs, rb / 1024, ra / 1024, hw / 1024, kind, others }' \
    >> "$run/results.tsv"
  say "  -> $(awk -F'\t' 'END { printf "%.0f req/s, p99 %.1f ms, %d errors, gateway %.0f µs CPU/req", $8, $10, $11, $12 }' "$run/results.tsv")"
}

# ---- the runs ----------------------------------------------------------------------------------
: > "$run/results.tsv"
measure "Hive Router" hive true false "$CONNECTIONS" main
measure "Tributary" tributary true false "$CONNECTIONS" main
measure "Hive Router" hive false false "$CONNECTIONS" main
measure "Tributary" tributary false false "$CONNECTIONS" main
measure "Hive Router, client dedupe on" hive true true "$CONNECTIONS" main
measure "Tributary, client dedupe on" tributary true true "$CONNECTIONS" main
[ "$apollo" = 1 ] && measure "Apollo Gateway" apollo n/a n/a "$CONNECTIONS" main
if [ "$SCALING" = 1 ]; then
  for c in $SCALING_CONNECTIONS; do
    measure "Tributary" tributary false false "$c" scaling
    measure "Hive Router" hive false false "$c" scaling
  done
fi

# ---- report ------------------------------------------------------------------------------------
trib_commit=$(git -C "$repo" rev-parse --short HEAD)
git -C "$repo" diff --quiet HEAD -- 2>/dev/null || trib_commit="$trib_commit + uncommitted changes"
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
python3 - "$run/meta.json" <<EOF
import json, sys
json.dump({
    "date": "$(date -u '+%Y-%m-%d %H:%M UTC')", "benchmark_commit": "$BENCHMARK_COMMIT",
    "tributary_commit": "$trib_commit", "hive_version": "$HIVE_ROUTER_VERSION",
    "apollo_version": "$apollo_version", "threads": $THREADS, "connections": $CONNECTIONS,
    "warmup": $WARMUP, "duration": $DURATION, "cpus": $(nproc), "cpu_model": "${cpu_model:-unknown}",
}, open(sys.argv[1], "w"))
EOF
python3 "$tools_py" report "$run/results.tsv" "$run/meta.json" > "$BENCH_HOME/last-results.md"
cat "$BENCH_HOME/last-results.md"
say "done in $(($(date +%s) - started)) s; results also in $BENCH_HOME/last-results.md, logs in $run"
