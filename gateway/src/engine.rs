//! The engine handle: the current supergraph version (swapped atomically, so running requests
//! keep theirs), the pipeline of stages and the subgraph transports; its API is what BFFs,
//! the router binary and `http/` use.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::admit::auth::{AuthSetupError, Authenticator};
use crate::admit::persisted::{Manifest, ManifestError};
use crate::admit::rate_limit::RateLimits;
use crate::admit::session::{SessionSetupError, Sessions};
use crate::cache::Caches;
use crate::config::Config;
use crate::error::{Code, GraphqlError};
use crate::execute::Subgraphs;
use crate::pipeline::{Pipeline, Subscribed, Version};
use crate::request::{Request, Response, Streamed};
use crate::supergraph::{Supergraph, SupergraphError};
use crate::transport::{
    Breaker, HttpTransport, OriginLimits, SingleFlight, Transport, TransportError,
};

/// Why an engine could not be built or switched to a new supergraph.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The supergraph is unusable.
    #[error(transparent)]
    Supergraph(#[from] SupergraphError),
    /// The persisted-operation manifest is unusable.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A subgraph's transport could not be built.
    #[error("subgraph {subgraph}: {source}")]
    Transport {
        /// The subgraph.
        subgraph: String,
        /// What failed.
        source: TransportError,
    },
    /// The rate limit settings are unusable.
    #[error(transparent)]
    RateLimit(#[from] crate::admit::rate_limit::RateLimitSetupError),
    /// The token verification settings are unusable.
    #[error(transparent)]
    Auth(#[from] AuthSetupError),
    /// The cookie session settings are unusable.
    #[error(transparent)]
    Session(#[from] SessionSetupError),
    /// The cache's shared tier could not be set up.
    #[error(transparent)]
    Cache(#[from] crate::cache::redis::SharedTierError),
    /// A subgraph is declared in-process but no in-process transport was given for it.
    #[error("subgraph {subgraph} is in-process ({url}) but no in-process transport was given")]
    MissingLocal {
        /// The subgraph.
        subgraph: String,
        /// Its declared URL.
        url: String,
    },
}

/// The federation engine.
pub struct Engine {
    current: ArcSwap<Version>,
    pipeline: Pipeline,
    config: Config,
    local: HashMap<String, Arc<dyn Transport>>,
    caches: Arc<Caches>,
    auth: Option<Arc<Authenticator>>,
    limits: Option<Arc<RateLimits>>,
    sessions: Option<Arc<Sessions>>,
}

impl Engine {
    /// An engine serving `supergraph`, with `local` transports replacing HTTP for the named
    /// subgraphs (in-process subgraphs of a BFF).
    pub fn new(
        supergraph: Arc<Supergraph>,
        config: Config,
        local: HashMap<String, Arc<dyn Transport>>,
    ) -> Result<Engine, EngineError> {
        let manifest = match &config.persisted.manifest {
            Some(path) => Some(Manifest::load(path)?),
            None => None,
        };
        let version = build_version(supergraph, &config, &local)?;
        let caches = Arc::new(Caches::new(&config.cache, &config.server.name)?);
        let auth = Authenticator::new(&config.auth)?.map(Arc::new);
        let limits = RateLimits::new(&config)?;
        let sessions = Sessions::new(&config)?;
        Ok(Engine {
            current: ArcSwap::from_pointee(version),
            pipeline: Pipeline::new(
                &config,
                manifest,
                caches.clone(),
                auth.clone(),
                limits.clone(),
                sessions.clone(),
            ),
            config,
            local,
            caches,
            auth,
            limits,
            sessions,
        })
    }

    /// Replaces the persisted-operation manifest given in the configuration (a BFF embeds its
    /// manifest in the binary).
    pub fn with_manifest(mut self, manifest: Manifest) -> Engine {
        self.pipeline = Pipeline::new(
            &self.config,
            Some(manifest),
            self.caches.clone(),
            self.auth.clone(),
            self.limits.clone(),
            self.sessions.clone(),
        );
        self
    }

    /// The configuration the engine runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The cookie sessions, when `[session]` is on.
    pub fn sessions(&self) -> Option<&Sessions> {
        self.sessions.as_deref()
    }

    /// The stages requests run through.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The supergraph requests start on now.
    pub fn supergraph(&self) -> Arc<Supergraph> {
        self.current.load().supergraph.clone()
    }

    /// Swaps to a new supergraph; requests already running finish on the old one.
    pub fn reload(&self, supergraph: Arc<Supergraph>) -> Result<(), EngineError> {
        let version = build_version(supergraph, &self.config, &self.local)?;
        self.current.store(Arc::new(version));
        Ok(())
    }

    /// The engine's response cache and its shared tier.
    pub fn caches(&self) -> &Caches {
        &self.caches
    }

    /// Invalidates cached entries by what `named` lists: type names and entity representations
    /// (`{"__typename": "Article", "id": "2"}`); returns the tags bumped, or the items it could
    /// not read.
    pub async fn invalidate(
        &self,
        named: &[serde_json::Value],
    ) -> Result<Vec<crate::cache::Tag>, Vec<serde_json::Value>> {
        let supergraph = self.supergraph();
        let mut targets = Vec::with_capacity(named.len());
        let mut unreadable = Vec::new();
        for item in named {
            match crate::cache::invalidate::target_of(&supergraph, item) {
                Some(target) => targets.push(target),
                None => unreadable.push(item.clone()),
            }
        }
        if !unreadable.is_empty() {
            return Err(unreadable);
        }
        Ok(self.caches.invalidate(&targets, &[]).await)
    }

    /// How many prepared operations are cached.
    pub fn cached_plans(&self) -> u64 {
        self.pipeline.cached_plans()
    }

    /// Runs one request end to end on the current supergraph.
    pub async fn run(&self, request: Request) -> Response {
        let version = self.current.load_full();
        self.pipeline.run(&version, request).await
    }

    /// Runs a subscription: each event of the subgraph's subscription, completed through the
    /// rest of the plan, as a response body; or the refusal. A query or mutation sent this
    /// way is one item (its parts, when it defers fragments). The stream ends when the subgraph
    /// completes or fails (its errors are the last item) and closes the subgraph's socket when
    /// dropped. It stays on the supergraph version it started on.
    pub async fn subscribe(
        self: &Arc<Self>,
        request: Request,
    ) -> Result<futures::stream::BoxStream<'static, Streamed>, Response> {
        use futures::StreamExt;
        let version = self.current.load_full();
        let subscribing = match self.pipeline.subscribing(&version, request).await? {
            Subscribed::Events(subscribing) => {
                Arc::<crate::pipeline::Subscribing>::from(subscribing)
            }
            Subscribed::Answer(response) => {
                if let crate::request::Status::Refused(_) = response.status {
                    return Err(response);
                }
                let unmarked = |body| Streamed { id: None, body };
                return Ok(
                    match response.parts.as_ref().and_then(|parts| parts.take()) {
                        Some(parts) => parts.map(unmarked).boxed(),
                        None => {
                            futures::stream::once(async move { unmarked(response.body) }).boxed()
                        }
                    },
                );
            }
        };
        let Some(primary) = subscribing.primary.clone() else {
            let body = self
                .pipeline
                .event(&version, &subscribing, serde_json::json!({ "data": {} }))
                .await;
            return Ok(futures::stream::once(async move { Streamed { id: None, body } }).boxed());
        };
        let url = self
            .config
            .subgraphs
            .urls
            .get(&primary.service_name)
            .or_else(|| version.supergraph.endpoints().get(&primary.service_name))
            .cloned()
            .unwrap_or_default();
        let events = crate::transport::ws::subscribe(
            &url,
            subscribing.authorization.as_deref(),
            &primary.operation.document_str,
            subscribing.primary_variables(),
            subscribing.resume.as_deref(),
        )
        .await
        .map_err(|error| {
            Response::refused(
                GraphqlError::new(Code::SubrequestHttpError, error.to_string())
                    .with_extension("serviceName", primary.service_name.clone().into()),
            )
        })?;
        let engine = self.clone();
        let service = primary.service_name.clone();
        Ok(events
            .then(move |event| {
                let (engine, version, subscribing) =
                    (engine.clone(), version.clone(), subscribing.clone());
                let service = service.clone();
                async move {
                    match event {
                        Ok(payload) => {
                            let id = payload
                                .pointer("/extensions/eventCursor")
                                .and_then(|cursor| match cursor {
                                    serde_json::Value::String(text) => Some(text.clone()),
                                    serde_json::Value::Number(number) => Some(number.to_string()),
                                    _ => None,
                                })
                                // An SSE `id` line cannot hold a line break or NUL; a cursor is
                                // printable ASCII, or not passed on.
                                .filter(|id| {
                                    id.len() <= 64 && id.bytes().all(|b| b.is_ascii_graphic())
                                });
                            let body = engine.pipeline.event(&version, &subscribing, payload).await;
                            Streamed { id, body }
                        }
                        Err(error) => Streamed {
                            id: None,
                            body: crate::error::errors_body(&[GraphqlError::new(
                                Code::SubrequestHttpError,
                                error.to_string(),
                            )
                            .with_extension("serviceName", service.into())])
                            .into(),
                        },
                    }
                }
            })
            .boxed())
    }
}

/// A transport for every subgraph `supergraph` names: in-process where given, HTTP otherwise,
/// behind single flight when configured.
fn build_version(
    supergraph: Arc<Supergraph>,
    config: &Config,
    local: &HashMap<String, Arc<dyn Transport>>,
) -> Result<Version, EngineError> {
    let settings = &config.subgraphs;
    let mut limits = OriginLimits::new(settings.max_concurrent_per_origin);
    let mut subgraphs: Subgraphs = HashMap::new();
    for (name, declared) in supergraph.endpoints() {
        let url = settings.urls.get(name).unwrap_or(declared);
        let transport: Arc<dyn Transport> = match local.get(name) {
            Some(local) => local.clone(),
            None if url.starts_with("inprocess://") => {
                return Err(EngineError::MissingLocal {
                    subgraph: name.clone(),
                    url: url.clone(),
                });
            }
            None => Arc::new(
                HttpTransport::new(
                    url,
                    settings.timeout(),
                    settings.h2c,
                    settings.max_response_bytes,
                    limits.for_url(url),
                )
                .map_err(|source| EngineError::Transport {
                    subgraph: name.clone(),
                    source,
                })?,
            ),
        };
        // The breaker sits under single flight: a shared request that fails counts once.
        let transport: Arc<dyn Transport> = if settings.breaker_failures > 0 {
            Arc::new(Breaker::new(
                transport,
                name,
                settings.breaker_failures,
                settings.breaker_cooldown(),
            ))
        } else {
            transport
        };
        let transport: Arc<dyn Transport> = if settings.dedupe {
            Arc::new(SingleFlight::new(transport))
        } else {
            transport
        };
        subgraphs.insert(name.clone(), transport);
    }
    Ok(Version {
        supergraph,
        subgraphs,
    })
}

/// Follows a supergraph source for `engine`: reloads on SIGHUP and, with `poll`, when one of
/// the `watched` files changes (checked every two seconds). A file that no longer loads, or a
/// config that no longer composes, keeps the current version (logged with its errors).
pub async fn follow(
    engine: Arc<Engine>,
    source: crate::supergraph::source::SupergraphSource,
    mut watched: crate::supergraph::source::Watched,
    poll: bool,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let client = reqwest::Client::new();
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        #[cfg(unix)]
        let signalled = async {
            match hangup.as_mut() {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let signalled = std::future::pending::<()>();
        let forced = tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(2)) => false,
            () = signalled => true,
        };
        let changed = watched.changed();
        if !(forced || (poll && changed)) {
            continue;
        }
        let loaded = match source.load(&client).await {
            Ok((supergraph, files)) => engine
                .reload(supergraph)
                .map(|()| files)
                .map_err(|err| err.to_string()),
            Err(err) => Err(err.to_string()),
        };
        match loaded {
            Ok(files) => {
                watched = files;
                tracing::info!(supergraph = %source, "supergraph reloaded");
            }
            Err(error) => {
                tracing::error!(supergraph = %source, error, "supergraph reload failed; keeping the current version");
            }
        }
    }
}
