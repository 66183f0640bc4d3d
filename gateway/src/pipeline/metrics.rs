//! Metrics, exported in Prometheus' text format at `/metrics`: operations by engine, operation
//! name and client version, and deprecated fields by the operations and client versions that
//! use them (so a team can see which app versions still need a field before removing it).
//!
//! The `metrics` facade keeps one recorder per process; it is installed on first use and
//! shared by every engine in the process (the launcher runs several), told apart by label.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::request::ClientInfo;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Most distinct label sets recorded per process; later new ones are counted as `other`, so
/// clients inventing operation names or versions cannot grow the recorder without bound.
const MAX_SERIES: u64 = 2_000;

/// The label sets seen so far (by hash).
static SEEN: OnceLock<moka::sync::Cache<u64, ()>> = OnceLock::new();

/// Keeps `labels` if it is already known or there is room for it, else `None`.
fn admit(labels: &[(&'static str, String)]) -> bool {
    let seen = SEEN.get_or_init(|| {
        moka::sync::Cache::builder()
            .max_capacity(MAX_SERIES)
            .build()
    });
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for (name, value) in labels {
        hasher.update(name.as_bytes());
        hasher.update(&[0]);
        hasher.update(value.as_bytes());
        hasher.update(&[0]);
    }
    let key = hasher.digest();
    if seen.contains_key(&key) {
        return true;
    }
    seen.run_pending_tasks();
    if seen.entry_count() >= MAX_SERIES {
        return false;
    }
    seen.insert(key, ());
    true
}

/// A label value cut to a length a dashboard can show.
fn label(value: &str) -> String {
    value.chars().take(64).collect()
}

/// The process's Prometheus handle, installing the recorder the first time.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get_or_init(install).as_ref()
}

/// How often histogram samples are drained into their summaries.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the recorder and its upkeep. The exporter drains histogram samples only during
/// upkeep, which `install_recorder` leaves to the caller: without it, every operation's
/// duration sample stays in memory until `/metrics` is scraped (the soak test saw a BFF grow by
/// about 1 MB a minute), so a thread runs it for the life of the process.
fn install() -> Option<PrometheusHandle> {
    let handle = PrometheusBuilder::new().install_recorder().ok()?;
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        });
    if let Err(err) = spawned {
        tracing::warn!(error = %err, "the metrics upkeep thread could not start; histograms drain only when scraped");
    }
    Some(handle)
}

/// Records one executed operation.
pub(crate) fn operation(
    engine: &str,
    operation: &str,
    client: &ClientInfo,
    has_errors: bool,
    elapsed: Duration,
) {
    if handle().is_none() {
        return;
    }
    let mut labels = vec![
        ("engine", label(engine)),
        ("operation", label(operation)),
        ("client_name", label(&client.name)),
        ("client_version", label(&client.version)),
    ];
    if !admit(&labels) {
        labels = vec![
            ("engine", label(engine)),
            ("operation", "other".to_owned()),
            ("client_name", "other".to_owned()),
            ("client_version", "other".to_owned()),
        ];
    }
    metrics::counter!("tributary_operations_total", &labels).increment(1);
    if has_errors {
        metrics::counter!("tributary_operation_errors_total", &labels).increment(1);
    }
    metrics::histogram!("tributary_operation_duration_seconds", "engine" => engine.to_owned())
        .record(elapsed.as_secs_f64());
}

/// Records that a prepared operation sent by `client` uses deprecated `fields`; the caller
/// calls it once per prepared operation and client version, not once per request.
pub(crate) fn deprecated(engine: &str, client: &ClientInfo, fields: &[String]) {
    for field in fields {
        tracing::info!(engine, field = %field, client_name = %client.name, client_version = %client.version, "deprecated field used");
        if handle().is_none() {
            continue;
        }
        let mut labels = vec![
            ("engine", label(engine)),
            ("field", label(field)),
            ("client_name", label(&client.name)),
            ("client_version", label(&client.version)),
        ];
        if !admit(&labels) {
            labels[2].1 = "other".to_owned();
            labels[3].1 = "other".to_owned();
        }
        metrics::counter!("tributary_deprecated_field_uses_total", &labels).increment(1);
    }
}

/// Records what the response cache did for one operation: `hit`, `miss`, `store` or `bypass`.
pub(crate) fn cache(engine: &str, operation: &str, result: &'static str) {
    if handle().is_none() {
        return;
    }
    let mut labels = vec![
        ("engine", label(engine)),
        ("cache", "response".to_owned()),
        ("operation", label(operation)),
        ("result", result.to_owned()),
    ];
    if !admit(&labels) {
        labels[2].1 = "other".to_owned();
    }
    metrics::counter!("tributary_cache_total", &labels).increment(1);
}

/// Records tags invalidated by one operation or request.
pub(crate) fn invalidations(engine: &str, tags: usize) {
    if handle().is_none() || tags == 0 {
        return;
    }
    metrics::counter!("tributary_cache_invalidations_total", "engine" => label(engine))
        .increment(tags as u64);
}

/// Records a request refused with `code` before or instead of execution (a bad token, a body
/// too large, a document that does not validate, ...). Codes are a closed set, so the series
/// are bounded; refusals are counted per process, whichever front refused them.
pub(crate) fn refusal(code: Option<crate::error::Code>) {
    if handle().is_none() {
        return;
    }
    let code = code.map_or("UNKNOWN", crate::error::Code::as_str);
    metrics::counter!("tributary_refusals_total", "error_code" => code).increment(1);
}

/// Records an operation's cost, `estimated` before execution or `actual` after.
pub(crate) fn cost(engine: &str, kind: &'static str, cost: u64) {
    if handle().is_none() {
        return;
    }
    metrics::histogram!(
        "tributary_operation_cost",
        "engine" => engine.to_owned(),
        "kind" => kind
    )
    .record(cost as f64);
}

/// Counts a request refused by a rate limit, by the budget that ran out (`client`, `user`).
pub(crate) fn rate_limited(budget: &'static str) {
    if handle().is_none() {
        return;
    }
    metrics::counter!("tributary_rate_limited_total", "budget" => budget).increment(1);
}
