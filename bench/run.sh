#!/usr/bin/env bash
# Load benchmark of the whole stack on loopback, run by hand: `bench/run.sh [seconds]`.
#
# It builds the release binary, starts the stack on fresh SQLite files, and drives three
# endpoints with wrk (2 threads, 50 connections), each for a bounded time:
#   subgraph  the catalog subgraph alone, asked for its part of the query (the floor)
#   router    the plain federation router, a query across catalog, inventory, reviews, accounts
#   web       the web BFF's product page (same subgraphs plus the in-process web subgraph)
#   peer      Apollo Gateway (JavaScript, from npm; bench/peer) serving the same supergraph,
#             the router's query
# and prints requests per second, latency, each endpoint's throughput relative to the subgraph
# floor, and the router relative to the peer. Everything runs on this machine, so the figures
# compare endpoints within one run; they are not absolute.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
command -v wrk >/dev/null || { echo "bench: wrk is needed (apt-get install wrk)" >&2; exit 1; }

cargo build --release -q -p tributary
data=$(mktemp -d)
out=$(mktemp -d)
peer=""
trap 'kill $stack $peer 2>/dev/null; wait 2>/dev/null; rm -rf "$data" "$out"' EXIT
RUST_LOG=warn target/release/tributary --data-dir "$data" --reset > "$out/stack.log" 2>&1 &
stack=$!
for _ in $(seq 1 120); do
  curl -sf http://127.0.0.1:4002/health >/dev/null 2>&1 && break
  sleep 0.5
done
if command -v node >/dev/null; then
  [ -d bench/peer/node_modules ] || (cd bench/peer && npm install --no-audit --no-fund --loglevel=error)
  # schema/supergraph.graphql names the subgraphs at the launcher's default ports.
  node bench/peer/apollo-gateway.mjs schema/supergraph.graphql 4010 > "$out/peer.log" 2>&1 &
  peer=$!
  for _ in $(seq 1 60); do
    curl -sf http://127.0.0.1:4010/ -H 'content-type: application/json' \
      -d '{"query":"{ __typename }"}' >/dev/null 2>&1 && break
    sleep 0.5
  done
fi

body() { # $1: GraphQL document -> JSON body
  python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1]}))' "$1"
}
run() { # $1: name, $2: URL, $3: document
  local script="$out/$1.lua"
  printf 'wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\nwrk.body = %s\n' \
    "$(body "$3" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().strip()))')" > "$script"
  curl -sf "$2" -H 'content-type: application/json' -d "$(body "$3")" | grep -q '"data"' \
    || { echo "bench: $1 does not answer the query" >&2; exit 1; }
  wrk -t2 -c50 -d"${seconds}s" -s "$script" "$2" > "$out/$1.txt"
  local rps latency
  rps=$(awk '/Requests\/sec/ {print $2}' "$out/$1.txt")
  latency=$(awk '/Latency/ {print $2}' "$out/$1.txt")
  echo "$1 $rps $latency" >> "$out/results"
}

run subgraph http://127.0.0.1:4102/graphql \
  '{ topProducts(first: 5) { id name priceCents weightGrams } }'
ROUTER_QUERY='{ topProducts(first: 5) { id name priceCents inStock shippingEstimateCents reviews(first: 3) { rating author { name } } } }'
run router http://127.0.0.1:4002/graphql "$ROUTER_QUERY"
[ -n "$peer" ] && run peer http://127.0.0.1:4010/ "$ROUTER_QUERY"
run web http://127.0.0.1:4000/graphql \
  '{ productPage(id: "25") { product { name priceCents breadcrumbs { label } inStock shippingEstimateCents reviews(first: 3) { rating author { name } } } recommended(first: 2) { id name } } }'

floor=$(awk '$1 == "subgraph" {print $2}' "$out/results")
printf '\n%-9s %12s %10s %16s\n' endpoint "requests/s" latency "vs subgraph"
while read -r name rps latency; do
  printf '%-9s %12s %10s %15.2fx\n' "$name" "$rps" "$latency" "$(python3 -c "print($rps / $floor)")"
done < "$out/results"
peer_rps=$(awk '$1 == "peer" {print $2}' "$out/results")
router_rps=$(awk '$1 == "router" {print $2}' "$out/results")
if [ -n "$peer_rps" ]; then
  printf '\nrouter vs Apollo Gateway (same query, same subgraphs): %.2fx\n' \
    "$(python3 -c "print($router_rps / $peer_rps)")"
fi
