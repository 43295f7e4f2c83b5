//! A compose file as a plain tree, the form every loading pass works on (as compose-go's
//! passes work on yaml.v3 nodes): mappings in their order, sequences, scalars as written
//! (their text and whether they were quoted, so `3.10` stays `3.10` and `"1"` stays a string),
//! each node with its line and column and its local tag (`!reset`, `!override`). Anchors and
//! aliases are resolved, and YAML merge keys (`<<: *base`) applied, as Compose applies them;
//! a key given twice in one mapping is an error naming both lines.

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle};

use crate::ComposeError;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    /// A local tag (`reset` for `!reset`), if any.
    pub tag: Option<String>,
    /// Where it is (line and column, from 1): its key's position in a mapping, else where it
    /// starts; what an error about it points at.
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text as written; `plain` when it was not quoted nor a block (so it may be a number, a
    /// boolean or null).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Entries in the file's order, keys unique.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The entry `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The entry `key` of a mapping, to change it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.value {
            Value::Map(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a scalar.
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Whether it is YAML's null (`~`, `null`, or nothing), unquoted.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }
}

/// A tree as compact text for tests: `{k: v, …}`, `[a, …]`, scalars as written.
#[cfg(test)]
pub(crate) fn show(n: &Node) -> String {
    match &n.value {
        Value::Scalar { text, .. } => text.clone(),
        Value::Seq(items) => format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(", ")),
        Value::Map(entries) => {
            format!(
                "{{{}}}",
                entries.iter().map(|(k, v)| format!("{k}: {}", show(v))).collect::<Vec<_>>().join(", ")
            )
        }
    }
}

/// Reads `text` (the file `file`) into a tree; an empty file is an empty mapping.
pub fn parse(text: &str, file: &str) -> Result<Node, ComposeError> {
    let mut b = Builder { file, anchors: Vec::new(), stack: Vec::new(), root: None, documents: 0 };
    for next in Parser::new_from_str(text) {
        let (event, span) = next.map_err(|e| ComposeError::Yaml {
            file: file.to_string(),
            line: e.marker().line(),
            col: e.marker().col() + 1,
            why: e.info(),
        })?;
        b.event(event, span.start.line(), span.start.col() + 1)?;
    }
    Ok(b.root.unwrap_or(Node { value: Value::Map(Vec::new()), tag: None, line: 1, col: 1 }))
}

/// A collection being read: the node so far, the anchor it defines, and for a mapping the key
/// waiting for its value.
struct Open {
    node: Node,
    anchor: usize,
    key: Option<Node>,
    /// Merge keys' mappings, applied when the mapping ends (its own keys win).
    merges: Vec<Node>,
}

struct Builder<'a> {
    file: &'a str,
    anchors: Vec<(usize, Node)>,
    stack: Vec<Open>,
    root: Option<Node>,
    documents: usize,
}

fn local_tag(tag: Option<&serde_saphyr::granit_parser::Tag>) -> Option<String> {
    let t = tag?;
    (t.handle() == "!").then(|| t.suffix().to_string())
}

impl Builder<'_> {
    fn error(&self, line: usize, col: usize, why: impl Into<String>) -> ComposeError {
        ComposeError::Yaml { file: self.file.to_string(), line, col, why: why.into() }
    }

    fn event(&mut self, event: Event<'_>, line: usize, col: usize) -> Result<(), ComposeError> {
        match event {
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(self.error(line, col, "a compose file holds one YAML document"));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let plain = matches!(style, ScalarStyle::Plain);
                let node = Node {
                    value: Value::Scalar { text: text.into_owned(), plain },
                    tag: local_tag(tag.as_deref()),
                    line,
                    col,
                };
                if anchor != 0 {
                    self.anchors.push((anchor, node.clone()));
                }
                self.add(node)?;
            }
            Event::Alias(id) => {
                let found = self.anchors.iter().rev().find(|(a, _)| *a == id).map(|(_, n)| n.clone());
                let node = found
                    .ok_or_else(|| self.error(line, col, "an alias names no anchor defined before it"))?;
                self.add(node)?;
            }
            Event::SequenceStart(_, anchor, tag) => {
                let node = Node { value: Value::Seq(Vec::new()), tag: local_tag(tag.as_deref()), line, col };
                self.stack.push(Open { node, anchor, key: None, merges: Vec::new() });
            }
            Event::MappingStart(_, anchor, tag) => {
                let node = Node { value: Value::Map(Vec::new()), tag: local_tag(tag.as_deref()), line, col };
                self.stack.push(Open { node, anchor, key: None, merges: Vec::new() });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let open = self.stack.pop().expect("an end closes what started");
                let mut node = open.node;
                if let Value::Map(entries) = &mut node.value {
                    // Merged mappings give the keys the mapping does not have, the first
                    // merged first.
                    for m in open.merges {
                        if let Value::Map(more) = m.value {
                            for (k, v) in more {
                                if !entries.iter().any(|(e, _)| *e == k) {
                                    entries.push((k, v));
                                }
                            }
                        }
                    }
                }
                if open.anchor != 0 {
                    self.anchors.push((open.anchor, node.clone()));
                }
                self.add(node)?;
            }
            _ => {}
        }
        Ok(())
    }
}

