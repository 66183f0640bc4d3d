//! GraphQL errors as the engine writes them, and the one list of `extensions.code`s it emits,
//! each with its HTTP status. No other module spells a code.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

/// Every `extensions.code` the engine itself emits. A subgraph's own codes pass through its
/// errors' extensions untouched and are not listed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// The request is not a well-formed GraphQL-over-HTTP request.
    BadRequest,
    /// The request's credentials are missing, invalid or not enough for what it asks.
    Unauthenticated,
    /// A POST body that is not `application/json`.
    UnsupportedMediaType,
    /// A body over the configured size.
    PayloadTooLarge,
    /// The `Accept` header allows no media type the engine writes.
    NotAcceptable,
    /// A batched POST where batching is off.
    BatchingNotEnabled,
    /// A batch with too few or too many operations.
    BatchLimitExceeded,
    /// A mutation sent over GET.
    MethodNotAllowed,
    /// A subscription or `@defer` where the transport cannot carry it.
    OperationNotSupported,
    /// A variable or argument value the operation cannot use.
    BadUserInput,
    /// A persisted id or APQ hash the engine does not know, or a document off the safelist.
    PersistedQueryNotFound,
    /// An APQ hash where automatic persisted queries are off.
    PersistedQueryNotSupported,
    /// An APQ hash that does not match the document sent with it.
    PersistedQueryHashMismatch,
    /// `__schema` or `__type` where introspection is turned off.
    IntrospectionDisabled,
    /// The document is not GraphQL.
    GraphqlParseFailed,
    /// The operation does not validate against the API schema.
    GraphqlValidationFailed,
    /// The operation name is not in the document.
    GraphqlUnknownOperationName,
    /// Nested deeper than allowed.
    MaxDepthExceeded,
    /// More fields than allowed.
    MaxFieldsExceeded,
    /// More aliases than allowed.
    MaxAliasesExceeded,
    /// More root fields than allowed.
    MaxRootFieldsExceeded,
    /// An operation the planner could not plan (it names what the supergraph cannot serve).
    QueryPlanningFailed,
    /// A subgraph could not be reached or answered with an HTTP error.
    SubrequestHttpError,
    /// A subgraph did not answer within its timeout.
    SubrequestTimeout,
    /// A subgraph's answer is not a GraphQL response.
    SubrequestMalformedResponse,
    /// The subgraph failed repeatedly and is not called until its circuit's cooldown ends.
    SubrequestCircuitOpen,
    /// The request's overall deadline passed; what arrived before it is answered.
    RequestDeadlineExceeded,
    /// A field or type the caller may not see (`@authenticated`, `@requiresScopes`,
    /// `@policy`); it answers null and the rest of the operation runs.
    UnauthorizedFieldOrType,
    /// The client or user spent its request budget; retry after `Retry-After` seconds.
    RateLimited,
    /// The operation's estimated cost is over the endpoint's maximum.
    CostEstimatedTooExpensive,
    /// The engine itself failed (the planner crashed, say); the request, not the process.
    InternalServerError,
}

