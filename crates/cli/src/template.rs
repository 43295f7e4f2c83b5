//! `--format` and `inspect -f`: Go templates with Docker's functions, over the daemon's JSON,
//! and Docker's `table` and `json` directives.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::{Template, TemplateError, Value};

use crate::tabwriter::TabWriter;

/// What `--format` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// `table` (with the command's default columns when no template follows).
    Table(Option<String>),
    /// `json`: each item as one line of JSON.
    Json,
    /// A plain template, one output per item.
    Raw(String),
}

impl Format {
    /// `--format`'s value; empty means the command's default table.
    pub fn parse(text: &str) -> Format {
        let t = text.trim_start();
        if t.is_empty() || t == "table" {
            return Format::Table(None);
        }
        if t == "json" {
            return Format::Json;
        }
        if let Some(rest) = t.strip_prefix("table ") {
            return Format::Table(Some(rest.to_string()));
        }
        Format::Raw(text.to_string())
    }
}

/// A template compiled with Docker's functions.
pub struct Tmpl(Template);

impl Tmpl {
    pub fn new(src: &str) -> Result<Tmpl, String> {
        let src = unescape(&rewrite_label(src));
        Template::new("")
            .func("json", |a: &[Value]| Ok(Value::String(to_json(a.first().unwrap_or(&Value::Nil)).into())))
            .func("join", |a: &[Value]| {
                let sep = a.get(1).map(text).unwrap_or_default();
                Ok(Value::String(list(a.first()).iter().map(text).collect::<Vec<_>>().join(&sep).into()))
            })
            .func("split", |a: &[Value]| {
                let (s, sep) =
                    (a.first().map(text).unwrap_or_default(), a.get(1).map(text).unwrap_or_default());
                Ok(Value::List(
                    s.split(sep.as_str()).map(|p| Value::String(p.into())).collect::<Vec<_>>().into(),
                ))
            })
            .func("upper", |a: &[Value]| {
                Ok(Value::String(a.first().map(text).unwrap_or_default().to_uppercase().into()))
            })
            .func("lower", |a: &[Value]| {
                Ok(Value::String(a.first().map(text).unwrap_or_default().to_lowercase().into()))
            })
            .func("title", |a: &[Value]| {
                Ok(Value::String(title(&a.first().map(text).unwrap_or_default()).into()))
            })
            .func("pad", |a: &[Value]| {
                let s = a.first().map(text).unwrap_or_default();
                let (l, r) = (int(a.get(1)), int(a.get(2)));
                Ok(Value::String(format!("{}{s}{}", " ".repeat(l), " ".repeat(r)).into()))
            })
            .func("truncate", |a: &[Value]| {
                let s = a.first().map(text).unwrap_or_default();
                Ok(Value::String(s.chars().take(int(a.get(1))).collect::<String>().into()))
            })
            .func("__label", |a: &[Value]| {
                let key = a.get(1).map(text).unwrap_or_default();
                Ok(match a.first() {
                    Some(Value::Map(m)) => m.get(key.as_str()).cloned().unwrap_or(Value::String("".into())),
                    _ => Value::String("".into()),
                })
            })
            .parse(&src)
            .map(Tmpl)
            .map_err(|e| format!("template parsing error: {e}"))
    }

    pub fn render(&self, data: &Value) -> Result<String, String> {
        self.0.execute_to_string(data).map_err(|e: TemplateError| format!("template: {e}"))
    }
}

