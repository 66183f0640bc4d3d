//! Rate limits at the engine: where a request is counted against its client's budget before
//! any parsing. No limit is enforced yet; this is the place the admission stage calls.