impl Code {
    /// The code as written in `extensions.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadRequest => "BAD_REQUEST",
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Code::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Code::NotAcceptable => "NOT_ACCEPTABLE",
            Code::BatchingNotEnabled => "BATCHING_NOT_ENABLED",
            Code::BatchLimitExceeded => "BATCH_LIMIT_EXCEEDED",
            Code::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Code::OperationNotSupported => "OPERATION_NOT_SUPPORTED",
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Code::PersistedQueryNotSupported => "PERSISTED_QUERY_NOT_SUPPORTED",
            Code::PersistedQueryHashMismatch => "PERSISTED_QUERY_HASH_MISMATCH",
            Code::IntrospectionDisabled => "INTROSPECTION_DISABLED",
            Code::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            Code::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            Code::GraphqlUnknownOperationName => "GRAPHQL_UNKNOWN_OPERATION_NAME",
            Code::MaxDepthExceeded => "MAX_DEPTH_EXCEEDED",
            Code::MaxFieldsExceeded => "MAX_FIELDS_EXCEEDED",
            Code::MaxAliasesExceeded => "MAX_ALIASES_EXCEEDED",
            Code::MaxRootFieldsExceeded => "MAX_ROOT_FIELDS_EXCEEDED",
            Code::QueryPlanningFailed => "QUERY_PLANNING_FAILED",
            Code::SubrequestHttpError => "SUBREQUEST_HTTP_ERROR",
            Code::SubrequestTimeout => "SUBREQUEST_TIMEOUT",
            Code::SubrequestMalformedResponse => "SUBREQUEST_MALFORMED_RESPONSE",
            Code::SubrequestCircuitOpen => "SUBREQUEST_CIRCUIT_OPEN",
            Code::RequestDeadlineExceeded => "REQUEST_DEADLINE_EXCEEDED",
            Code::UnauthorizedFieldOrType => "UNAUTHORIZED_FIELD_OR_TYPE",
            Code::RateLimited => "RATE_LIMITED",
            Code::CostEstimatedTooExpensive => "COST_ESTIMATED_TOO_EXPENSIVE",
            Code::InternalServerError => "INTERNAL_SERVER_ERROR",
        }
    }

    /// The HTTP status of a response refused with this code, as `application/graphql-response+json`
    /// gives it. Codes of errors that ride along with data (subgraph failures) are 200: the
    /// response as a whole succeeded.
    pub fn http_status(self) -> u16 {
        match self {
            Code::Unauthenticated => 401,
            Code::UnsupportedMediaType => 415,
            Code::PayloadTooLarge => 413,
            Code::NotAcceptable => 406,
            Code::MethodNotAllowed => 405,
            Code::InternalServerError => 500,
            Code::RateLimited => 429,
            Code::SubrequestHttpError
            | Code::SubrequestTimeout
            | Code::SubrequestMalformedResponse
            | Code::SubrequestCircuitOpen
            | Code::RequestDeadlineExceeded
            | Code::UnauthorizedFieldOrType => 200,
            Code::BadRequest
            | Code::BatchingNotEnabled
            | Code::BatchLimitExceeded
            | Code::OperationNotSupported
            | Code::BadUserInput
            | Code::PersistedQueryNotFound
            | Code::PersistedQueryNotSupported
            | Code::PersistedQueryHashMismatch
            | Code::IntrospectionDisabled
            | Code::GraphqlParseFailed
            | Code::GraphqlValidationFailed
            | Code::GraphqlUnknownOperationName
            | Code::MaxDepthExceeded
            | Code::MaxFieldsExceeded
            | Code::MaxAliasesExceeded
            | Code::MaxRootFieldsExceeded
            | Code::QueryPlanningFailed
            | Code::CostEstimatedTooExpensive => 400,
        }
    }

    /// Every code, for documentation and tests.
    pub const ALL: [Code; 31] = [
        Code::BadRequest,
        Code::Unauthenticated,
        Code::UnsupportedMediaType,
        Code::PayloadTooLarge,
        Code::NotAcceptable,
        Code::BatchingNotEnabled,
        Code::BatchLimitExceeded,
        Code::MethodNotAllowed,
        Code::OperationNotSupported,
        Code::BadUserInput,
        Code::PersistedQueryNotFound,
        Code::PersistedQueryNotSupported,
        Code::PersistedQueryHashMismatch,
        Code::IntrospectionDisabled,
        Code::GraphqlParseFailed,
        Code::GraphqlValidationFailed,
        Code::GraphqlUnknownOperationName,
        Code::MaxDepthExceeded,
        Code::MaxFieldsExceeded,
        Code::MaxAliasesExceeded,
        Code::MaxRootFieldsExceeded,
        Code::QueryPlanningFailed,
        Code::SubrequestHttpError,
        Code::SubrequestTimeout,
        Code::SubrequestMalformedResponse,
        Code::SubrequestCircuitOpen,
        Code::RequestDeadlineExceeded,
        Code::UnauthorizedFieldOrType,
        Code::RateLimited,
        Code::CostEstimatedTooExpensive,
        Code::InternalServerError,
    ];
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A place in a document: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The line.
    pub line: usize,
    /// The column.
    pub column: usize,
}

/// One step of a response path: a field's response key or a list index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    /// A response key.
    Key(String),
    /// A list index.
    Index(usize),
}

impl PathSegment {
    /// Reads a segment of a path as JSON gives it (a string or a non-negative integer).
    pub fn from_json(value: &Value) -> Option<PathSegment> {
        match value {
            Value::String(key) => Some(PathSegment::Key(key.clone())),
            Value::Number(n) => n
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .map(PathSegment::Index),
            _ => None,
        }
    }
}