/// Docker's `.Label "key"` is a method with an argument, which templates over plain data do not
/// have: it becomes a call of `__label` on the item's hidden label map.
fn rewrite_label(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(i) = rest.find(".Label") {
        let after = &rest[i + ".Label".len()..];
        let word_ends = after.chars().next().is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let preceded = rest[..i].chars().last().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
        out.push_str(&rest[..i]);
        if word_ends && !preceded {
            out.push_str("__label .__labels");
        } else {
            out.push_str(".Label");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The CLI lets `\t` and `\n` be typed as escapes in `--format`.
fn unescape(src: &str) -> String {
    src.replace("\\t", "\t").replace("\\n", "\n")
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Nil => String::new(),
        v => v.to_string(),
    }
}

fn int(v: Option<&Value>) -> usize {
    match v {
        Some(Value::Int(i)) => (*i).max(0) as usize,
        Some(Value::Uint(u)) => *u as usize,
        Some(Value::Float(f)) => f.max(0.0) as usize,
        _ => 0,
    }
}

fn list(v: Option<&Value>) -> Vec<Value> {
    match v {
        Some(Value::List(l)) => l.to_vec(),
        Some(Value::Nil) | None => vec![],
        Some(v) => vec![v.clone()],
    }
}

fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

/// A template value as JSON, the way Go's encoder writes it (`<`, `>`, `&` escaped).
pub fn to_json(v: &Value) -> String {
    fn conv(v: &Value) -> serde_json::Value {
        match v {
            Value::Nil => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Uint(u) => (*u).into(),
            Value::Float(f) => {
                serde_json::Number::from_f64(*f).map(Into::into).unwrap_or(serde_json::Value::Null)
            }
            Value::String(s) => s.to_string().into(),
            Value::List(l) => l.iter().map(conv).collect(),
            // `__`-keys are berth's own helpers (the label map of `.Label`), not Docker's fields.
            Value::Map(m) => {
                let order = KEY_ORDER.with(|o| o.borrow().get(&(Arc::as_ptr(m) as usize)).cloned());
                let keys: Vec<Arc<str>> = match order {
                    Some(keys) => keys.to_vec(),
                    None => m.keys().cloned().collect(),
                };
                keys.iter()
                    .filter(|k| !k.starts_with("__"))
                    .filter_map(|k| Some((k.to_string(), conv(m.get(k)?))))
                    .collect::<serde_json::Map<_, _>>()
                    .into()
            }
            Value::Function(_) => serde_json::Value::Null,
        }
    }
    go_json(&conv(v))
}

/// JSON text with Go's HTML-safe escapes.
pub fn go_json(v: &serde_json::Value) -> String {
    serde_json::to_string(v)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

thread_local! {
    /// The key order of the maps made by [`from_json`], by the address of their shared map:
    /// template maps are sorted (as Go's are), but `{{json .X}}` of an object the daemon sent
    /// must print its keys as sent, as Go prints a struct's fields in declaration order.
    static KEY_ORDER: std::cell::RefCell<std::collections::HashMap<usize, Arc<[Arc<str>]>>> =
        Default::default();
}

/// The daemon's JSON as template data.
pub fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::Uint(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(0.0))
            }
        }
        serde_json::Value::String(s) => Value::String(s.as_str().into()),
        serde_json::Value::Array(a) => Value::List(a.iter().map(from_json).collect::<Vec<_>>().into()),
        serde_json::Value::Object(o) => {
            let keys: Arc<[Arc<str>]> = o.keys().map(|k| Arc::from(k.as_str())).collect();
            let map: BTreeMap<Arc<str>, Value> =
                keys.iter().cloned().zip(o.values().map(from_json)).collect();
            let map = Arc::new(map);
            KEY_ORDER.with(|order| order.borrow_mut().insert(Arc::as_ptr(&map) as usize, keys));
            Value::Map(map)
        }
    }
}

/// One item of a listing: its fields as Docker's formatter context names them, all strings,
/// the fields that are null in its JSON (`Platform` of `ps`), and the label map that `.Label`
/// reads.
pub struct Row {
    pub fields: Vec<(&'static str, String)>,
    pub nulls: &'static [&'static str],
    pub labels: BTreeMap<String, String>,
}

impl Row {
    fn value(&self) -> Value {
        let mut m: BTreeMap<Arc<str>, Value> =
            self.fields.iter().map(|(k, v)| (Arc::from(*k), Value::String(v.as_str().into()))).collect();
        m.extend(self.nulls.iter().map(|k| (Arc::from(*k), Value::Nil)));
        let labels: BTreeMap<Arc<str>, Value> = self
            .labels
            .iter()
            .map(|(k, v)| (Arc::from(k.as_str()), Value::String(v.as_str().into())))
            .collect();
        m.insert("__labels".into(), Value::Map(Arc::new(labels)));
        Value::Map(Arc::new(m))
    }

    /// `{{json .}}` and `--format json`: the fields in Docker's (sorted) order.
    fn json(&self) -> String {
        to_json(&self.value())
    }
}

