//! Variables in a compose file's strings, as compose-go substitutes them: `$VAR` and `${VAR}`,
//! `${VAR:-default}` (unset or empty) and `${VAR-default}` (unset), `${VAR:+alt}` (set and not
//! empty) and `${VAR+alt}` (set), `${VAR:?message}` and `${VAR?message}` (an error naming the
//! variable), defaults and messages substituted in turn (`${A:-${B:-x}}`), `$$` for a `$`.
//! A name is `[_a-zA-Z][_a-zA-Z0-9]*`; any other `$` is an error, as it is for Compose. An
//! unset variable without a default is blank and noted, for the warning Compose prints.

use crate::tree::{Node, Value};
use crate::ComposeError;

/// A substituted string, and the variables it used that were not set (without a default).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Substituted {
    pub text: String,
    pub unset: Vec<String>,
}

/// The warning Compose prints for a variable that is not set.
pub fn unset_warning(name: &str) -> String {
    format!("The {name:?} variable is not set. Defaulting to a blank string.")
}

/// Substitutes the variables of `template`, `lookup` giving a variable's value (`None` when
/// it is not set).
pub fn substitute(
    template: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Substituted, ComposeError> {
    let mut unset = Vec::new();
    let text = expand(template, template, lookup, &mut unset)?;
    Ok(Substituted { text, unset })
}

/// Substitutes every scalar value of a compose file's tree in place (keys are left as they
/// are, as Compose leaves them): the variables that were not set. An error names the value's
/// path (`services.web.image`, `[]` for a list's items).
pub fn interpolate_tree(
    node: &mut Node,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, ComposeError> {
    let mut unset = Vec::new();
    walk(node, &mut Vec::new(), lookup, &mut unset)?;
    Ok(unset)
}

fn walk(
    node: &mut Node,
    path: &mut Vec<String>,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<(), ComposeError> {
    match &mut node.value {
        Value::Scalar { text, .. } => {
            if text.contains('$') {
                let done = substitute(text, lookup)
                    .map_err(|e| ComposeError::Interpolation { path: path.join("."), source: Box::new(e) })?;
                for name in done.unset {
                    if !unset.contains(&name) {
                        unset.push(name);
                    }
                }
                *text = done.text;
            }
        }
        Value::Seq(items) => {
            path.push("[]".into());
            for item in items {
                walk(item, path, lookup, unset)?;
            }
            path.pop();
        }
        Value::Map(entries) => {
            for (key, value) in entries {
                path.push(key.clone());
                walk(value, path, lookup, unset)?;
                path.pop();
            }
        }
    }
    Ok(())
}

fn is_name_start(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}

fn name_len(s: &[u8]) -> usize {
    match s.first() {
        Some(&c) if is_name_start(c) => {
            1 + s[1..].iter().take_while(|c| **c == b'_' || c.is_ascii_alphanumeric()).count()
        }
        _ => 0,
    }
}

/// What follows a braced variable's name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    DefaultIfEmpty,
    DefaultIfUnset,
    AltIfNotEmpty,
    AltIfSet,
    RequireNotEmpty,
    RequireSet,
}

fn op(s: &str) -> Option<(Op, usize)> {
    const OPS: [(&str, Op); 6] = [
        (":-", Op::DefaultIfEmpty),
        (":+", Op::AltIfNotEmpty),
        (":?", Op::RequireNotEmpty),
        ("-", Op::DefaultIfUnset),
        ("+", Op::AltIfSet),
        ("?", Op::RequireSet),
    ];
    OPS.iter().find(|(p, _)| s.starts_with(p)).map(|(p, o)| (*o, p.len()))
}

/// Where the argument starting at `from` ends: the first `}` that closes no `${` opened in it.
fn closing(s: &str, from: usize) -> Option<usize> {
    let b = s.as_bytes();
    let (mut depth, mut i) = (0usize, from);
    while i < b.len() {
        if b[i] == b'$' && b.get(i + 1) == Some(&b'{') {
            depth += 1;
            i += 2;
            continue;
        }
        if b[i] == b'}' {
            if depth == 0 {
                return Some(i);
            }
            depth -= 1;
        }
        i += 1;
    }
    None
}

fn expand(
    s: &str,
    whole: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<String, ComposeError> {
    let invalid = || ComposeError::InvalidTemplate { template: whole.to_string() };
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let value = |name: &str, unset: &mut Vec<String>| match lookup(name) {
        Some(v) => v,
        None => {
            if !unset.iter().any(|u| u == name) {
                unset.push(name.to_string());
            }
            String::new()
        }
    };
    while i < b.len() {
        let Some(at) = s[i..].find('$').map(|n| n + i) else {
            out.push_str(&s[i..]);
            break;
        };
        out.push_str(&s[i..at]);
        let rest = &b[at + 1..];
        if rest.first() == Some(&b'$') {
            out.push('$');
            i = at + 2;
            continue;
        }
        let n = name_len(rest);
        if n > 0 {
            out.push_str(&value(&s[at + 1..at + 1 + n], unset));
            i = at + 1 + n;
            continue;
        }
        if rest.first() != Some(&b'{') {
            return Err(invalid());
        }
        let name_at = at + 2;
        let n = name_len(&b[name_at..]);
        if n == 0 {
            return Err(invalid());
        }
        let name = &s[name_at..name_at + n];
        let after = name_at + n;
        if b.get(after) == Some(&b'}') {
            out.push_str(&value(name, unset));
            i = after + 1;
            continue;
        }
        let Some((op, len)) = op(&s[after..]) else { return Err(invalid()) };
        let end = closing(s, after + len).ok_or_else(invalid)?;
        // The argument is substituted first, whether it is used or not, as Compose does.
        let arg = expand(&s[after + len..end], whole, lookup, unset)?;
        let current = lookup(name);
        let got = match (op, current) {
            (Op::DefaultIfEmpty, Some(v)) if !v.is_empty() => v,
            (Op::DefaultIfEmpty, _) => arg,
            (Op::DefaultIfUnset, Some(v)) => v,
            (Op::DefaultIfUnset, None) => arg,
            (Op::AltIfNotEmpty, Some(v)) if !v.is_empty() => arg,
            (Op::AltIfNotEmpty, v) => v.unwrap_or_default(),
            (Op::AltIfSet, Some(_)) => arg,
            (Op::AltIfSet, None) => String::new(),
            (Op::RequireNotEmpty, Some(v)) if !v.is_empty() => v,
            (Op::RequireSet, Some(v)) => v,
            (Op::RequireNotEmpty | Op::RequireSet, _) => {
                return Err(ComposeError::RequiredVariable { name: name.to_string(), message: arg })
            }
        };
        out.push_str(&got);
        i = end + 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "FOO" => Some("first".into()),
            "BAR" => Some(String::new()),
            _ => None,
        }
    }

    fn sub(t: &str) -> Result<String, ComposeError> {
        substitute(t, &lookup).map(|s| s.text)
    }

    #[test]
    fn substitutes_as_compose_go() {
        // compose-go's published template cases.
        for (template, want) in [
            ("$${foo}", "${foo}"),
            ("foo", "foo"),
            ("$FOO-bar", "first-bar"),
            ("This ${missing} var", "This  var"),
            ("This ${BAR} var", "This  var"),
            ("This $FOO var", "This first var"),
            ("This ${FOO} var", "This first var"),
            ("ok ${missing:-def}", "ok def"),
            ("ok ${missing-def}", "ok def"),
            ("ok ${BAR:-def}", "ok def"),
            ("ok ${FOO:-def}", "ok first"),
            ("ok ${BAR-def}", "ok "),
            ("ok ${BAR:-/non:-alphanumeric}", "ok /non:-alphanumeric"),
            ("ok ${UNSET_VAR-$FOO}", "ok first"),
            ("ok ${UNSET_VAR-${FOO}}", "ok first"),
            ("ok ${UNSET_VAR-${FOO} ${FOO}}", "ok first first"),
            ("ok ${BAR:-$FOO}", "ok first"),
            ("ok ${BAR:-${FOO}}", "ok first"),
            ("ok ${BAR:-${FOO} ${FOO}}", "ok first first"),
            ("ok ${FOO:?err}", "ok first"),
            ("ok ${FOO?err}", "ok first"),
            ("ok ${BAR?err}", "ok "),
            ("${UNSET_VAR-myerror?msg}", "myerror?msg"),
            ("${FOO?bar-baz}", "first"),
            ("${BAR:-default_value_for_empty_var}", "default_value_for_empty_var"),
            ("${UNSET_VAR-default_value_for_unset_var}", "default_value_for_unset_var"),
            // The alternatives, and nesting beyond one level.
            ("${FOO:+alt}", "alt"),
            ("${BAR:+alt}", ""),
            ("${BAR+alt}", "alt"),
            ("${NONE+alt}", ""),
            ("${NONE:-${ALSO:-${FOO}}}!", "first!"),
            ("${NONE:-{x}}", "{x}"),
            ("a ${NONE:-x} b ${FOO:-y} c", "a x b first c"),
            ("$$FOO and $$$FOO", "$FOO and $first"),
            ("${foo_1}x", "x"),
        ] {
            assert_eq!(sub(template).as_deref(), Ok(want), "{template}");
        }
    }

    #[test]
    fn errors_as_compose_go() {
        for template in ["${", "$}", "${}", "${ }", "${ foo}", "${foo }", "${foo!}", "$", "cost $5", "${A:-x"]
        {
            assert_eq!(
                sub(template),
                Err(ComposeError::InvalidTemplate { template: template.into() }),
                "{template}"
            );
        }
        for (template, name, message) in [
            ("not ok ${UNSET_VAR:?Mandatory Variable Unset}", "UNSET_VAR", "Mandatory Variable Unset"),
            ("not ok ${BAR:?Mandatory Variable Empty}", "BAR", "Mandatory Variable Empty"),
            ("not ok ${UNSET_VAR:?}", "UNSET_VAR", ""),
            ("not ok ${UNSET_VAR?Mandatory Variable Unset}", "UNSET_VAR", "Mandatory Variable Unset"),
            ("not ok ${UNSET_VAR?Mandatory Variable ${FOO}}", "UNSET_VAR", "Mandatory Variable first"),
            ("${UNSET_VAR?bar-baz}", "UNSET_VAR", "bar-baz"),
        ] {
            assert_eq!(
                sub(template),
                Err(ComposeError::RequiredVariable { name: name.into(), message: message.into() }),
                "{template}"
            );
        }
        assert_eq!(
            sub("${A:?needed}").unwrap_err().to_string(),
            "required variable A is missing a value: needed"
        );
    }

    #[test]
    fn unset_variables_are_noted_once() {
        let s = substitute("$A ${A} ${B:-x} ${FOO}", &lookup).unwrap();
        assert_eq!(s.unset, ["A"]);
        assert_eq!(unset_warning("A"), "The \"A\" variable is not set. Defaulting to a blank string.");
    }

    #[test]
    fn a_files_values_are_substituted_and_errors_name_their_path() {
        let text =
            "services:\n  web:\n    image: ${FOO}:${TAG:-1}\n    ports: [\"${NOPE}80\"]\n    $key: x\n";
        let mut tree = crate::tree::parse(text, "c.yml").unwrap();
        let unset = interpolate_tree(&mut tree, &lookup).unwrap();
        let web = tree.get("services").unwrap().get("web").unwrap();
        assert_eq!(web.get("image").unwrap().text(), Some("first:1"));
        assert!(web.get("$key").is_some(), "keys are not substituted");
        assert_eq!(unset, ["NOPE"]);
        let mut tree =
            crate::tree::parse("services:\n  web:\n    ports:\n      - ${P:?give a port}\n", "c.yml")
                .unwrap();
        assert_eq!(
            interpolate_tree(&mut tree, &lookup).unwrap_err().to_string(),
            "error while interpolating services.web.ports.[]: required variable P is missing a value: give a port"
        );
    }
}
