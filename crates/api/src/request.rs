//! Request bodies in the shapes Docker accepts beyond its schema: `Cmd`, `Entrypoint` and
//! `Shell` are Go's `StrSlice`, which takes a JSON string as one argument as well as an
//! array of them, and Go matches an object's keys to fields without regard to case (the
//! Python SDK sends an exec's `detachKeys` so). Pure.

use serde_json::Value;

use crate::models::{ContainerCreateBody, ExecConfig};
use crate::ApiError;

/// The fields of a container config that are `StrSlice`s.
const STR_SLICES: &[&str] = &["Cmd", "Entrypoint", "Shell"];

/// A string where Docker takes a `StrSlice` becomes the one-element array it stands for.
fn str_slices(v: &mut Value) {
    if let Some(o) = v.as_object_mut() {
        for k in STR_SLICES {
            if let Some(s) = o.get(*k).and_then(Value::as_str).map(String::from) {
                o.insert((*k).to_string(), Value::Array(vec![Value::String(s)]));
            }
        }
    }
}

/// An exec's fields, as the Engine API spells them.
const EXEC_KEYS: &[&str] = &[
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "ConsoleSize",
    "DetachKeys",
    "Tty",
    "Env",
    "Cmd",
    "Privileged",
    "User",
    "WorkingDir",
];

/// Keys that match one of `known` but for case are renamed to it, as Go decodes them.
fn fold_keys(v: &mut Value, known: &[&str]) {
    let Some(o) = v.as_object_mut() else { return };
    let odd: Vec<(String, &str)> = o
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .filter_map(|k| known.iter().find(|n| n.eq_ignore_ascii_case(k)).map(|n| (k.clone(), *n)))
        .collect();
    for (k, n) in odd {
        if let Some(val) = o.remove(&k) {
            o.entry(n.to_string()).or_insert(val);
        }
    }
}

/// `POST /containers/{id}/exec`'s body.
pub fn exec_create(mut v: Value) -> Result<ExecConfig, ApiError> {
    if v.is_null() {
        return Ok(ExecConfig::default());
    }
    fold_keys(&mut v, EXEC_KEYS);
    serde_json::from_value(v).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
}

/// `POST /containers/create`'s body (and a commit's config): `null` or empty is the default.
pub fn container_create(mut v: Value) -> Result<ContainerCreateBody, ApiError> {
    if v.is_null() {
        return Ok(ContainerCreateBody::default());
    }
    str_slices(&mut v);
    serde_json::from_value(v).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_stand_for_one_argument() {
        let table = [
            (r#"{"Cmd":"echo hi"}"#, Some(vec!["echo hi"]), None),
            (r#"{"Cmd":["a","b"],"Entrypoint":"sh"}"#, Some(vec!["a", "b"]), Some(vec!["sh"])),
            (r#"{"Entrypoint":["x"]}"#, None, Some(vec!["x"])),
            ("null", None, None),
        ];
        let owned = |v: Option<Vec<&str>>| v.map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
        for (body, cmd, ep) in table {
            let b = container_create(serde_json::from_str(body).unwrap()).unwrap();
            assert_eq!((b.cmd, b.entrypoint), (owned(cmd), owned(ep)), "{body}");
        }
        let b = container_create(serde_json::from_str(r#"{"Shell":"/bin/bash"}"#).unwrap()).unwrap();
        assert_eq!(b.shell, Some(vec!["/bin/bash".to_string()]));
        let e = container_create(serde_json::from_str(r#"{"Cmd":5}"#).unwrap()).unwrap_err();
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn exec_keys_match_without_regard_to_case() {
        let e =
            exec_create(serde_json::from_str(r#"{"cmd":["a"],"detachKeys":"ctrl-x","TTY":true}"#).unwrap())
                .unwrap();
        assert_eq!(e.cmd, Some(vec!["a".to_string()]));
        assert_eq!(e.detach_keys.as_deref(), Some("ctrl-x"));
        assert_eq!(e.tty, Some(true));
        // The exact spelling wins over another.
        let e = exec_create(serde_json::from_str(r#"{"Cmd":["a"],"cmd":["b"]}"#).unwrap()).unwrap();
        assert_eq!(e.cmd, Some(vec!["a".to_string()]));
    }
}
