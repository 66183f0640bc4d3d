#!/usr/bin/env bash
# Memory per live subscriber: starts the stack, opens N subscriptions (default 1000) over SSE
# at the plain router, places an order so each gets one event, and prints the stack's RSS
# before, with the subscribers open, and per subscriber (the whole chain is in one process:
# the router's SSE stream, its WebSocket to orders, orders' subscription).
# Usage: bench/subscribers.sh [N] [BINARY]   (BINARY defaults to target/release/tributary)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
BIN=${2:-target/release/tributary}
[ -x "$BIN" ] || cargo build --release -p tributary
DATA=$(mktemp -d)
"$BIN" --data-dir "$DATA" >"$DATA/stack.log" 2>&1 &
STACK=$!
trap 'kill $STACK 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 60); do curl -sf http://127.0.0.1:4002/health >/dev/null && break; sleep 0.5; done
rss() { awk '/VmRSS/ { print $2 }' "/proc/$STACK/status"; }
TOKEN=$(curl -s http://127.0.0.1:4002/graphql -H 'content-type: application/json' \
  -d '{"query":"mutation { login(email: \"ada@example.com\", password: \"tributary-demo\") { token } }"}' \
  | sed 's/.*"token":"\([^"]*\)".*/\1/')
BEFORE=$(rss)
ulimit -n $((N * 4 + 256))
python3 bench/subscribers.py 4002 "$N" "$TOKEN" 20 &
CLIENTS=$!
sleep 10
OPEN=$(rss)
curl -s http://127.0.0.1:4002/graphql -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" \
  -d '{"query":"mutation { checkout(lines: [{productId: \"3\", quantity: 1}], idempotencyKey: \"bench-subscribers\") { id } }"}' >/dev/null
wait $CLIENTS
AFTER=$(rss)
echo "subscribers: $N"
echo "stack RSS: before ${BEFORE} kB, subscribers open ${OPEN} kB, after the event ${AFTER} kB"
echo "per subscriber: $(( (OPEN - BEFORE) / N )) kB"
