//! A small federation to run composed supergraphs end to end: each subgraph served on loopback
//! HTTP from its SDL and a JSON description of its data (an async-graphql dynamic schema with
//! federation), the supergraph composed by `tributary-schema` with their real URLs, and the
//! gateway's engine over it, counting the requests each subgraph receives.
//!
//! A subgraph's data is `{"Query": {field: value, ...}, Type: [entity, ...], ...}`: a root
//! field answers its value (a list is filtered by the arguments given, matched against the
//! items' fields of the same name; a single-object field takes the first match), each object
//! resolves its fields from its JSON, objects of abstract types say `__typename`, and
//! `_entities` finds each representation in the list of its type by the fields they share.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::dynamic::{
    Enum, EnumItem, Field, FieldFuture, FieldValue, InputObject, InputValue, Interface,
    InterfaceField, Object, ResolverContext, Scalar, Schema, TypeRef, Union,
};
use async_graphql::{Name, Value as GraphqlValue};
use axum::body::Bytes;
use cynic_parser::type_system::{Definition, TypeDefinition};
use serde_json::{Value, json};
use tributary_gateway::supergraph::planner::parse_operation;
use tributary_gateway::{Config, Engine, Request, Supergraph};
use tributary_schema::{SubgraphSource, compose};

/// A running federation.
pub(crate) struct Stack {
    engine: Engine,
    requests: BTreeMap<String, Arc<AtomicUsize>>,
}

impl Stack {
    /// Serves each `(name, sdl, data)` subgraph, composes them and starts the engine.
    pub(crate) async fn start(subgraphs: &[(&str, &str, Value)]) -> Stack {
        let mut sources = Vec::new();
        let mut requests = BTreeMap::new();
        for (name, sdl, data) in subgraphs {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/graphql", listener.local_addr().unwrap());
            let count = Arc::new(AtomicUsize::new(0));
            let schema = schema(sdl, data.clone());
            let counted = count.clone();
            let app = axum::Router::new().route(
                "/graphql",
                axum::routing::post(move |body: Bytes| {
                    answer(schema.clone(), counted.clone(), body)
                }),
            );
            tokio::spawn(async move { axum::serve(listener, app).await });
            sources.push(SubgraphSource::new(*name, url, *sdl));
            requests.insert((*name).to_owned(), count);
        }
        let supergraph = compose(&sources).unwrap_or_else(|e| panic!("composition failed: {e}"));
        let loaded = Supergraph::from_sdl(&supergraph).expect("the engine loads the supergraph");
        let engine = Engine::new(loaded, Config::default(), HashMap::new()).expect("engine");
        Stack { engine, requests }
    }

    /// Runs a query through the engine; its JSON answer.
    pub(crate) async fn query(&self, query: &str) -> Value {
        let request = Request {
            query: Some(query.to_owned()),
            ..Request::default()
        };
        let response = self.engine.run(request).await;
        serde_json::from_slice(&response.body).expect("the engine answers JSON")
    }

    /// How many requests each subgraph has received, then starts counting again.
    pub(crate) fn requests(&self) -> Value {
        let counts: serde_json::Map<String, Value> = self
            .requests
            .iter()
            .map(|(name, count)| (name.clone(), json!(count.swap(0, Ordering::SeqCst))))
            .collect();
        Value::Object(counts)
    }
}

