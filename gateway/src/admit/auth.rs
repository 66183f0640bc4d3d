//! Authentication at the engine: where tokens and sessions are verified once per request,
//! before planning, and the caller's claims are set on the request. Today the engine only
//! notes whether a request carries credentials (`request::Caller`); the subgraphs verify them.