impl Serialize for PathSegment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            PathSegment::Key(key) => serializer.serialize_str(key),
            PathSegment::Index(index) => serializer.serialize_u64(*index as u64),
        }
    }
}

/// A GraphQL error: message, locations in the client's document, response path, extensions.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphqlError {
    /// What went wrong, for the client developer.
    pub message: String,
    /// Where in the client's document.
    pub locations: Vec<Location>,
    /// Where in the response; `None` for an error about the request as a whole.
    pub path: Option<Vec<PathSegment>>,
    /// `code` first when the engine set one, then anything else (a subgraph's own
    /// extensions, `serviceName`).
    pub extensions: Map<String, Value>,
}

impl GraphqlError {
    /// An error with `message` and `code`.
    pub fn new(code: Code, message: impl Into<String>) -> GraphqlError {
        let mut extensions = Map::new();
        extensions.insert("code".to_owned(), Value::String(code.as_str().to_owned()));
        GraphqlError {
            message: message.into(),
            locations: Vec::new(),
            path: None,
            extensions,
        }
    }

    /// A field error at `path` without a code (the specification's non-null violations).
    pub fn at_path(message: impl Into<String>, path: Vec<PathSegment>) -> GraphqlError {
        GraphqlError {
            message: message.into(),
            locations: Vec::new(),
            path: Some(path),
            extensions: Map::new(),
        }
    }

    /// The same error at response `path`.
    pub fn with_path(mut self, path: Vec<PathSegment>) -> GraphqlError {
        self.path = Some(path);
        self
    }

    /// With these document locations.
    pub fn with_locations(mut self, locations: Vec<Location>) -> GraphqlError {
        self.locations = locations;
        self
    }

    /// With one more extension entry.
    pub fn with_extension(mut self, key: &str, value: Value) -> GraphqlError {
        self.extensions.insert(key.to_owned(), value);
        self
    }

    /// The engine's code on this error, if it carries one of ours.
    pub fn code(&self) -> Option<Code> {
        let code = self.extensions.get("code")?.as_str()?;
        Code::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// Reads an error a subgraph returned, leniently: a non-object becomes its message, a
    /// missing message a generic one; unknown members are dropped, as are locations (they
    /// point into the subgraph's operation, not the client's).
    pub fn from_subgraph(value: Value) -> GraphqlError {
        let mut object = match value {
            Value::Object(object) => object,
            other => {
                return GraphqlError {
                    message: other.to_string(),
                    locations: Vec::new(),
                    path: None,
                    extensions: Map::new(),
                };
            }
        };
        let message = match object.remove("message") {
            Some(Value::String(message)) => message,
            _ => "subgraph error".to_owned(),
        };
        let path = match object.remove("path") {
            Some(Value::Array(items)) => items.iter().map(PathSegment::from_json).collect(),
            _ => None,
        };
        let extensions = match object.remove("extensions") {
            Some(Value::Object(extensions)) => extensions,
            _ => Map::new(),
        };
        GraphqlError {
            message,
            locations: Vec::new(),
            path,
            extensions,
        }
    }

    /// The error as a JSON value (for tests and for callers that build JSON by hand).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl Serialize for GraphqlError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = 1
            + usize::from(!self.locations.is_empty())
            + usize::from(self.path.is_some())
            + usize::from(!self.extensions.is_empty());
        let mut map = serializer.serialize_map(Some(len))?;
        map.serialize_entry("message", &self.message)?;
        if !self.locations.is_empty() {
            map.serialize_entry("locations", &self.locations)?;
        }
        if let Some(path) = &self.path {
            map.serialize_entry("path", path)?;
        }
        if !self.extensions.is_empty() {
            map.serialize_entry("extensions", &self.extensions)?;
        }
        map.end()
    }
}

impl std::fmt::Display for GraphqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A response that carries only errors, as a JSON body: `{"errors": [...]}`.
pub fn errors_body(errors: &[GraphqlError]) -> Vec<u8> {
    #[derive(Serialize)]
    struct Body<'a> {
        errors: &'a [GraphqlError],
    }
    serde_json::to_vec(&Body { errors }).unwrap_or_else(|_| b"{\"errors\":[]}".to_vec())
}
