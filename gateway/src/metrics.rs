//! Metrics, exported in Prometheus' text format at `/metrics`: operations by engine, operation
//! name and client version, and uses of deprecated fields by client version (so a team can
//! see which app versions still need a field before removing it).
//!
//! The `metrics` facade keeps one recorder per process; it is installed on first use and
//! shared by every engine in the process (the launcher runs several), told apart by label.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::engine::ClientInfo;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus handle, installing the recorder the first time.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .as_ref()
}

/// Records one executed operation.
pub(crate) fn operation(
    engine: &str,
    operation: &str,
    client: &ClientInfo,
    deprecated: &[String],
    has_errors: bool,
    elapsed: Duration,
) {
    if handle().is_none() {
        return;
    }
    let labels = [
        ("engine", engine.to_owned()),
        ("operation", operation.to_owned()),
        ("client_name", client.name.clone()),
        ("client_version", client.version.clone()),
    ];
    metrics::counter!("tributary_operations_total", &labels).increment(1);
    if has_errors {
        metrics::counter!("tributary_operation_errors_total", &labels).increment(1);
    }
    metrics::histogram!("tributary_operation_duration_seconds", "engine" => engine.to_owned())
        .record(elapsed.as_secs_f64());
    for field in deprecated {
        metrics::counter!(
            "tributary_deprecated_field_uses_total",
            "engine" => engine.to_owned(),
            "field" => field.clone(),
            "client_name" => client.name.clone(),
            "client_version" => client.version.clone()
        )
        .increment(1);
        tracing::info!(engine, field = %field, client_name = %client.name, client_version = %client.version, "deprecated field used");
    }
}
