//! A tree written back as YAML or JSON, for `compose config`: mappings in their order, a
//! scalar plain when YAML would read it back as the same string (quoted otherwise), a quoted
//! one that looks like a number or boolean kept a string.

use crate::tree::{Node, Value};

/// The tree as a YAML document.
pub fn yaml(n: &Node) -> String {
    let mut out = String::new();
    match &n.value {
        Value::Map(entries) if !entries.is_empty() => map(entries, 0, &mut out),
        Value::Seq(items) if !items.is_empty() => seq(items, 0, &mut out),
        _ => {
            out.push_str(&scalar(n));
            out.push('\n');
        }
    }
    out
}

fn map(entries: &[(String, Node)], indent: usize, out: &mut String) {
    for (k, v) in entries {
        out.push_str(&" ".repeat(indent));
        out.push_str(&key(k));
        out.push(':');
        value(v, indent, out);
    }
}

fn seq(items: &[Node], indent: usize, out: &mut String) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match &item.value {
            Value::Map(entries) if !entries.is_empty() => {
                // The first entry on the dash's line, the others under it.
                let (first, rest) = entries.split_first().expect("not empty");
                out.push(' ');
                out.push_str(&key(&first.0));
                out.push(':');
                value(&first.1, indent + 2, out);
                map(rest, indent + 2, out);
            }
            _ => value(item, indent, out),
        }
    }
}

/// What follows `key:` or `-`: a scalar on the line, or a block below it.
fn value(v: &Node, indent: usize, out: &mut String) {
    match &v.value {
        Value::Map(entries) if !entries.is_empty() => {
            out.push('\n');
            map(entries, indent + 2, out);
        }
        Value::Seq(items) if !items.is_empty() => {
            out.push('\n');
            seq(items, indent + 2, out);
        }
        Value::Map(_) => out.push_str(" {}\n"),
        Value::Seq(_) => out.push_str(" []\n"),
        Value::Scalar { .. } if v.is_null() => out.push_str(" null\n"),
        Value::Scalar { .. } => {
            out.push(' ');
            out.push_str(&scalar(v));
            out.push('\n');
        }
    }
}

fn key(k: &str) -> String {
    if plain_safe(k) {
        k.to_string()
    } else {
        quoted(k)
    }
}

fn scalar(n: &Node) -> String {
    match &n.value {
        Value::Scalar { text, plain } => {
            let kept_plain = *plain && !text.contains('\n');
            if kept_plain || (plain_safe(text) && crate::schema::scalar_kind(text) == "string") {
                text.clone()
            } else {
                quoted(text)
            }
        }
        _ => String::new(),
    }
}

/// Whether a string reads back as itself unquoted.
fn plain_safe(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with([
            ' ', '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@',
            '`',
        ])
        && !s.ends_with([' ', ':'])
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.contains(['\n', '\t'])
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// The tree as JSON (scalars typed as YAML's core schema types them).
pub fn json(n: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match &n.value {
        Value::Map(entries) => J::Object(entries.iter().map(|(k, v)| (k.clone(), json(v))).collect()),
        Value::Seq(items) => J::Array(items.iter().map(json).collect()),
        Value::Scalar { text, plain: false } => J::String(text.clone()),
        Value::Scalar { text, plain: true } => match crate::schema::scalar_kind(text) {
            "null" => J::Null,
            "boolean" => J::Bool(text.eq_ignore_ascii_case("true")),
            "integer" => text.parse::<i64>().map(J::from).unwrap_or_else(|_| J::String(text.clone())),
            "number" => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| J::String(text.clone()), J::Number),
            _ => J::String(text.clone()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::parse;

    #[test]
    fn a_tree_reads_back_as_itself() {
        let text = "name: app\nservices:\n  web:\n    image: \"busybox:1\"\n    command: [sh, -c, \"echo 'hi'; exit 0\"]\n    environment: {A: \"1\", B: null, C: 'two words'}\n    ports:\n      - target: 80\n        published: \"8080\"\n    labels: []\n    x-empty: {}\n";
        let tree = parse(text, "c.yml").unwrap();
        let written = yaml(&tree);
        assert_eq!(
            written,
            "name: app\nservices:\n  web:\n    image: busybox:1\n    command:\n      - sh\n      - -c\n      - echo 'hi'; exit 0\n    environment:\n      A: \"1\"\n      B: null\n      C: two words\n    ports:\n      - target: 80\n        published: \"8080\"\n    labels: []\n    x-empty: {}\n"
        );
        assert_eq!(json(&parse(&written, "again.yml").unwrap()), json(&tree));
        assert_eq!(
            json(&tree)["services"]["web"]["ports"][0],
            serde_json::json!({"target": 80, "published": "8080"})
        );
    }
}