/// Plans an operation with the engine's planner over a supergraph, as the engine will, and
/// outlines the plan: one line per Sequence/Parallel/Flatten/Fetch node, indented.
pub(crate) fn plan(supergraph: &str, operation: &str) -> String {
    let supergraph = Supergraph::from_sdl(supergraph).expect("the engine loads the supergraph");
    let document = parse_operation(operation, 10_000).expect("the operation parses");
    let planner = supergraph.planner();
    let operation = planner.normalize(&document, None).expect("it normalizes");
    let plan = planner.plan(&operation).expect("it plans");
    plan.to_string()
        .lines()
        .filter(|line| {
            let node = line.trim_start();
            ["Sequence", "Parallel", "Flatten", "Fetch(", "BatchFetch"]
                .iter()
                .any(|kind| node.starts_with(kind))
        })
        .map(|line| line.trim_end_matches(" {").to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn answer(schema: Schema, count: Arc<AtomicUsize>, body: Bytes) -> axum::Json<Value> {
    count.fetch_add(1, Ordering::SeqCst);
    let request: async_graphql::Request = serde_json::from_slice(&body).expect("a GraphQL request");
    let response = schema.execute(request).await;
    let v = serde_json::to_value(response).expect("a JSON response");
    if std::env::var("STACK_DEBUG").is_ok() {
        eprintln!("REQ {}\nRESP {v}", String::from_utf8_lossy(&body));
    }
    axum::Json(v)
}

/// What a named type is, for turning JSON into field values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Object,
    Abstract,
    Enum,
    Leaf,
}

/// The dynamic schema serving `sdl` from `data`.
fn schema(sdl: &str, data: Value) -> Schema {
    let document = cynic_parser::parse_type_system_document(sdl).expect("the SDL parses");
    let mut kinds: HashMap<String, Kind> = HashMap::new();
    let mut definitions: BTreeMap<String, Vec<TypeDefinition<'_>>> = BTreeMap::new();
    for definition in document.definitions() {
        let (Definition::Type(ty) | Definition::TypeExtension(ty)) = definition else {
            continue;
        };
        let kind = match ty {
            TypeDefinition::Object(_) => Kind::Object,
            TypeDefinition::Interface(_) | TypeDefinition::Union(_) => Kind::Abstract,
            TypeDefinition::Enum(_) => Kind::Enum,
            _ => Kind::Leaf,
        };
        kinds.insert(ty.name().to_owned(), kind);
        definitions
            .entry(ty.name().to_owned())
            .or_default()
            .push(ty);
    }
    let kinds = Arc::new(kinds);
    let data = Arc::new(data);
    let mut builder = Schema::build("Query", None, None).enable_federation();
    if !definitions.contains_key("Query") {
        builder = builder.register(Object::new("Query"));
    }
    for (name, parts) in &definitions {
        match parts[0] {
            TypeDefinition::Object(_) => {
                let mut object = Object::new(name);
                for part in parts {
                    let TypeDefinition::Object(part) = part else {
                        continue;
                    };
                    for key in part.directives().filter(|d| d.name().ends_with("key")) {
                        let fields = key.arguments().find(|a| a.name() == "fields");
                        if let Some(fields) =
                            fields.and_then(|a| a.value().as_str().map(str::to_owned))
                        {
                            object = object.key(fields);
                        }
                    }
                    for interface in part.implements_interfaces() {
                        object = object.implement(interface);
                    }
                    for field in part.fields() {
                        let ty = type_ref(&field.ty());
                        let mut built = if name == "Query" {
                            root_field(
                                field.name(),
                                ty,
                                field.ty().is_list(),
                                field.ty().name(),
                                &data,
                                &kinds,
                            )
                        } else {
                            object_field(field.name(), ty, field.ty().name(), &kinds)
                        };
                        for argument in field.arguments() {
                            built = built.argument(InputValue::new(
                                argument.name(),
                                type_ref(&argument.ty()),
                            ));
                        }
                        object = object.field(built);
                    }
                }
                builder = builder.register(object);
            }
            TypeDefinition::Interface(_) => {
                let mut interface = Interface::new(name);
                for part in parts {
                    let TypeDefinition::Interface(part) = part else {
                        continue;
                    };
                    for field in part.fields() {
                        interface = interface
                            .field(InterfaceField::new(field.name(), type_ref(&field.ty())));
                    }
                }
                builder = builder.register(interface);
            }
            TypeDefinition::Union(_) => {
                let mut union = Union::new(name);
                for part in parts {
                    let TypeDefinition::Union(part) = part else {
                        continue;
                    };
                    for member in part.members() {
                        union = union.possible_type(member.name());
                    }
                }
                builder = builder.register(union);
            }
            TypeDefinition::Enum(_) => {
                let mut enumeration = Enum::new(name);
                for part in parts {
                    let TypeDefinition::Enum(part) = part else {
                        continue;
                    };
                    for value in part.values() {
                        enumeration = enumeration.item(EnumItem::new(value.value()));
                    }
                }
                builder = builder.register(enumeration);
            }
            TypeDefinition::InputObject(_) => {
                let mut input = InputObject::new(name);
                for part in parts {
                    let TypeDefinition::InputObject(part) = part else {
                        continue;
                    };
                    for field in part.fields() {
                        input = input.field(InputValue::new(field.name(), type_ref(&field.ty())));
                    }
                }
                builder = builder.register(input);
            }
            TypeDefinition::Scalar(_) => builder = builder.register(Scalar::new(name)),
        }
    }
    let entities = data.clone();
    builder
        .entity_resolver(move |ctx| {
            let data = entities.clone();
            FieldFuture::new(async move { resolve_entities(&ctx, &data) })
        })
        .finish()
        .expect("the dynamic schema builds")
}

fn type_ref(ty: &cynic_parser::type_system::Type<'_>) -> TypeRef {
    use cynic_parser::common::WrappingType;
    let wrappers: Vec<WrappingType> = ty.wrappers().collect();
    let mut built = TypeRef::named(ty.name());
    for wrapper in wrappers.iter().rev() {
        built = match wrapper {
            WrappingType::NonNull => TypeRef::NonNull(Box::new(built)),
            WrappingType::List => TypeRef::List(Box::new(built)),
        };
    }
    built
}

/// A field of an object, read from its JSON.
fn object_field(name: &str, ty: TypeRef, named: &str, kinds: &Arc<HashMap<String, Kind>>) -> Field {
    let (field, named, kinds) = (name.to_owned(), named.to_owned(), kinds.clone());
    Field::new(name, ty, move |ctx| {
        let (field, named, kinds) = (field.clone(), named.clone(), kinds.clone());
        FieldFuture::new(async move {
            let parent = ctx.parent_value.try_downcast_ref::<Value>()?;
            Ok(field_value(
                parent.get(&field).unwrap_or(&Value::Null),
                &named,
                &kinds,
            ))
        })
    })
}

/// A root field, answered from `data["Query"]` and filtered by its arguments.
fn root_field(
    name: &str,
    ty: TypeRef,
    is_list: bool,
    named: &str,
    data: &Arc<Value>,
    kinds: &Arc<HashMap<String, Kind>>,
) -> Field {
    let (field, named, kinds, data) = (
        name.to_owned(),
        named.to_owned(),
        kinds.clone(),
        data.clone(),
    );
    Field::new(name, ty, move |ctx| {
        let (field, named, kinds, data) =
            (field.clone(), named.clone(), kinds.clone(), data.clone());
        FieldFuture::new(async move {
            let mut value = data["Query"].get(&field).cloned().unwrap_or(Value::Null);
            if let Value::Array(items) = &mut value {
                for (argument, given) in ctx.args.iter() {
                    let given = given.as_value().clone().into_json()?;
                    items.retain(|item| item.get(argument.as_str()).is_none_or(|v| *v == given));
                }
                if !is_list {
                    value = items.first().cloned().unwrap_or(Value::Null);
                }
            }
            Ok(field_value(&value, &named, &kinds))
        })
    })
}

fn resolve_entities(
    ctx: &ResolverContext<'_>,
    data: &Value,
) -> async_graphql::Result<Option<FieldValue<'static>>> {
    let mut found = Vec::new();
    for representation in ctx.args.try_get("representations")?.list()?.iter() {
        let representation = representation.as_value().clone().into_json()?;
        let typename = representation["__typename"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let entity = data[typename.as_str()]
            .as_array()
            .and_then(|all| all.iter().find(|e| matches(&representation, e)));
        found.push(match entity {
            Some(entity) => FieldValue::owned_any(entity.clone()).with_type(typename),
            None => FieldValue::NULL,
        });
    }
    Ok(Some(FieldValue::list(found)))
}

/// Whether an entity has every field of a representation it has at all, and one at least.
fn matches(representation: &Value, entity: &Value) -> bool {
    let Some(fields) = representation.as_object() else {
        return false;
    };
    let shared: Vec<_> = fields
        .iter()
        .filter(|(name, _)| *name != "__typename")
        .filter_map(|(name, value)| Some((value, entity.get(name)?)))
        .collect();
    !shared.is_empty() && shared.iter().all(|(wanted, have)| contains(wanted, have))
}

fn contains(wanted: &Value, have: &Value) -> bool {
    match (wanted, have) {
        (Value::Object(wanted), Value::Object(have)) => wanted
            .iter()
            .all(|(k, v)| have.get(k).is_some_and(|h| contains(v, h))),
        _ => wanted == have,
    }
}

/// A JSON value as the field value of a field whose named type is `named`.
fn field_value(
    value: &Value,
    named: &str,
    kinds: &HashMap<String, Kind>,
) -> Option<FieldValue<'static>> {
    let kind = kinds.get(named).copied().unwrap_or(Kind::Leaf);
    match value {
        Value::Null => None,
        Value::Array(items) => {
            Some(FieldValue::list(items.iter().map(|item| {
                field_value(item, named, kinds).unwrap_or(FieldValue::NULL)
            })))
        }
        Value::Object(object) => {
            let resolved = FieldValue::owned_any(value.clone());
            match (kind, object.get("__typename").and_then(Value::as_str)) {
                (Kind::Abstract, Some(typename)) => Some(resolved.with_type(typename.to_owned())),
                _ => Some(resolved),
            }
        }
        Value::String(text) if kind == Kind::Enum => {
            Some(FieldValue::value(GraphqlValue::Enum(Name::new(text))))
        }
        leaf => GraphqlValue::from_json(leaf.clone())
            .ok()
            .map(FieldValue::value),
    }
}