impl Builder<'_> {
    /// Puts a finished node where it belongs: the root, a sequence's next item, a mapping's
    /// key or the value of the key waiting.
    fn add(&mut self, node: Node) -> Result<(), ComposeError> {
        let file = self.file;
        let Some(open) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match &mut open.node.value {
            Value::Seq(items) => items.push(node),
            Value::Map(entries) => match open.key.take() {
                None => open.key = Some(node),
                Some(key) => {
                    let name = match &key.value {
                        Value::Scalar { text, .. } => text.clone(),
                        _ => {
                            return Err(ComposeError::Yaml {
                                file: file.to_string(),
                                line: key.line,
                                col: key.col,
                                why: "a mapping key must be a string".into(),
                            })
                        }
                    };
                    if name == "<<" && matches!(key.value, Value::Scalar { plain: true, .. }) {
                        let merged = match node.value {
                            Value::Map(_) => vec![node],
                            Value::Seq(items) if items.iter().all(|i| matches!(i.value, Value::Map(_))) => {
                                items
                            }
                            _ => {
                                return Err(ComposeError::Yaml {
                                    file: file.to_string(),
                                    line: node.line,
                                    col: node.col,
                                    why: "a merge key (<<) takes a mapping or a list of mappings".into(),
                                })
                            }
                        };
                        open.merges.extend(merged);
                        return Ok(());
                    }
                    if let Some((_, first)) = entries.iter().find(|(k, _)| *k == name) {
                        return Err(ComposeError::Yaml {
                            file: file.to_string(),
                            line: key.line,
                            col: key.col,
                            why: format!("key {name:?} is already set on line {}", first.line),
                        });
                    }
                    let mut node = node;
                    (node.line, node.col) = (key.line, key.col);
                    entries.push((name, node));
                }
            },
            Value::Scalar { .. } => unreachable!("only collections are open"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(text: &str, plain: bool) -> Value {
        Value::Scalar { text: text.into(), plain }
    }

    #[test]
    fn keeps_text_quotes_positions_and_tags() {
        let t = parse("version: 3.10\nservices:\n  web:\n    image: \"1\"\n    ports: !reset []\n    command: |\n      run\n", "c.yml").unwrap();
        assert_eq!(t.get("version").unwrap().value, scalar("3.10", true));
        let web = t.get("services").unwrap().get("web").unwrap();
        // A mapping's entry is where its key is.
        assert_eq!((web.line, web.col), (3, 3));
        let image = web.get("image").unwrap();
        assert_eq!((image.value.clone(), image.line, image.col), (scalar("1", false), 4, 5));
        let ports = web.get("ports").unwrap();
        assert_eq!((ports.tag.as_deref(), &ports.value), (Some("reset"), &Value::Seq(Vec::new())));
        assert_eq!(web.get("command").unwrap().value, scalar("run\n", false));
        assert!(parse("", "c.yml").unwrap().get("services").is_none());
        assert!(parse("a: ~\nb:\n", "c.yml").unwrap().get("b").unwrap().is_null());
    }

    #[test]
    fn resolves_anchors_and_merge_keys() {
        let text = "x-base: &base\n  image: busybox\n  restart: always\nservices:\n  a:\n    <<: *base\n    restart: \"no\"\n  b: *base\n";
        let t = parse(text, "c.yml").unwrap();
        let a = t.get("services").unwrap().get("a").unwrap();
        let Value::Map(entries) = &a.value else { panic!() };
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["restart", "image"]);
        assert_eq!(a.get("restart").unwrap().text(), Some("no"));
        assert_eq!(
            t.get("services").unwrap().get("b").unwrap().get("image").unwrap().text(),
            Some("busybox")
        );
    }

    #[test]
    fn says_where_yaml_is_wrong() {
        let cases = [
            ("services:\n  a: 1\n  a: 2\n", 3, 3, "key \"a\" is already set on line 2"),
            ("a: *nothing\n", 1, 4, "while parsing node, found unknown anchor"),
            ("a: 1\n---\nb: 2\n", 2, 1, "a compose file holds one YAML document"),
            ("a:\n  <<: 1\n", 2, 7, "a merge key (<<) takes a mapping or a list of mappings"),
        ];
        for (text, line, col, why) in cases {
            match parse(text, "c.yml") {
                Err(ComposeError::Yaml { file, line: l, col: c, why: w }) => {
                    assert_eq!((file.as_str(), l, c, w.as_str()), ("c.yml", line, col, why), "{text:?}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        assert!(matches!(parse("a: [1, 2\n", "c.yml"), Err(ComposeError::Yaml { .. })));
    }
}
