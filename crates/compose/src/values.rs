//! Values the typed model reads in more than one form: a command given as a string (split as
//! Compose splits it, with go-shellwords' rules, never through a shell), and the
//! `list_or_dict` forms of `environment`, `labels`, `sysctls` and build args (`[K=V, K]` or
//! `{K: V, K: null}`).

use crate::tree::{Node, Value};
use crate::ComposeError;

/// A command line split into words: blanks separate them; single quotes keep everything;
/// double quotes keep everything but `\"`, `\\`, `\$` and `` \` ``; a backslash outside quotes
/// keeps the next character (and joins lines before a newline).
pub fn shell_split(line: &str) -> Result<Vec<String>, ComposeError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(n) => word.push(n),
                    None => word.push('\\'),
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(n) => word.push(n),
                        None => return Err(unterminated(line)),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.peek() {
                            Some(&n @ ('"' | '\\' | '$' | '`')) => {
                                word.push(n);
                                chars.next();
                            }
                            _ => word.push('\\'),
                        },
                        Some(n) => word.push(n),
                        None => return Err(unterminated(line)),
                    }
                }
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

fn unterminated(line: &str) -> ComposeError {
    ComposeError::Short { what: "command", spec: line.to_string(), why: "a quote is not closed".into() }
}

/// A `list_or_dict` as pairs in order: `K=V` and `{K: V}` give a value, `K` and `{K: null}`
/// none.
pub fn pairs(n: &Node) -> Vec<(String, Option<String>)> {
    match &n.value {
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| (k.clone(), if v.is_null() { None } else { v.text().map(String::from) }))
            .collect(),
        Value::Seq(items) => items
            .iter()
            .filter_map(Node::text)
            .map(|t| match t.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (t.to_string(), None),
            })
            .collect(),
        Value::Scalar { .. } => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_as_compose_splits_them() {
        let cases: &[(&str, &[&str])] = &[
            ("echo hello", &["echo", "hello"]),
            ("  sh  -c   'echo $HOME; exit 1'  ", &["sh", "-c", "echo $HOME; exit 1"]),
            (r#"echo "a \"quoted\" \$x" b\ c"#, &["echo", "a \"quoted\" $x", "b c"]),
            (r#"printf "%s\n" x"#, &["printf", "%s\\n", "x"]),
            ("a''b \"\"", &["ab", ""]),
            ("line \\\nnext", &["line", "next"]),
            ("", &[]),
        ];
        for (line, want) in cases {
            assert_eq!(shell_split(line).unwrap(), *want, "{line:?}");
        }
        assert_eq!(
            shell_split("echo 'open").unwrap_err().to_string(),
            "invalid command \"echo 'open\": a quote is not closed"
        );
    }

    #[test]
    fn lists_and_dicts_read_alike() {
        let tree = crate::tree::parse(
            "a: [K=V, EMPTY=, BARE, X=a=b]\nb: {K: V, EMPTY: '', BARE: null, N: 1}\n",
            "c.yml",
        )
        .unwrap();
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            pairs(tree.get("a").unwrap()),
            [
                ("K".into(), some("V")),
                ("EMPTY".into(), some("")),
                ("BARE".into(), None),
                ("X".into(), some("a=b"))
            ]
        );
        assert_eq!(
            pairs(tree.get("b").unwrap()),
            [
                ("K".into(), some("V")),
                ("EMPTY".into(), some("")),
                ("BARE".into(), None),
                ("N".into(), some("1"))
            ]
        );
    }
}
