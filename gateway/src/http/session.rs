//! Cookie sessions over HTTP: `POST /auth/login` signs a user in through the engine's own
//! pipeline and answers with the session cookie (`HttpOnly`, `SameSite=Lax`, `Secure` unless
//! configured off), never a token; `POST /auth/logout` ends the session on every replica
//! sharing the store, signs its refresh token out and expires the cookie. Both need the CSRF
//! header, and an `Origin`, when sent, among the allowed CORS origins (else 403). GraphQL
//! requests get the session cookie, the CSRF header and the origin's standing read here.
//!
//! The supergraph must offer the sign-in convention these documents speak:
//! `login(email, password)` answering `token`, `refreshToken` and `user`, and
//! `signOut(refreshToken)`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use crate::admit::session::Session;
use crate::config::{Config, SessionConfig};
use crate::engine::Engine;
use crate::error::{Code, GraphqlError, errors_body};
use crate::request::{Caller, Request, Status};

/// An HTTP response.
type HttpResponse = axum::response::Response;

/// The sign-in the login route runs.
const LOGIN: &str = "mutation TributarySessionLogin($email: String!, $password: String!) {
  login(email: $email, password: $password) { token refreshToken user { id name username } }
}";

/// The sign-out the logout route runs, best effort.
const SIGN_OUT: &str = "mutation TributarySessionSignOut($refreshToken: String!) {
  signOut(refreshToken: $refreshToken)
}";

/// The session cookie's value (the first one named `name`, when not empty) and the request's
/// other cookies, which still name the caller as before, from every `Cookie` header.
pub(super) fn split_cookies(headers: &HeaderMap, name: &str) -> (Option<String>, Option<String>) {
    let mut session = None;
    let mut others = Vec::new();
    for value in headers.get_all(header::COOKIE) {
        let text = String::from_utf8_lossy(value.as_bytes());
        for pair in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some((key, value)) if key.trim() == name => {
                    let value = value.trim().trim_matches('"');
                    if session.is_none() && !value.is_empty() {
                        session = Some(value.to_owned());
                    }
                }
                _ => others.push(pair.to_owned()),
            }
        }
    }
    let others = (!others.is_empty()).then(|| others.join("; "));
    (session, others)
}

/// Sets what admission needs to know about a request that may run over a session cookie:
/// the cookie's value (unless the request has an `Authorization` header), whether the CSRF
/// header is there, and whether it comes from an origin that is not allowed.
pub(super) fn mark(
    caller: &mut Caller,
    session: Option<String>,
    headers: &HeaderMap,
    config: &Config,
) {
    let (csrf_header, foreign_origin) = cross_site(headers, config);
    caller.csrf_header = csrf_header;
    caller.foreign_origin = foreign_origin;
    if caller.authorization.is_none() {
        caller.session = session.map(crate::request::Secret::new);
    }
}

/// Whether the request carries the CSRF header with a value, and whether its `Origin` is one
/// the CORS settings do not allow.
fn cross_site(headers: &HeaderMap, config: &Config) -> (bool, bool) {
    let csrf_header = headers
        .get(config.session.csrf_header.as_str())
        .is_some_and(|value| !value.as_bytes().trim_ascii().is_empty());
    let foreign_origin = headers.get(header::ORIGIN).is_some_and(|origin| {
        let origin = origin.as_bytes();
        !config.cors.origins.iter().any(|allowed| {
            allowed
                .trim_end_matches('/')
                .as_bytes()
                .eq_ignore_ascii_case(origin)
        })
    });
    (csrf_header, foreign_origin)
}

/// `POST /auth/login` with `{"email", "password"}`: runs `login` as `request` (the client's
/// metadata, no credentials), keeps the tokens in a new session and answers `{"user",
/// "expiresAt"}` with the session cookie.
pub(super) async fn login(
    engine: &Engine,
    headers: &HeaderMap,
    mut request: Request,
    body: Result<Bytes, BytesRejection>,
) -> HttpResponse {
    let config = engine.config();
    let Some(sessions) = engine.sessions() else {
        return refuse(
            StatusCode::NOT_FOUND,
            GraphqlError::new(Code::BadRequest, "sessions are off"),
        );
    };
    if let Err(refused) = guard(headers, config) {
        return refused;
    }
    let Some((email, password)) = body.ok().and_then(|body| credentials(&body)) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            GraphqlError::new(
                Code::BadRequest,
                "the body must be a JSON object with string members `email` and `password`",
            ),
        );
    };
    let mut variables = Map::new();
    variables.insert("email".to_owned(), Value::String(email));
    variables.insert("password".to_owned(), Value::String(password));
    run_as_nobody(&mut request, LOGIN, "TributarySessionLogin", variables);
    let response = engine.run(request).await;
    let answer: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let login = &answer["data"]["login"];
    let (Some(token), Some(refresh_token)) =
        (login["token"].as_str(), login["refreshToken"].as_str())
    else {
        return failed_login(response.status, &answer);
    };
    let started = match sessions
        .start(
            crate::request::Secret::new(token),
            crate::request::Secret::new(refresh_token),
        )
        .await
    {
        Ok(started) => started,
        Err(err) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, err.to_graphql()),
    };
    tracing::debug!(engine = %config.server.name, user = %login["user"]["id"], shared = sessions.shared(), "session started");
    let body = json!({ "user": login["user"], "expiresAt": rfc3339(started.expires_at) });
    let mut http = json_answer(StatusCode::OK, body.to_string());
    if let Some(cookie) = cookie(&config.session, started.id.expose(), started.max_age) {
        http.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    http
}

