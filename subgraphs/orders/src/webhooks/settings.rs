//! What the webhooks run with, read from the environment at start: the endpoints and the retry
//! policy.

use std::time::Duration;

use super::WebhookError;

/// The environment variable listing the endpoints; unset or empty, webhooks are off.
///
/// Entries are `URL=SECRET`, separated by commas (or whitespace): the secret is what follows
/// the last `=`, so a URL may carry a query string, while a secret holds no `=`, `,` or
/// whitespace (hex or unpadded base64url suit). URLs are `http` (no TLS client is linked).
/// The list is the whole configuration: endpoints stored before and not listed any more are
/// deactivated.
pub const ORDER_WEBHOOKS: &str = "TRIBUTARY_ORDER_WEBHOOKS";

/// The environment variable with the pause before the first retry, in milliseconds
/// (default 1000); each later retry waits twice as long as the one before.
pub const RETRY_BASE_MS: &str = "TRIBUTARY_WEBHOOK_RETRY_BASE_MS";

/// The environment variable with the longest pause between two attempts, in milliseconds
/// (default 600000, ten minutes).
pub const RETRY_CAP_MS: &str = "TRIBUTARY_WEBHOOK_RETRY_CAP_MS";

/// The environment variable with how many attempts a delivery gets before it is dead
/// (default 8).
pub const MAX_ATTEMPTS: &str = "TRIBUTARY_WEBHOOK_MAX_ATTEMPTS";

/// The environment variable with how long one attempt may take, in milliseconds
/// (default 5000).
pub const TIMEOUT_MS: &str = "TRIBUTARY_WEBHOOK_TIMEOUT_MS";

/// How often the worker looks for due deliveries when nothing wakes it sooner: deliveries
/// another replica queued, or that `webhooks replay` set pending again, wait at most this long.
const POLL: Duration = Duration::from_secs(1);

/// One receiver of order events.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Where events are POSTed.
    pub url: String,
    /// The key of each request's `x-tributary-signature`.
    pub secret: String,
}

// The secret stays out of logs and panics.
impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// When a failed delivery is tried again, and when it is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// The pause after the first failed attempt.
    pub base: Duration,
    /// The longest pause between two attempts.
    pub cap: Duration,
    /// Attempts in all before a delivery is dead.
    pub max_attempts: u32,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(600),
            max_attempts: 8,
        }
    }
}

impl Retry {
    /// The pause after failed attempt number `attempt` (1 for the first): `base · 2^(attempt-1)`,
    /// at most `cap`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.base.saturating_mul(1 << doublings).min(self.cap)
    }
}

/// Everything the dispatcher and the worker need.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The endpoints, the whole list: others stored before are deactivated.
    pub endpoints: Vec<Endpoint>,
    /// The retry policy.
    pub retry: Retry,
    /// How long one attempt may take, answer included.
    pub timeout: Duration,
    /// The longest the worker sleeps between two looks at the queue.
    pub poll: Duration,
}

impl Settings {
    /// Settings for `endpoints` with the default policy: retries after 1 s, doubling up to ten
    /// minutes, 8 attempts, 5 s per attempt.
    pub fn new(endpoints: Vec<Endpoint>) -> Settings {
        Settings {
            endpoints,
            retry: Retry::default(),
            timeout: Duration::from_secs(5),
            poll: POLL,
        }
    }

    /// The settings the environment describes; `None` when [`ORDER_WEBHOOKS`] is unset or
    /// empty (webhooks off).
    pub fn from_env() -> Result<Option<Settings>, WebhookError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings the variables `lookup` returns describe (see [`Settings::from_env`]).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Settings>, WebhookError> {
        let listed = lookup(ORDER_WEBHOOKS).unwrap_or_default();
        if listed.trim().is_empty() {
            return Ok(None);
        }
        let mut settings = Settings::new(parse_endpoints(&listed)?);
        let number =
            |name: &'static str, min: u64, max: u64| -> Result<Option<u64>, WebhookError> {
                let Some(text) = lookup(name).filter(|text| !text.trim().is_empty()) else {
                    return Ok(None);
                };
                text.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .map(Some)
                    .ok_or_else(|| WebhookError::Setting {
                        variable: name,
                        detail: format!("`{text}` is not a whole number from {min} to {max}"),
                    })
            };
        if let Some(ms) = number(RETRY_BASE_MS, 1, 3_600_000)? {
            settings.retry.base = Duration::from_millis(ms);
        }
        if let Some(ms) = number(RETRY_CAP_MS, 1, 86_400_000)? {
            settings.retry.cap = Duration::from_millis(ms);
        }
        if let Some(attempts) = number(MAX_ATTEMPTS, 1, 100)? {
            settings.retry.max_attempts = attempts as u32;
        }
        if let Some(ms) = number(TIMEOUT_MS, 100, 60_000)? {
            settings.timeout = Duration::from_millis(ms);
        }
        if settings.retry.cap < settings.retry.base {
            return Err(WebhookError::Setting {
                variable: RETRY_CAP_MS,
                detail: "the cap is shorter than the first pause".to_owned(),
            });
        }
        Ok(Some(settings))
    }
}

