#!/usr/bin/env node
// Watches one order through a Tributary engine (the router or a BFF) with the graphql-ws
// client, as a JavaScript app would: `graphql-transport-ws` over WebSocket, the token in
// `connection_init`'s payload.
//
//   node tests/node/subscribe.mjs <url> <token> <order id> [events]
//
// or with TRIBUTARY_URL, TRIBUTARY_TOKEN, TRIBUTARY_ORDER_ID and TRIBUTARY_EVENTS. The URL may be
// the engine's HTTP one (http://127.0.0.1:4000/graphql); it is spoken to as ws://.
//
// Stdout: each `next` payload as one line of JSON, nothing else. Stderr: `{"connected":true}`
// once the engine acknowledged the connection (so a caller knows when to start changing the
// order), and `{"error":...}` when it fails. Exits 0 after <events> events (default: until the
// subscription completes) or on `complete`; 1 on an error, a close code such as 4403 included
// (`{"error":{"code":4403,"reason":"UNAUTHENTICATED: ..."}}`); 2 on bad arguments.

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const WATCH = `subscription Watch($id: ID!) {
  orderStatusChanged(orderId: $id) {
    eventId
    status
    order { id status lines { quantity product { name } } }
  }
}`;

const [
  url = process.env.TRIBUTARY_URL,
  token = process.env.TRIBUTARY_TOKEN,
  orderId = process.env.TRIBUTARY_ORDER_ID,
  events = process.env.TRIBUTARY_EVENTS,
] = process.argv.slice(2);

if (!url || !token || !orderId) {
  process.stderr.write('usage: subscribe.mjs <url> <token> <order id> [events]\n');
  process.exit(2);
}
const wanted = events ? Number.parseInt(events, 10) : Infinity;
if (!(wanted > 0)) {
  process.stderr.write(`events must be a positive number, not ${events}\n`);
  process.exit(2);
}

const client = createClient({
  url: url.replace(/^http(s?):\/\//, 'ws$1://'),
  webSocketImpl: WebSocket,
  // The engine reads `Authorization` (either case) from connection_init's payload.
  connectionParams: { authorization: `Bearer ${token}` },
  // One attempt: graphql-ws retries a 4403 by default, which would hide a refused token for a
  // minute of back-off.
  retryAttempts: 0,
  on: {
    connected: () => process.stderr.write(`${JSON.stringify({ connected: true })}\n`),
  },
});

/** Closes the socket, then exits with `code`. */
async function finish(code) {
  await client.dispose();
  process.exit(code);
}

/** A close event, a socket error or GraphQL errors, as JSON for stderr. */
function describe(error) {
  if (Array.isArray(error)) {
    return error; // the `error` message's GraphQL errors, codes included
  }
  if (error && typeof error === 'object' && 'code' in error && 'reason' in error) {
    return { code: error.code, reason: error.reason };
  }
  // An Error, or the socket's error event (which carries one).
  return { message: String(error?.message ?? error) };
}

let received = 0;
client.subscribe(
  { query: WATCH, variables: { id: orderId } },
  {
    next: (payload) => {
      process.stdout.write(`${JSON.stringify(payload)}\n`);
      received += 1;
      if (received >= wanted) {
        finish(0);
      }
    },
    error: (error) => {
      process.stderr.write(`${JSON.stringify({ error: describe(error) })}\n`);
      finish(1);
    },
    complete: () => finish(0),
  },
);