/// `POST /auth/logout`: ends the cookie's session in the store (every replica sharing it sees
/// it gone), signs its refresh token out, best effort, and answers 204 with an expired cookie.
/// Without a session it answers the same.
pub(super) async fn logout(engine: &Engine, headers: &HeaderMap, request: Request) -> HttpResponse {
    let config = engine.config();
    let Some(sessions) = engine.sessions() else {
        return refuse(
            StatusCode::NOT_FOUND,
            GraphqlError::new(Code::BadRequest, "sessions are off"),
        );
    };
    if let Err(refused) = guard(headers, config) {
        return refused;
    }
    if let (Some(id), _) = split_cookies(headers, &config.session.cookie_name) {
        match sessions.end(&id).await {
            Ok(Some(session)) => sign_out(engine, request, session).await,
            Ok(None) => {}
            Err(err) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, err.to_graphql()),
        }
    }
    let mut http = StatusCode::NO_CONTENT.into_response();
    http.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(cookie) = cookie(&config.session, "", 0) {
        http.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    http
}

/// Revokes an ended session's refresh token; a failure is logged, the sign-out stands (the
/// session is gone and its access token expires with it).
async fn sign_out(engine: &Engine, mut request: Request, session: Session) {
    let mut variables = Map::new();
    variables.insert(
        "refreshToken".to_owned(),
        Value::String(session.refresh_token.expose().to_owned()),
    );
    run_as_nobody(&mut request, SIGN_OUT, "TributarySessionSignOut", variables);
    let response = engine.run(request).await;
    let answer: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    if answer["data"]["signOut"] != Value::Bool(true) {
        tracing::warn!(engine = %engine.config().server.name, answer = %answer, "the ended session's refresh token was not signed out");
    }
}

/// Makes `request` run `document` with `variables` and no credentials of the client's.
fn run_as_nobody(request: &mut Request, document: &str, name: &str, variables: Map<String, Value>) {
    request.query = Some(document.to_owned());
    request.operation_name = Some(name.to_owned());
    request.variables = variables;
    request.extensions = Map::new();
    request.document_id = None;
    request.caller = Caller::anonymous();
    request
        .forward
        .retain(|(header, _)| !header.eq_ignore_ascii_case("authorization"));
}

/// The email and password of a login body.
fn credentials(body: &[u8]) -> Option<(String, String)> {
    let Value::Object(mut object) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    match (object.remove("email"), object.remove("password")) {
        (Some(Value::String(email)), Some(Value::String(password))) => Some((email, password)),
        _ => None,
    }
}

/// The answer to a login that gave no tokens: 401 for wrong credentials, else the status of
/// the engine's code (502 for a subgraph's failure) with its errors.
fn failed_login(status: Status, answer: &Value) -> HttpResponse {
    let errors: Vec<GraphqlError> = match &answer["errors"] {
        Value::Array(errors) => errors
            .iter()
            .cloned()
            .map(GraphqlError::from_subgraph)
            .collect(),
        _ => Vec::new(),
    };
    let code = match status {
        Status::Refused(code) => Some(code),
        Status::Executed => errors.first().and_then(GraphqlError::code),
    };
    match code {
        Some(Code::Unauthenticated) => {
            let message = errors
                .first()
                .map_or("invalid email or password", |e| e.message.as_str());
            refuse(
                StatusCode::UNAUTHORIZED,
                GraphqlError::new(Code::Unauthenticated, message),
            )
        }
        _ if errors.is_empty() => refuse(
            StatusCode::BAD_GATEWAY,
            GraphqlError::new(
                Code::SubrequestMalformedResponse,
                "the sign-in answered no token",
            ),
        ),
        code => {
            let status = code
                .map(|c| c.http_status())
                .filter(|s| *s >= 400)
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::BAD_GATEWAY);
            crate::pipeline::count_refusal(code);
            json_answer(status, errors_body(&errors))
        }
    }
}

