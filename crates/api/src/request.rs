//! Request bodies in the shapes Docker accepts beyond its schema: `Cmd`, `Entrypoint` and
//! `Shell` are Go's `StrSlice`, which takes a JSON string as one argument as well as an
//! array of them. Pure.

use serde_json::Value;

use crate::models::ContainerCreateBody;
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
}
