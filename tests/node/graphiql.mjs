#!/usr/bin/env node
// Runs a subscription in GraphiQL as the engine serves it, in headless Chromium, as a developer
// would: opens the engine's GraphQL URL as a page, types the subscription, its variables and an
// `Authorization` header into GraphiQL's editors, presses the run button and watches the result
// pane. GraphiQL's own fetcher opens the WebSocket (`graphql-transport-ws`) and sends the header
// in `connection_init`; nothing here speaks GraphQL itself.
//
//   node tests/node/graphiql.mjs <url> <token> <order id> <statuses>
//
// or with TRIBUTARY_URL, TRIBUTARY_TOKEN, TRIBUTARY_ORDER_ID and TRIBUTARY_STATUSES. CHROMIUM
// names the browser (default /usr/bin/chromium, Debian's `chromium` package); TRIBUTARY_TIMEOUT
// the milliseconds the whole run may take (default 30000).
//
// Stdout, one JSON value a line: `{"running":true}` once GraphiQL's socket sent the
// subscription and its run button turned into a stop button (so a caller knows when to change
// the order), then `{"shown":<the result pane's JSON>}` each time the pane shows something new.
// Stderr, as they come: the page's console errors and warnings
// (`{"console":{"type":...,"text":...,"url":...}}`, the URL the script's or the resource's that
// failed to load) and uncaught exceptions (`{"pageerror":...}`); when the run fails,
// `{"error":...,"screenshot":...,"pane":...,"sockets":[...]}`: a screenshot's path, the result
// pane's text and what GraphiQL's WebSockets did.
//
// Exits 0 once the pane showed <statuses> status changes; 1 when it showed anything else (a
// refusal, an error), on a timeout or on SIGTERM/SIGINT; 2 on bad arguments; 3 when Chromium is
// missing.

import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

const WATCH = `subscription($id: ID!) {
  orderStatusChanged(orderId: $id) {
    status
    order { id }
  }
}`;

const [
  url = process.env.TRIBUTARY_URL,
  token = process.env.TRIBUTARY_TOKEN,
  orderId = process.env.TRIBUTARY_ORDER_ID,
  statuses = process.env.TRIBUTARY_STATUSES,
] = process.argv.slice(2);
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const timeout = Number.parseInt(process.env.TRIBUTARY_TIMEOUT || '30000', 10);

if (!url || !token || !orderId || !statuses) {
  process.stderr.write('usage: graphiql.mjs <url> <token> <order id> <statuses>\n');
  process.exit(2);
}
const wanted = Number.parseInt(statuses, 10);
if (!(wanted > 0) || !(timeout > 0)) {
  process.stderr.write(`statuses and TRIBUTARY_TIMEOUT must be positive numbers\n`);
  process.exit(2);
}
if (!existsSync(chromiumPath)) {
  process.stderr.write(
    `${JSON.stringify({ error: `no Chromium at ${chromiumPath}: apt-get install -y chromium (or set CHROMIUM)` })}\n`,
  );
  process.exit(3);
}

const say = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
const tell = (value) => process.stderr.write(`${JSON.stringify(value)}\n`);

// The signals are this script's to handle: Playwright would close the browser on them before
// the report's screenshot.
const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--no-sandbox'],
  handleSIGTERM: false,
  handleSIGINT: false,
});
const page = await browser.newPage();
let pane = '';

let finishing = false;

/** Ends the run (once): on failure with `error`, a screenshot and the result pane's text on
 * stderr. */
async function finish(code, error) {
  if (finishing) {
    return;
  }
  finishing = true;
  if (error !== undefined) {
    const screenshot = join(tmpdir(), `graphiql-${process.pid}.png`);
    const saved = await page
      .screenshot({ path: screenshot, fullPage: true })
      .then(() => screenshot)
      .catch((e) => `not saved: ${e.message}`);
    tell({ error: String(error?.message ?? error), screenshot: saved, pane, sockets });
  }
  await browser.close().catch(() => {});
  process.exit(code);
}

setTimeout(() => finish(1, `timed out after ${timeout} ms`), timeout).unref();
// A caller that gives up first still gets the report.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => finish(1, `stopped by ${signal}`));
}

page.on('console', (message) => {
  if (message.type() === 'error' || message.type() === 'warning') {
    tell({ console: { type: message.type(), text: message.text(), url: message.location().url } });
  }
});
page.on('pageerror', (error) => tell({ pageerror: error.message }));

// The subscription is running once GraphiQL's socket sent it (after the engine's
// `connection_ack`) and the run button offers to stop it.
let subscribeSent;
const sent = new Promise((resolve) => {
  subscribeSent = resolve;
});
// What GraphiQL's sockets did, for the failure report: each opened, each message's type (the
// payloads carry the token), each close.
const sockets = [];
page.on('websocket', (socket) => {
  sockets.push('open');
  const type = (payload) => {
    try {
      return JSON.parse(payload).type;
    } catch {
      return typeof payload;
    }
  };
  socket.on('framesent', ({ payload }) => {
    sockets.push(`sent ${type(payload)}`);
    if (type(payload) === 'subscribe') {
      subscribeSent();
    }
  });
  socket.on('framereceived', ({ payload }) => sockets.push(`received ${type(payload)}`));
  socket.on('socketerror', (error) => sockets.push(`error ${error}`));
  socket.on('close', () => sockets.push('closed'));
});

// Every text the result pane shows; the first `wanted` status changes end the run.
let changes = 0;
await page.exposeFunction('tributaryShown', (text) => {
  if (text === pane || text.trim() === '') {
    return;
  }
  pane = text;
  let shown;
  try {
    shown = JSON.parse(text);
  } catch {
    shown = text; // GraphiQL shows a fetcher's error as it is
  }
  say({ shown });
  if (shown?.data?.orderStatusChanged?.status && !shown.errors) {
    changes += 1;
    if (changes >= wanted) {
      finish(0);
    }
  } else {
    finish(1, 'the result pane shows no status change');
  }
});

try {
  // A browser's navigation asks for text/html first, which is what makes the engine answer with
  // GraphiQL rather than a GraphQL error.
  const response = await page.goto(url);
  if (!response?.ok()) {
    await finish(1, `GET ${url} answered ${response?.status()}`);
  }
  await page.locator('.graphiql-query-editor .CodeMirror').waitFor();
  await page.locator('.result-window .CodeMirror').waitFor({ state: 'attached' });

  // GraphiQL 3's editors are CodeMirror 5: each `.CodeMirror` element carries its editor, whose
  // changes GraphiQL takes as typing. Variables and headers live in the tabs below the query.
  await page.evaluate(
    ({ query, variables }) => {
      document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(query);
      const result = document.querySelector('.result-window .CodeMirror').CodeMirror;
      result.on('change', () => window.tributaryShown(result.getValue()));
      document
        .querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror')
        .CodeMirror.setValue(variables);
    },
    { query: WATCH, variables: JSON.stringify({ id: orderId }) },
  );
  await page.locator('.graphiql-editor-tools button[data-name="headers"]').click();
  await page.evaluate((headers) => {
    document
      .querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror')
      .CodeMirror.setValue(headers);
  }, JSON.stringify({ Authorization: `Bearer ${token}` }));

  await page.locator('.graphiql-execute-button').click();
  await sent;
  await page.locator('.graphiql-execute-button[aria-label^="Stop"]').waitFor();
  say({ running: true });
} catch (error) {
  await finish(1, error);
}
