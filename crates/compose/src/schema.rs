//! A project's merged tree checked against the Compose Specification's JSON schema
//! (`compose-spec.json`, the spec's own, kept identical to `shared/reference/`), before anything
//! is decoded: an unknown or mistyped key is an error naming the file, the line and the key.
//!
//! The schema uses a small part of JSON Schema (draft 7): `$ref`, `type`, `properties`,
//! `patternProperties`, `additionalProperties`, `required`, `items`, `uniqueItems`, `enum`,
//! `oneOf`, `minimum`, `maximum`, `pattern`; that part is checked here, on the tree itself, so
//! that each error keeps its position. Scalars have the types YAML 1.2's core schema gives them
//! (a quoted scalar is a string). `oneOf` accepts a value that one of its forms accepts.

use std::sync::OnceLock;

use serde_json::Value as Json;

use crate::tree::{Node, Value};
use crate::ComposeError;

const SPEC: &str = include_str!("compose-spec.json");

fn spec() -> &'static Json {
    static SPEC_JSON: OnceLock<Json> = OnceLock::new();
    SPEC_JSON.get_or_init(|| serde_json::from_str(SPEC).expect("the compose schema is JSON"))
}

/// Checks the tree of the file (or files) `file` against the schema.
pub fn validate(tree: &Node, file: &str) -> Result<(), ComposeError> {
    check(tree, spec(), &mut Vec::new()).map_err(|i| ComposeError::Schema {
        file: file.to_string(),
        line: i.line,
        col: i.col,
        path: i.path,
        why: i.why,
    })
}

/// What is wrong, where.
#[derive(Debug)]
struct Issue {
    line: usize,
    col: usize,
    path: String,
    why: String,
}

fn issue(n: &Node, path: &[String], why: impl Into<String>) -> Issue {
    let path = if path.is_empty() { "(top level)".to_string() } else { path.join(".") };
    Issue { line: n.line, col: n.col, path, why: why.into() }
}

/// A node's JSON type, as YAML 1.2's core schema resolves a plain scalar.
fn type_of(n: &Node) -> &'static str {
    match &n.value {
        Value::Map(_) => "object",
        Value::Seq(_) => "array",
        Value::Scalar { plain: false, .. } => "string",
        Value::Scalar { text, plain: true } => scalar_kind(text),
    }
}

/// The JSON type YAML 1.2's core schema gives a plain scalar.
pub fn scalar_kind(t: &str) -> &'static str {
    match t {
        "" | "~" | "null" | "Null" | "NULL" => "null",
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => "boolean",
        _ if is_int(t) => "integer",
        _ if is_float(t) => "number",
        _ => "string",
    }
}

fn is_int(t: &str) -> bool {
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if let Some(oct) = t.strip_prefix("0o") {
        return !oct.is_empty() && oct.chars().all(|c| c.is_digit(8));
    }
    if let Some(hex) = t.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
}

fn is_float(t: &str) -> bool {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    matches!(body, ".inf" | ".Inf" | ".INF")
        || matches!(t, ".nan" | ".NaN" | ".NAN")
        || (body.chars().any(|c| c.is_ascii_digit())
            && body.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
            && body.parse::<f64>().is_ok())
}

fn accepts_type(wanted: &str, got: &str) -> bool {
    wanted == got || (wanted == "number" && got == "integer")
}

fn type_name(t: &str) -> &str {
    match t {
        "object" => "a mapping",
        "array" => "a list",
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean",
        "null" => "null",
        other => other,
    }
}

/// The schema a `$ref` names (`#/definitions/…`).
fn resolve(schema: &Json) -> &Json {
    match schema.get("$ref").and_then(Json::as_str).and_then(|r| r.strip_prefix("#/")) {
        Some(pointer) => spec().pointer(&format!("/{pointer}")).unwrap_or(schema),
        None => schema,
    }
}

/// Whether `text` matches the schema's `pattern` (each pattern compiled once).
fn pattern_matches(pattern: &str, text: &str) -> bool {
    static COMPILED: OnceLock<std::sync::Mutex<std::collections::HashMap<String, Option<regex::Regex>>>> =
        OnceLock::new();
    let mut all = COMPILED.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    let re = all.entry(pattern.to_string()).or_insert_with(|| regex::Regex::new(pattern).ok());
    re.as_ref().is_some_and(|r| r.is_match(text))
}