/// Refuses a sign-in or sign-out without the CSRF header or from an origin not allowed (403).
fn guard(headers: &HeaderMap, config: &Config) -> Result<(), HttpResponse> {
    let (csrf_header, foreign_origin) = cross_site(headers, config);
    let message = if foreign_origin {
        "sign-in and sign-out must come from an allowed origin".to_owned()
    } else if !csrf_header {
        format!(
            "sign-in and sign-out need the `{}` header",
            config.session.csrf_header
        )
    } else {
        return Ok(());
    };
    Err(refuse(
        StatusCode::FORBIDDEN,
        GraphqlError::new(Code::BadRequest, message),
    ))
}

/// A GraphQL-style error answer with `status`.
fn refuse(status: StatusCode, error: GraphqlError) -> HttpResponse {
    crate::pipeline::count_refusal(error.code());
    json_answer(status, errors_body(&[error]))
}

/// A JSON answer no cache may keep.
fn json_answer(status: StatusCode, body: impl Into<axum::body::Body>) -> HttpResponse {
    let mut http = (status, body.into()).into_response();
    let headers = http.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    http
}

/// The `Set-Cookie` value of the session cookie: `value` for `max_age` seconds (0 expires it).
fn cookie(settings: &SessionConfig, value: &str, max_age: u64) -> Option<HeaderValue> {
    let secure = if settings.secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}={value}; HttpOnly{secure}; SameSite=Lax; Path=/; Max-Age={max_age}",
        settings.cookie_name
    ))
    .ok()
}

/// Unix seconds as an RFC 3339 UTC date-time (`2026-01-31T12:00:00Z`).
fn rfc3339(unix: u64) -> String {
    // Howard Hinnant's days-to-civil conversion, on days since 1970-01-01.
    let days = i64::try_from(unix / 86_400).unwrap_or(0);
    let seconds = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds / 3_600,
        seconds / 60 % 60,
        seconds % 60
    )
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn the_session_cookie_is_picked_out_of_every_cookie_header() {
        let check = |pairs: &[(&str, &str)], session: Option<&str>, others: Option<&str>| {
            assert_eq!(
                split_cookies(&headers(pairs), "tributary_session"),
                (session.map(str::to_owned), others.map(str::to_owned)),
                "{pairs:?}"
            );
        };
        check(&[], None, None);
        check(&[("cookie", "tributary_session=abc")], Some("abc"), None);
        check(
            &[("cookie", "theme=dark; tributary_session=abc; lang=en")],
            Some("abc"),
            Some("theme=dark; lang=en"),
        );
        // HTTP/2 splits cookies over several headers; the first session cookie wins.
        check(
            &[
                ("cookie", "theme=dark"),
                (
                    "cookie",
                    " tributary_session=\"abc\" ;tributary_session=def",
                ),
            ],
            Some("abc"),
            Some("theme=dark"),
        );
        // A cookie whose name only starts like it, or an empty value, is no session.
        check(
            &[("cookie", "tributary_session_old=x; tributary_session=")],
            None,
            Some("tributary_session_old=x"),
        );
    }

    #[test]
    fn the_csrf_header_and_the_origin_are_read() {
        let mut config = Config::default();
        config.cors.origins = vec!["http://localhost:5173".to_owned()];
        let read = |pairs: &[(&str, &str)]| cross_site(&headers(pairs), &config);
        assert_eq!(read(&[]), (false, false));
        assert_eq!(read(&[("x-tributary-csrf", "1")]), (true, false));
        assert_eq!(read(&[("x-tributary-csrf", " ")]), (false, false));
        assert_eq!(
            read(&[
                ("x-tributary-csrf", "1"),
                ("origin", "http://localhost:5173")
            ]),
            (true, false)
        );
        assert_eq!(
            read(&[
                ("x-tributary-csrf", "1"),
                ("origin", "https://evil.example")
            ]),
            (true, true)
        );
        assert_eq!(read(&[("origin", "null")]), (false, true));
    }

    #[test]
    fn the_cookie_is_http_only_lax_and_secure_unless_configured_off() {
        let mut settings = SessionConfig::default();
        assert_eq!(
            cookie(&settings, "abc", 60).unwrap(),
            "tributary_session=abc; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=60"
        );
        settings.secure = false;
        assert_eq!(
            cookie(&settings, "", 0).unwrap(),
            "tributary_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0"
        );
    }

    #[test]
    fn unix_seconds_read_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn login_bodies_need_string_credentials() {
        assert_eq!(
            credentials(br#"{"email":"a@b.c","password":"p"}"#),
            Some(("a@b.c".to_owned(), "p".to_owned()))
        );
        assert_eq!(credentials(br#"{"email":"a@b.c"}"#), None);
        assert_eq!(credentials(br#"{"email":"a@b.c","password":1}"#), None);
        assert_eq!(credentials(b"[]"), None);
        assert_eq!(credentials(b"not json"), None);
    }
}
