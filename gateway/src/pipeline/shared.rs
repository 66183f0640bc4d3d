//! Identical client queries in flight at the same time share one execution (`[server]
//! dedupe_requests`): the first runs (the leader), the others wait for its response.
//!
//! "Identical" means the same prepared operation (so the same supergraph version, document and
//! operation name), the same coerced variables, the same headers forwarded to subgraphs, and
//! the same caller: what a subgraph could tell apart is part of the key, so a follower gets
//! exactly the answer it would have computed itself. Mutations are never shared.
//!
//! The leader leaves the registry before it publishes, so a request that arrives after the
//! answer exists starts a new execution rather than reading an old one. A leader whose client
//! went away (its future dropped) leaves too, and its followers each run on their own: an
//! abandoned execution never answers anyone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tokio::sync::watch;

use crate::request::{Caller, Response};

/// The answer a leader hands to its followers, and whether it carries errors.
pub(super) type Answer = Arc<(Response, bool)>;

type Registry = Mutex<HashMap<u128, watch::Receiver<Option<Answer>>>>;

/// The executions in flight, by request key.
#[derive(Default)]
pub(super) struct SharedRequests {
    inflight: Arc<Registry>,
}

/// A request's part in a shared execution.
pub(super) enum Role {
    /// Run the request, then [`Leader::publish`] the answer.
    Leader(Leader),
    /// Wait for the leader's answer.
    Follower(watch::Receiver<Option<Answer>>),
}

/// The right and duty to answer everyone waiting on one key.
pub(super) struct Leader {
    key: u128,
    inflight: Arc<Registry>,
    sender: watch::Sender<Option<Answer>>,
}

impl SharedRequests {
    /// Joins the execution in flight for `key`, or starts one.
    pub(super) fn join(&self, key: u128) -> Role {
        let mut inflight = lock(&self.inflight);
        if let Some(receiver) = inflight.get(&key)
            && receiver.has_changed().is_ok()
        {
            return Role::Follower(receiver.clone());
        }
        let (sender, receiver) = watch::channel(None);
        inflight.insert(key, receiver);
        Role::Leader(Leader {
            key,
            inflight: self.inflight.clone(),
            sender,
        })
    }

    /// How many executions are shared right now (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.inflight).len()
    }
}

impl Leader {
    /// Hands the answer to every follower; later requests run anew.
    pub(super) fn publish(self, answer: Answer) {
        lock(&self.inflight).remove(&self.key);
        self.sender.send_replace(Some(answer));
    }
}

impl Drop for Leader {
    /// A leader that goes without publishing (its client left) takes its entry with it; its
    /// followers see the channel close and run on their own.
    fn drop(&mut self) {
        let mut inflight = lock(&self.inflight);
        if inflight
            .get(&self.key)
            .is_some_and(|receiver| receiver.same_channel(&self.sender.subscribe()))
        {
            inflight.remove(&self.key);
        }
    }
}

/// Waits for a leader's answer; `None` if the leader went away without one.
pub(super) async fn follow(mut receiver: watch::Receiver<Option<Answer>>) -> Option<Answer> {
    receiver
        .wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|answer| answer.clone())
}

/// The key of a request: the prepared operation's cache key, its coerced variables, the headers
/// its subgraphs would see, and its caller.
pub(super) fn key(
    prepared: u64,
    variables: &Map<String, Value>,
    forward: &[(String, String)],
    caller: &Caller,
) -> u128 {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(&prepared.to_le_bytes());
    if let Ok(variables) = serde_json::to_vec(variables) {
        hasher.update(&variables);
    }
    for (name, value) in forward {
        // The request id differs on every request and changes no answer.
        if !crate::transport::affects_answer(name) {
            continue;
        }
        hasher.update(&[1]);
        hasher.update(name.as_bytes());
        hasher.update(&[0]);
        hasher.update(value.as_bytes());
    }
    hasher.update(&[u8::from(caller.identified)]);
    if let Some(subject) = &caller.subject {
        hasher.update(subject.as_bytes());
    }
    hasher.digest128()
}

fn lock(
    registry: &Registry,
) -> std::sync::MutexGuard<'_, HashMap<u128, watch::Receiver<Option<Answer>>>> {
    registry
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::request::{CachePolicy, Status};

    fn answer(body: &str) -> Answer {
        Arc::new((
            Response {
                body: bytes::Bytes::copy_from_slice(body.as_bytes()),
                status: Status::Executed,
                cache: CachePolicy::NoStore,
                fetches: 1,
                cache_status: None,
                retry_after: None,
                parts: None,
            },
            false,
        ))
    }

    #[tokio::test]
    async fn followers_get_the_leaders_answer_and_later_requests_lead_anew() {
        let shared = SharedRequests::default();
        let Role::Leader(leader) = shared.join(7) else {
            panic!("the first request leads");
        };
        let Role::Follower(follower) = shared.join(7) else {
            panic!("the second request follows");
        };
        leader.publish(answer("a"));
        let got = follow(follower).await.expect("an answer");
        assert_eq!(&got.0.body[..], b"a");
        assert_eq!(shared.len(), 0);
        assert!(matches!(shared.join(7), Role::Leader(_)));
    }

    #[tokio::test]
    async fn followers_of_a_leader_that_left_run_on_their_own() {
        let shared = SharedRequests::default();
        let Role::Leader(leader) = shared.join(9) else {
            panic!("the first request leads");
        };
        let Role::Follower(follower) = shared.join(9) else {
            panic!("the second request follows");
        };
        drop(leader);
        assert!(follow(follower).await.is_none());
        assert_eq!(shared.len(), 0);
        assert!(matches!(shared.join(9), Role::Leader(_)));
    }

    #[test]
    fn keys_differ_by_variables_headers_and_caller() {
        let mut variables = Map::new();
        let base = key(1, &variables, &[], &Caller::default());
        variables.insert("id".into(), Value::from(1));
        assert_ne!(base, key(1, &variables, &[], &Caller::default()));
        let header = [("authorization".to_owned(), "Bearer a".to_owned())];
        assert_ne!(base, key(1, &Map::new(), &header, &Caller::default()));
        let request_id = [("x-request-id".to_owned(), "abc-1".to_owned())];
        assert_eq!(base, key(1, &Map::new(), &request_id, &Caller::default()));
        let identified = Caller::with_credentials("Bearer a");
        assert_ne!(base, key(1, &Map::new(), &[], &identified));
        assert_ne!(base, key(2, &Map::new(), &[], &Caller::default()));
    }
}