/// Parses the [`ORDER_WEBHOOKS`] list: `URL=SECRET` entries, split at the last `=`.
pub fn parse_endpoints(text: &str) -> Result<Vec<Endpoint>, WebhookError> {
    let invalid = |detail: String| WebhookError::Setting {
        variable: ORDER_WEBHOOKS,
        detail,
    };
    let mut endpoints: Vec<Endpoint> = Vec::new();
    for entry in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|entry| !entry.is_empty())
    {
        let (url, secret) = entry
            .rsplit_once('=')
            .ok_or_else(|| invalid(format!("`{entry}` is not URL=SECRET")))?;
        let parsed = reqwest::Url::parse(url)
            .map_err(|err| invalid(format!("`{url}` is not a URL: {err}")))?;
        // The workspace links reqwest without TLS (enabling it would change every HTTP client
        // of the build), so an https endpoint could only ever fail: refused here, at start.
        if parsed.scheme() == "https" {
            return Err(invalid(format!(
                "`{url}`: webhooks are sent over plain HTTP only (no TLS client is linked); \
                 use an http URL, such as a TLS-terminating egress proxy's"
            )));
        }
        if parsed.scheme() != "http" || parsed.host_str().is_none() {
            return Err(invalid(format!("`{url}` is not an http URL")));
        }
        if secret.is_empty() {
            return Err(invalid(format!("the endpoint {url} has an empty secret")));
        }
        if endpoints.iter().any(|endpoint| endpoint.url == url) {
            return Err(invalid(format!("the endpoint {url} is listed twice")));
        }
        endpoints.push(Endpoint {
            url: url.to_owned(),
            secret: secret.to_owned(),
        });
    }
    Ok(endpoints)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Option<Settings>, WebhookError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn endpoints_are_url_equals_secret_split_at_the_last_equals_sign() {
        let endpoints =
            parse_endpoints("http://a.example/hook=secret1, http://b.example:8080/x?tenant=7=s2\n")
                .expect("a valid list");
        assert_eq!(
            endpoints,
            [
                Endpoint {
                    url: "http://a.example/hook".to_owned(),
                    secret: "secret1".to_owned()
                },
                Endpoint {
                    url: "http://b.example:8080/x?tenant=7".to_owned(),
                    secret: "s2".to_owned()
                },
            ]
        );
        for bad in [
            "http://a.example/hook",
            "http://a.example/hook=",
            "https://a.example/hook=s",
            "ftp://a.example/x=s",
            "not a url=s",
            "http://a.example/x=s,http://a.example/x=t",
        ] {
            assert!(parse_endpoints(bad).is_err(), "{bad}");
        }
        assert!(
            !format!("{:?}", endpoints[0]).contains("secret1"),
            "secrets stay out of logs"
        );
    }

    #[test]
    fn webhooks_are_off_unless_endpoints_are_listed_and_the_policy_has_defaults() {
        assert!(settings(&[]).expect("valid").is_none());
        assert!(settings(&[(ORDER_WEBHOOKS, " ")]).expect("valid").is_none());
        let on = settings(&[(ORDER_WEBHOOKS, "http://127.0.0.1:9/h=s")])
            .expect("valid")
            .expect("on");
        assert_eq!(on.retry, Retry::default());
        assert_eq!(on.timeout, Duration::from_secs(5));
        let tuned = settings(&[
            (ORDER_WEBHOOKS, "http://127.0.0.1:9/h=s"),
            (RETRY_BASE_MS, "50"),
            (RETRY_CAP_MS, "400"),
            (MAX_ATTEMPTS, "3"),
            (TIMEOUT_MS, "750"),
        ])
        .expect("valid")
        .expect("on");
        assert_eq!(
            (tuned.retry, tuned.timeout),
            (
                Retry {
                    base: Duration::from_millis(50),
                    cap: Duration::from_millis(400),
                    max_attempts: 3
                },
                Duration::from_millis(750)
            )
        );
        for (name, bad) in [
            (RETRY_BASE_MS, "soon"),
            (MAX_ATTEMPTS, "0"),
            (TIMEOUT_MS, "5"),
            (RETRY_CAP_MS, "10"),
        ] {
            let err = settings(&[
                (ORDER_WEBHOOKS, "http://127.0.0.1:9/h=s"),
                (
                    RETRY_BASE_MS,
                    if name == RETRY_BASE_MS { bad } else { "100" },
                ),
                (name, bad),
            ])
            .expect_err(name);
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn retries_double_from_the_base_up_to_the_cap() {
        let retry = Retry::default();
        let delays: Vec<u64> = (1..=11).map(|n| retry.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600]);
        assert_eq!(retry.delay(1_000), Duration::from_secs(600));
    }
}
