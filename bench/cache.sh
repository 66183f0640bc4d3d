#!/usr/bin/env bash
# The engine's caches measured on the demo stack, run by hand: `bench/cache.sh [seconds]`.
#
# Builds the release stack and, for each mode, starts it fresh and drives three workloads with
# wrk (2 threads, 50 connections, a 5 s warm-up, then the measured window):
#   web page     the web BFF's product page, one product (a public page asked again and again)
#   mobile feed  the mobile BFF's home feed
#   mixed        web product pages over 30 products (bench/cache/mixed.lua): pages differ,
#                the entities under them overlap
# Modes: every request executed in full (caches off and identical requests in flight not
# shared: TRIBUTARY_CACHE__RESPONSE=false, TRIBUTARY_CACHE__ENTITIES=false,
# TRIBUTARY_SERVER__DEDUPE_REQUESTS=false), caches off with sharing (the default), the response
# cache alone, the entity cache alone, both in memory, and both with Redis
# (REDIS_URL=redis://127.0.0.1:6379, a fresh key prefix; Redis must be running).
# Printed per mode and workload: requests per second, p99, and subgraph requests per client
# request (from the engines' `tributary_subgraph_requests_total`); then each mode's RPS and
# subgraph requests relative to requests executed in full. Everything runs on this machine: compare rows of
# one run, not runs of different machines.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
command -v wrk >/dev/null || { echo "bench: wrk is needed (apt-get install wrk)" >&2; exit 1; }
redis_url=${REDIS_URL:-redis://127.0.0.1:6379}
(exec 3<>"/dev/tcp/127.0.0.1/6379") 2>/dev/null || { echo "bench: Redis must be reachable at 127.0.0.1:6379" >&2; exit 1; }

# TRIBUTARY_STACK_BIN: a prebuilt `tributary` stack binary, instead of building this checkout.
bin=${TRIBUTARY_STACK_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release -q -p tributary
  bin=target/release/tributary
fi
out=$(mktemp -d)
stack=""
trap 'if [ -n "$stack" ]; then kill $stack 2>/dev/null; wait 2>/dev/null; fi; rm -rf "$out"' EXIT

lua() { # $1 document, $2 variables JSON -> a wrk script posting them
  python3 - "$1" "$2" <<'PY'
import json, sys
body = json.dumps({"query": sys.argv[1], "variables": json.loads(sys.argv[2])})
print('wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\nwrk.body = ' + json.dumps(body))
PY
}
lua 'query Page($id: ID!) { product(id: $id) { id name priceCents inStock reviewCount reviews(first: 3) { rating author { name } } } }' '{"id": "25"}' > "$out/web.lua"
lua "$(cat bff-mobile/operations/HomeFeed.graphql)" '{"first": 6}' > "$out/mobile.lua"
cp bench/cache/mixed.lua "$out/mixed.lua"

# Sum of tributary_subgraph_requests_total on one engine's /metrics.
subgraph_requests() {
  curl -sf "$1" | awk '/^tributary_subgraph_requests_total/ { s += $NF } END { printf "%d", s }'
}

run_mode() { # $1 mode name, then VAR=value pairs for the stack
  local mode=$1; shift
  local data; data=$(mktemp -d -p "$out")
  env "$@" RUST_LOG=warn "$bin" --data-dir "$data" --reset > "$out/$mode.log" 2>&1 &
  stack=$!
  for _ in $(seq 1 120); do
    curl -sf http://127.0.0.1:4002/health >/dev/null 2>&1 && break
    sleep 0.5
  done
  for workload in web mobile mixed; do
    local url=http://127.0.0.1:4000/graphql metrics=http://127.0.0.1:4000/metrics
    if [ "$workload" = mobile ]; then url=http://127.0.0.1:4001/graphql metrics=http://127.0.0.1:4001/metrics; fi
    wrk -t2 -c50 -d5s -s "$out/$workload.lua" "$url" > /dev/null
    local before after
    before=$(subgraph_requests "$metrics")
    wrk -t2 -c50 -d"${seconds}s" --latency -s "$out/$workload.lua" "$url" > "$out/$mode-$workload.txt"
    after=$(subgraph_requests "$metrics")
    local rps p99 requests errors
    rps=$(awk '/Requests\/sec/ {print $2}' "$out/$mode-$workload.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$out/$mode-$workload.txt")
    requests=$(awk '/requests in/ {print $1}' "$out/$mode-$workload.txt")
    errors=$(awk '/Non-2xx/ {print $NF}' "$out/$mode-$workload.txt")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$workload" "$rps" "$p99" \
      "$(python3 -c "print(round(($after - $before) / max($requests, 1), 3))")" "${errors:-0}" >> "$out/results"
  done
  kill "$stack"; wait "$stack" 2>/dev/null || true; stack=""
}

off=(TRIBUTARY_CACHE__RESPONSE=false TRIBUTARY_CACHE__ENTITIES=false)
run_mode "executed" "${off[@]}" TRIBUTARY_SERVER__DEDUPE_REQUESTS=false
run_mode "off" "${off[@]}"
run_mode "response" TRIBUTARY_CACHE__ENTITIES=false
run_mode "entity" TRIBUTARY_CACHE__RESPONSE=false
run_mode "both" TRIBUTARY_CACHE__RESPONSE=true
run_mode "both+redis" REDIS_URL="$redis_url" TRIBUTARY_CACHE__REDIS_PREFIX="bench-$(date +%s)"

python3 - "$out/results" <<'PY'
import sys
rows = [line.split("\t") for line in open(sys.argv[1]).read().splitlines()]
base = {r[1]: r for r in rows if r[0] == "executed"}
print(f"{'mode':<11} {'workload':<8} {'RPS':>9} {'p99':>9} {'subgraph req/req':>17} {'non-2xx':>8} {'RPS vs executed':>16} {'subgraph requests':>18}")
for mode, workload, rps, p99, sub, errors in rows:
    b = base[workload]
    ratio = float(rps) / float(b[2])
    cut = (1 - float(sub) / float(b[4])) * 100 if float(b[4]) else 0.0
    print(f"{mode:<11} {workload:<8} {float(rps):>9.0f} {p99:>9} {float(sub):>17.3f} {errors:>8} {ratio:>15.2f}x {cut:>12.0f}% fewer")
PY
