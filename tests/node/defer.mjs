#!/usr/bin/env node
// Runs one query with @defer through a Tributary engine (the router or a BFF) with Apollo
// Client, as a React app would: `HttpLink` over Node's fetch, which asks for
// `multipart/mixed;deferSpec=20220824` when the query defers something, and `watchQuery`, which
// emits the initial payload first and then the page as each deferred part is merged into it.
//
//   node tests/node/defer.mjs <url> <query> [variables as JSON]
//
// or with TRIBUTARY_URL, TRIBUTARY_QUERY and TRIBUTARY_VARIABLES.
//
// Stdout: each result `watchQuery` emitted as one line of JSON, nothing else:
// `{"ms":<milliseconds since the request was sent>,"data":...,"loading":...}`, with `errors`
// when the result has some. Stderr: `{"request":{"accept":...},"response":{"status":...,
// "contentType":...}}` once the engine's answer has its headers (so a caller can check what
// Apollo Client asked for and what it got), and `{"error":...}` when it fails. Exits 0 once the
// engine's answer ended and its last result was emitted; 1 on a network error, a body Apollo
// Client could not read, or GraphQL errors in any result; 2 on bad arguments.

import {
  ApolloClient,
  ApolloLink,
  HttpLink,
  InMemoryCache,
  Observable,
  gql,
} from '@apollo/client/core/index.js';

const [
  url = process.env.TRIBUTARY_URL,
  text = process.env.TRIBUTARY_QUERY,
  variablesJson = process.env.TRIBUTARY_VARIABLES ?? '{}',
] = process.argv.slice(2);

if (!url || !text) {
  process.stderr.write('usage: defer.mjs <url> <query> [variables as JSON]\n');
  process.exit(2);
}
let query;
let variables;
try {
  query = gql(text);
  variables = JSON.parse(variablesJson);
} catch (error) {
  const said = { error: { message: String(error?.message ?? error) } };
  process.stderr.write(`${JSON.stringify(said)}\n`);
  process.exit(2);
}

/** When the request was sent; each result's `ms` counts from here. */
let sentAt;

/** Node's fetch, noting what Apollo Client asked for and what the engine answered with. */
async function fetchAndTell(uri, init) {
  sentAt = performance.now();
  const response = await fetch(uri, init);
  const told = {
    request: { accept: new Headers(init?.headers).get('accept') },
    response: { status: response.status, contentType: response.headers.get('content-type') },
  };
  process.stderr.write(`${JSON.stringify(told)}\n`);
  return response;
}

/** Set once any result carried GraphQL errors. */
let failed = false;

/**
 * Passes the HTTP link's results on and exits once they end. `watchQuery` emits a link result
 * after a chain of promise callbacks; a macrotask runs after all of them, so the last result
 * has been printed by then.
 */
const exitWhenAnswered = new ApolloLink(
  (operation, forward) =>
    new Observable((observer) =>
      forward(operation).subscribe({
        next: (result) => observer.next(result),
        error: (error) => observer.error(error),
        complete: () => {
          observer.complete();
          setImmediate(() => process.exit(failed ? 1 : 0));
        },
      }),
    ),
);

const client = new ApolloClient({
  link: ApolloLink.from([exitWhenAnswered, new HttpLink({ uri: url, fetch: fetchAndTell })]),
  // `no-cache` below: each result is the server's payloads merged, not a cache read, so the
  // types need no `keyFields`.
  cache: new InMemoryCache(),
});

client
  .watchQuery({ query, variables, fetchPolicy: 'no-cache', errorPolicy: 'all' })
  .subscribe({
    next: ({ data, loading, errors }) => {
      const ms = Math.round(performance.now() - (sentAt ?? performance.now()));
      const line = errors?.length ? { ms, data, loading, errors } : { ms, data, loading };
      failed ||= Boolean(errors?.length);
      process.stdout.write(`${JSON.stringify(line)}\n`);
    },
    error: (error) => {
      const networkError = error?.networkError;
      // A body Apollo Client could not read is a `ServerParseError` carrying the text.
      const said = networkError
        ? {
            message: String(networkError.message),
            name: networkError.name,
            bodyText: networkError.bodyText,
          }
        : { message: String(error?.message ?? error), graphQLErrors: error?.graphQLErrors };
      process.stderr.write(`${JSON.stringify({ error: said })}\n`);
      process.exit(1);
    },
  });
