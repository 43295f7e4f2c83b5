//! Loading a project's files into one tree, as compose-go's loader passes go: each file read
//! ([`crate::tree`]), its values substituted ([`crate::interpolate`]), its `include`d projects
//! imported ([`crate::include`]), its services' `extends`
//! applied ([`crate::extends`]), what it resets or
//! overrides taken out of the files before it, checked against the schema
//! ([`crate::schema`]), merged over them ([`crate::merge`]), keyed lists made unique. The
//! typed model follows.

use crate::extends::{apply_extends, ReadFile};
use crate::include::apply_include;
use crate::interpolate::{interpolate_tree, unset_warning};
use crate::merge::{apply_resets, enforce_unicity, merge, resets};
use crate::tree::{self, Node, Value};
use crate::ComposeError;

/// The files' merged tree, and the warnings Compose prints (variables not set).
/// `read` reads the other files `extends` and `include` name.
pub fn load(
    files: &[(String, String)],
    lookup: &dyn Fn(&str) -> Option<String>,
    read: ReadFile<'_>,
) -> Result<(Node, Vec<String>), ComposeError> {
    load_chain(files, lookup, read, &mut Vec::new())
}

/// [`load`] for files included by those of `chain`.
pub(crate) fn load_chain(
    files: &[(String, String)],
    lookup: &dyn Fn(&str) -> Option<String>,
    read: ReadFile<'_>,
    chain: &mut Vec<String>,
) -> Result<(Node, Vec<String>), ComposeError> {
    let mut merged = Node { value: Value::Map(Vec::new()), tag: None, line: 1, col: 1 };
    let mut warnings = Vec::new();
    for (name, text) in files {
        let mut file = tree::parse(text, name)?;
        if !matches!(file.value, Value::Map(_)) && !file.is_null() {
            return Err(ComposeError::Yaml {
                file: name.clone(),
                line: file.line,
                col: file.col,
                why: "top-level object must be a mapping".into(),
            });
        }
        for v in interpolate_tree(&mut file, lookup)? {
            let w = unset_warning(&v);
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        apply_include(&mut file, name, read, lookup, chain)?;
        let reset = resets(&mut file);
        apply_extends(&mut file, name, read, lookup)?;
        // Each file is checked on its own, so that an error names the file it is in.
        crate::schema::validate(&file, name)?;
        apply_resets(&mut merged, &reset);
        merged = merge(merged, file)?;
        enforce_unicity(&mut merged)?;
    }
    Ok((merged, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect()
    }

    #[test]
    fn files_are_substituted_then_merged_in_order() {
        let lookup = |name: &str| (name == "TAG").then(|| "2".to_string());
        let no_files = |_: &str| Err("no files here".to_string());
        let (tree, warnings) = load(
            &files(&[
                ("compose.yaml", "services:\n  web:\n    image: app:${TAG}\n    ports: ['${PORT}80:80']\n"),
                (
                    "compose.override.yaml",
                    "services:\n  web:\n    ports: !reset []\n    environment: [\"A=${MISSING}\"]\n",
                ),
            ]),
            &lookup,
            &no_files,
        )
        .unwrap();
        let web = tree.get("services").unwrap().get("web").unwrap();
        assert_eq!(web.get("image").unwrap().text(), Some("app:2"));
        assert!(web.get("ports").is_none());
        assert_eq!(
            warnings,
            [
                "The \"PORT\" variable is not set. Defaulting to a blank string.",
                "The \"MISSING\" variable is not set. Defaulting to a blank string."
            ]
        );
        let err = load(&files(&[("c.yml", "- a\n- b\n")]), &lookup, &no_files).unwrap_err();
        assert_eq!(err.to_string(), "c.yml: line 1, column 1: top-level object must be a mapping");
        let err = load(
            &files(&[
                ("a.yml", "services: {web: {image: a}}\n"),
                ("b.yml", "services:\n  web:\n    imgae: b\n"),
            ]),
            &lookup,
            &no_files,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "b.yml: line 3, column 5: services.web: additional property \"imgae\" is not allowed"
        );
    }
}