fn check(n: &Node, schema: &Json, path: &mut Vec<String>) -> Result<(), Issue> {
    let schema = resolve(schema);
    let got = type_of(n);
    if let Some(t) = schema.get("type") {
        let wanted: Vec<&str> = match t {
            Json::String(s) => vec![s.as_str()],
            Json::Array(list) => list.iter().filter_map(Json::as_str).collect(),
            _ => Vec::new(),
        };
        if !wanted.is_empty() && !wanted.iter().any(|w| accepts_type(w, got)) {
            let names: Vec<&str> = wanted.iter().map(|w| type_name(w)).collect();
            return Err(issue(n, path, format!("must be {}", names.join(" or "))));
        }
    }
    if let Some(forms) = schema.get("oneOf").and_then(Json::as_array) {
        let mut first = None;
        for form in forms {
            match check(n, form, path) {
                Ok(()) => {
                    first = None;
                    break;
                }
                // The form of the node's own type says best what is wrong with it.
                Err(i) => {
                    let same_type = resolve(form).get("type").is_some_and(|t| match t {
                        Json::String(s) => accepts_type(s, got),
                        Json::Array(l) => l.iter().filter_map(Json::as_str).any(|s| accepts_type(s, got)),
                        _ => false,
                    });
                    if first.is_none() || same_type {
                        first = Some((i, same_type));
                    }
                }
            }
        }
        if let Some((i, same_type)) = first {
            return Err(if same_type { i } else { issue(n, path, "is not of an allowed form") });
        }
    }
    if let Some(values) = schema.get("enum").and_then(Json::as_array) {
        let text = n.text().unwrap_or_default();
        let ok = values.iter().any(|v| match v {
            Json::String(s) => s == text,
            Json::Null => n.is_null(),
            Json::Number(num) => text.parse::<f64>().ok() == num.as_f64(),
            Json::Bool(b) => text == if *b { "true" } else { "false" },
            _ => false,
        });
        if !ok {
            let shown: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            return Err(issue(n, path, format!("must be one of {}", shown.join(", "))));
        }
    }
    match &n.value {
        Value::Scalar { text, .. } => check_scalar(n, text, got, schema, path),
        Value::Seq(items) => check_items(items, schema, path),
        Value::Map(entries) => check_entries(n, entries, schema, path),
    }
}

fn check_scalar(n: &Node, text: &str, got: &str, schema: &Json, path: &[String]) -> Result<(), Issue> {
    if got == "string" {
        if let Some(p) = schema.get("pattern").and_then(Json::as_str) {
            if !pattern_matches(p, text) {
                return Err(issue(n, path, format!("{text:?} does not match {p:?}")));
            }
        }
    }
    if matches!(got, "integer" | "number") {
        let v: f64 = text.parse().unwrap_or(0.0);
        if let Some(min) = schema.get("minimum").and_then(Json::as_f64).filter(|m| v < *m) {
            return Err(issue(n, path, format!("must be at least {min}")));
        }
        if let Some(max) = schema.get("maximum").and_then(Json::as_f64).filter(|m| v > *m) {
            return Err(issue(n, path, format!("must be at most {max}")));
        }
    }
    Ok(())
}

fn check_items(items: &[Node], schema: &Json, path: &mut Vec<String>) -> Result<(), Issue> {
    if let Some(each) = schema.get("items") {
        for (i, item) in items.iter().enumerate() {
            path.push(i.to_string());
            let r = check(item, each, path);
            path.pop();
            r?;
        }
    }
    if schema.get("uniqueItems").and_then(Json::as_bool) == Some(true) {
        for (i, item) in items.iter().enumerate() {
            if items[..i].iter().any(|earlier| earlier.value == item.value) {
                return Err(issue(item, path, "has an item twice"));
            }
        }
    }
    Ok(())
}

