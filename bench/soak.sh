#!/usr/bin/env bash
# Soak test, run by hand: `bench/soak.sh [minutes] [warm-up minutes]` (default 30 and 5).
#
# Starts the stack's subgraphs (the launcher on ports 5101–5105, 5000–5002 for its own fronts)
# and, as separate processes so their memory can be told apart, a web BFF (5010) and a mobile
# BFF (5011) pointed at those subgraphs. Then it drives mixed traffic for the given time with
# wrk: the web product page and storefront, the mobile home feed and product card, each with a
# few connections, all bounded in time. Every minute it samples each process's resident memory
# (VmRSS) and open file descriptors, and at the end prints the samples and, for each BFF, the
# slope of its RSS after the warm-up (MB per minute, least squares) — flat memory is ~0.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
warmup=${2:-5}
command -v wrk >/dev/null || { echo "soak: wrk is needed (apt-get install wrk)" >&2; exit 1; }

cargo build --release -q -p tributary -p bff-web -p bff-mobile
data=$(mktemp -d)
out=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

RUST_LOG=warn target/release/tributary --data-dir "$data" --reset \
  --subgraph-port 5101 --web-port 5000 --mobile-port 5001 --gateway-port 5002 > "$out/stack.log" 2>&1 &
stack=$!; pids+=("$stack")
for _ in $(seq 1 240); do curl -sf http://127.0.0.1:5002/health >/dev/null 2>&1 && break; sleep 0.5; done
subgraphs="accounts=http://127.0.0.1:5101/graphql,catalog=http://127.0.0.1:5102/graphql,reviews=http://127.0.0.1:5103/graphql,inventory=http://127.0.0.1:5104/graphql,orders=http://127.0.0.1:5105/graphql"
RUST_LOG=warn target/release/bff-web --listen 127.0.0.1:5010 --subgraph "$subgraphs" > "$out/web.log" 2>&1 &
web=$!; pids+=("$web")
RUST_LOG=warn target/release/bff-mobile --listen 127.0.0.1:5011 --subgraph "$subgraphs" > "$out/mobile.log" 2>&1 &
mobile=$!; pids+=("$mobile")
for port in 5010 5011; do
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.5; done
done

# One wrk script per traffic kind: a POST of a fixed GraphQL body.
script() { # $1: name, $2: document
  python3 - "$1" "$2" "$out" <<'PY'
import json, sys
name, document, out = sys.argv[1], sys.argv[2], sys.argv[3]
body = json.dumps({"query": document})
with open(f"{out}/{name}.lua", "w") as f:
    f.write('wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\n')
    f.write(f"wrk.body = {json.dumps(body)}\n")
PY
}
script page '{ productPage(id: "25") { product { name priceCents breadcrumbs { label } inStock shippingEstimateCents reviewCount reviews(first: 3) { rating author { name } } } recommended(first: 4) { id name } } }'
script storefront '{ storefront { featured(first: 8) { id name priceCents inStock } categories { name slug } } }'
script feed '{ homeFeed(first: 10) { cards { id name priceDisplay thumbnailUrl(width: 200) inStock } nextCursor hasMore } }'
script card '{ product(id: "7") { id name priceDisplay inStock reviewCount } }'

seconds=$((minutes * 60))
wrk -t1 -c4 -d"${seconds}s" -s "$out/page.lua" http://127.0.0.1:5010/graphql > "$out/wrk-page.txt" 2>&1 &
w1=$!; pids+=("$w1")
wrk -t1 -c2 -d"${seconds}s" -s "$out/storefront.lua" http://127.0.0.1:5010/graphql > "$out/wrk-storefront.txt" 2>&1 &
w2=$!; pids+=("$w2")
wrk -t1 -c4 -d"${seconds}s" -s "$out/feed.lua" http://127.0.0.1:5011/graphql > "$out/wrk-feed.txt" 2>&1 &
w3=$!; pids+=("$w3")
wrk -t1 -c2 -d"${seconds}s" -s "$out/card.lua" http://127.0.0.1:5011/graphql > "$out/wrk-card.txt" 2>&1 &
w4=$!; pids+=("$w4")

sample() { # $1: pid -> "rss_kb fds"
  local rss fds
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0)
  fds=$(ls "/proc/$1/fd" 2>/dev/null | wc -l)
  echo "$rss $fds"
}
printf 'minute,web_rss_kb,web_fds,mobile_rss_kb,mobile_fds,stack_rss_kb,stack_fds\n' > "$out/samples.csv"
for minute in $(seq 0 "$minutes"); do
  printf '%s,%s,%s,%s\n' "$minute" "$(sample "$web" | tr ' ' ,)" "$(sample "$mobile" | tr ' ' ,)" \
    "$(sample "$stack" | tr ' ' ,)" >> "$out/samples.csv"
  [ "$minute" -lt "$minutes" ] && sleep 60
done
wait "$w1" "$w2" "$w3" "$w4" 2>/dev/null || true

echo "samples (KB and open file descriptors, one line a minute):"
column -s, -t < "$out/samples.csv"
echo
for kind in page storefront feed card; do
  printf '%-11s %s requests/s, %s\n' "$kind" \
    "$(awk '/Requests\/sec/ {print $2}' "$out/wrk-$kind.txt")" \
    "$(grep -E 'Non-2xx|Socket errors' "$out/wrk-$kind.txt" | tr '\n' ' ' || true)"
done
python3 - "$out/samples.csv" "$warmup" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
warm = int(sys.argv[2])
for name in ("web", "mobile", "stack"):
    points = [(int(r["minute"]), int(r[f"{name}_rss_kb"]) / 1024) for r in rows if int(r["minute"]) >= warm]
    if len(points) < 2:
        print(f"{name}: too short to fit a slope"); continue
    n = len(points); mx = sum(x for x, _ in points) / n; my = sum(y for _, y in points) / n
    slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
    fds = [int(r[f"{name}_fds"]) for r in rows if int(r["minute"]) >= warm]
    print(f"{name:7} RSS after warm-up: {points[0][1]:.1f} -> {points[-1][1]:.1f} MB, slope {slope:+.3f} MB/min; fds {min(fds)}..{max(fds)}")
PY
