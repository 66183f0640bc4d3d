//! Directive-based authorization: where `@authenticated`, `@requiresScopes` and `@policy`
//! prune a prepared operation for the caller. Nothing is pruned yet; the subgraphs enforce
//! access themselves.