fn check_entries(
    n: &Node,
    entries: &[(String, Node)],
    schema: &Json,
    path: &mut Vec<String>,
) -> Result<(), Issue> {
    if let Some(required) = schema.get("required").and_then(Json::as_array) {
        for r in required.iter().filter_map(Json::as_str) {
            if !entries.iter().any(|(k, _)| k == r) {
                return Err(issue(n, path, format!("{r:?} is required")));
            }
        }
    }
    let properties = schema.get("properties").and_then(Json::as_object);
    let patterns = schema.get("patternProperties").and_then(Json::as_object);
    let additional = schema.get("additionalProperties");
    for (k, v) in entries {
        let mut rule = properties.and_then(|p| p.get(k));
        if rule.is_none() {
            rule = patterns.and_then(|p| p.iter().find(|(pat, _)| pattern_matches(pat, k)).map(|(_, s)| s));
        }
        let rule = match (rule, additional) {
            (Some(r), _) => r,
            (None, Some(Json::Bool(false))) => {
                return Err(issue(v, path, format!("additional property {k:?} is not allowed")));
            }
            (None, Some(s @ Json::Object(_))) => s,
            (None, _) => continue,
        };
        path.push(k.clone());
        let r = check(v, rule, path);
        path.pop();
        r?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::parse;

    fn errors(text: &str) -> Result<(), String> {
        validate(&parse(text, "compose.yaml").unwrap(), "compose.yaml").map_err(|e| e.to_string())
    }

    #[test]
    fn the_schema_is_the_specs() {
        let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/reference/compose-spec.json");
        match std::fs::read_to_string(&shared) {
            Ok(text) => assert_eq!(text, SPEC, "src/compose-spec.json differs from {}", shared.display()),
            Err(_) => eprintln!("{} not found beside the repo: skipped", shared.display()),
        }
    }

    #[test]
    fn a_valid_project_passes() {
        let ok = "name: app\nversion: '3.8'\nx-common: &c {restart: always}\nservices:\n  web:\n    <<: *c\n    image: busybox\n    ports: [80, '8080:80', {target: 90, published: '9090'}]\n    environment: {A: 1, B: true, C: null}\n    depends_on: {db: {condition: service_healthy}}\n    healthcheck: {test: [CMD, 'true'], interval: 5s, retries: 3}\n    deploy: {replicas: 2, resources: {limits: {cpus: '0.5', memory: 64M}}}\n    x-note: anything\n  db:\n    image: db\n    command: run\nvolumes:\n  data: {}\nnetworks:\n  front:\nsecrets:\n  s: {file: ./s.txt}\n";
        assert_eq!(errors(ok), Ok(()));
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let cases = [
            ("services:\n  web:\n    imag: busybox\n", "compose.yaml: line 3, column 5: services.web: additional property \"imag\" is not allowed"),
            ("servics: {}\n", "compose.yaml: line 1, column 1: (top level): additional property \"servics\" is not allowed"),
            ("services:\n  web:\n    image: [busybox]\n", "compose.yaml: line 3, column 5: services.web.image: must be a string"),
            ("services:\n  web:\n    image: a\n    read_only: {a: 1}\n", "compose.yaml: line 4, column 5: services.web.read_only: must be a boolean or a string"),
            ("services:\n  web:\n    image: a\n    ports: 80\n", "compose.yaml: line 4, column 5: services.web.ports: must be a list"),
            ("services:\n  web:\n    image: a\n    volumes:\n      - {source: v, target: /v}\n", "compose.yaml: line 5, column 9: services.web.volumes.0: \"type\" is required"),
            ("services:\n  web:\n    image: a\n    depends_on: {db: {condition: whenever}}\n", "compose.yaml: line 4, column 23: services.web.depends_on.db.condition: must be one of \"service_started\", \"service_healthy\", \"service_completed_successfully\""),
            ("services:\n  web:\n    image: a\n    cap_add: [A, A]\n", "compose.yaml: line 4, column 18: services.web.cap_add: has an item twice"),
        ];
        for (text, want) in cases {
            assert_eq!(errors(text), Err(want.to_string()), "{text:?}");
        }
    }

    #[test]
    fn scalars_have_yaml_core_types() {
        for (t, want) in [
            ("80", "integer"),
            ("-1", "integer"),
            ("0x1F", "integer"),
            ("1.5", "number"),
            ("1e3", "number"),
            (".inf", "number"),
            ("true", "boolean"),
            ("yes", "string"),
            ("~", "null"),
            ("3.10.1", "string"),
            ("8080:80", "string"),
        ] {
            assert_eq!(scalar_kind(t), want, "{t}");
        }
    }
}