/// Renders a listing: `default` is the command's table template, `headers` the column titles
/// of each field.
pub fn render_rows(
    format: &Format,
    default: &str,
    headers: &[(&str, &str)],
    rows: &[Row],
) -> Result<String, String> {
    match format {
        Format::Json => Ok(rows.iter().map(|r| r.json() + "\n").collect()),
        Format::Raw(src) => {
            let t = Tmpl::new(src)?;
            let mut out = String::new();
            for r in rows {
                out.push_str(&t.render(&r.value())?);
                out.push('\n');
            }
            Ok(out)
        }
        Format::Table(src) => {
            let src = src.as_deref().unwrap_or_else(|| default.strip_prefix("table ").unwrap_or(default));
            let t = Tmpl::new(src)?;
            let header: BTreeMap<Arc<str>, Value> = headers
                .iter()
                .map(|(k, v)| (Arc::from(*k), Value::String((*v).into())))
                .chain(std::iter::once((Arc::from("__labels"), Value::Map(Arc::new(BTreeMap::new())))))
                .collect();
            let mut text = t.render(&Value::Map(Arc::new(header))).unwrap_or_default();
            text.push('\n');
            for r in rows {
                text.push_str(&t.render(&r.value())?);
                text.push('\n');
            }
            Ok(TabWriter::default().format(&text))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, labels: &[(&str, &str)]) -> Row {
        Row {
            fields: vec![("ID", id.into()), ("Names", "web".into())],
            nulls: &[],
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn json_of_daemon_objects_keeps_their_key_order() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"IPAM":{"Config":[{"Subnet":"10.0.0.0/24","Gateway":"10.0.0.1"}]},"B":1,"A":2}"#,
        )
        .unwrap();
        let data = from_json(&v);
        let t = Tmpl::new("{{json .IPAM.Config}} {{json .}} {{range $k, $v := .}}{{$k}}{{end}}").unwrap();
        assert_eq!(
            t.render(&data).unwrap(),
            r#"[{"Subnet":"10.0.0.0/24","Gateway":"10.0.0.1"}] {"IPAM":{"Config":[{"Subnet":"10.0.0.0/24","Gateway":"10.0.0.1"}]},"B":1,"A":2} ABIPAM"#
        );
    }

    #[test]
    fn formats_parse() {
        assert_eq!(Format::parse(""), Format::Table(None));
        assert_eq!(Format::parse("table"), Format::Table(None));
        assert_eq!(Format::parse("json"), Format::Json);
        assert_eq!(Format::parse("table {{.ID}}"), Format::Table(Some("{{.ID}}".into())));
        assert_eq!(Format::parse("{{.ID}}"), Format::Raw("{{.ID}}".into()));
    }

    #[test]
    fn listings_render_as_dockers() {
        let rows = [row("abc", &[("tier", "front")]), row("def", &[])];
        let headers = [("ID", "CONTAINER ID"), ("Names", "NAMES")];
        let cases = [
            (Format::Table(None), "CONTAINER ID   NAMES\nabc            web\ndef            web\n"),
            (Format::Raw("{{.ID}}:{{.Label \"tier\"}}".into()), "abc:front\ndef:\n"),
            (Format::Raw("{{.ID | upper}} {{join (split .Names \"e\") \"-\"}}".into()), "ABC w-b\nDEF w-b\n"),
            (
                Format::Raw("{{pad .ID 1 2}}|{{truncate .Names 2}}|{{title \"hello world\"}}".into()),
                " abc  |we|Hello World\n def  |we|Hello World\n",
            ),
            (Format::Json, "{\"ID\":\"abc\",\"Names\":\"web\"}\n{\"ID\":\"def\",\"Names\":\"web\"}\n"),
            (
                Format::Table(Some("{{.Names}}\\t{{.ID}}".into())),
                "NAMES     CONTAINER ID\nweb       abc\nweb       def\n",
            ),
        ];
        for (f, want) in cases {
            assert_eq!(render_rows(&f, "table {{.ID}}\t{{.Names}}", &headers, &rows).unwrap(), want, "{f:?}");
        }
        assert!(render_rows(&Format::Raw("{{.ID".into()), "", &headers, &rows)
            .unwrap_err()
            .contains("template parsing error"));
    }

    #[test]
    fn inspect_templates_over_json() {
        let v = from_json(
            &serde_json::json!({"State": {"Running": true, "ExitCode": 0}, "Name": "/x", "Args": ["a", "b"], "Config": {"Env": ["A=<1>"]}}),
        );
        let render = |src: &str| Tmpl::new(src).unwrap().render(&v).unwrap();
        assert_eq!(render("{{.State.Running}} {{.State.ExitCode}} {{.Name}}"), "true 0 /x");
        assert_eq!(render("{{json .Args}}"), "[\"a\",\"b\"]");
        assert_eq!(render("{{json .Config.Env}}"), "[\"A=\\u003c1\\u003e\"]");
        assert_eq!(render("{{.Args}}"), "[a b]");
        assert_eq!(render("{{.Missing}}"), "<no value>");
    }
}
