//! A project's name and files, as docker compose finds them: the name from `-p` or
//! `COMPOSE_PROJECT_NAME` (checked), else the file's `name:` (checked), else the project
//! directory's name (normalised: lower case, only `a-z0-9_-`, no leading `_` or `-`); the
//! files `compose.yaml`, `compose.yml`, `docker-compose.yaml`, `docker-compose.yml` (the first
//! found, walking up from the working directory) and the override beside it.

use crate::ComposeError;

/// The file names Compose looks for, in its order of preference.
pub const DEFAULT_FILES: [&str; 4] =
    ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];

/// The override files read after the main file, when one is beside it.
pub const OVERRIDE_FILES: [&str; 4] = [
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
];

/// A directory's name made into a project name, as Compose makes it.
pub fn normalize_name(s: &str) -> String {
    let kept: String = s
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    kept.trim_start_matches(['_', '-']).to_string()
}

/// Whether `name` is a project name Compose takes as given (`-p`, `COMPOSE_PROJECT_NAME`,
/// `name:`): lower-case letters, digits, `-` and `_`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<(), ComposeError> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ComposeError::ProjectName { name: name.to_string() })
    }
}

/// The project's name: `given` (`-p`, then `COMPOSE_PROJECT_NAME`), else the file's `name:`,
/// else the directory's name normalised.
pub fn project_name(given: Option<&str>, in_file: Option<&str>, dir: &str) -> Result<String, ComposeError> {
    if let Some(name) = given.or(in_file).filter(|n| !n.is_empty()) {
        check_name(name)?;
        return Ok(name.to_string());
    }
    let name = normalize_name(dir);
    check_name(&name)?;
    Ok(name)
}

/// The files of a directory Compose reads, given which of them exist there: the first main
/// file and the first override beside it; and, when several main files are there, the
/// warning Compose gives.
pub fn choose_files(
    exists: impl Fn(&str) -> bool,
) -> Option<(&'static str, Option<&'static str>, Option<String>)> {
    let found: Vec<&str> = DEFAULT_FILES.iter().copied().filter(|f| exists(f)).collect();
    let main = *found.first()?;
    let warning = (found.len() > 1).then(|| {
        format!("Found multiple config files with supported names: {}\nUsing {main}", found.join(", "))
    });
    let over = OVERRIDE_FILES.iter().copied().find(|f| exists(f));
    Some((main, over, warning))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_compose_makes_them() {
        for (dir, want) in [
            ("myapp", "myapp"),
            ("My App.v2", "myappv2"),
            ("_-Under_Score-", "under_score-"),
            ("Ünïcode-dir", "ncode-dir"),
        ] {
            assert_eq!(normalize_name(dir), want, "{dir}");
        }
        assert_eq!(project_name(Some("given"), Some("infile"), "dir"), Ok("given".into()));
        assert_eq!(project_name(None, Some("infile"), "dir"), Ok("infile".into()));
        assert_eq!(project_name(None, None, "Some Dir"), Ok("somedir".into()));
        for bad in ["Upper", "-lead", "with space", "dot.ted", ""] {
            assert_eq!(check_name(bad), Err(ComposeError::ProjectName { name: bad.into() }), "{bad:?}");
        }
        assert_eq!(
            project_name(Some("Bad"), None, "dir").unwrap_err().to_string(),
            "invalid project name \"Bad\": must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number"
        );
        assert!(project_name(None, None, "___").is_err());
    }

    #[test]
    fn files_as_compose_finds_them() {
        let only = |names: &'static [&'static str]| move |f: &str| names.contains(&f);
        assert_eq!(choose_files(only(&[])), None);
        assert_eq!(choose_files(only(&["docker-compose.yml"])), Some(("docker-compose.yml", None, None)));
        let (main, over, warning) =
            choose_files(only(&["docker-compose.yml", "compose.yaml", "docker-compose.override.yml"]))
                .unwrap();
        assert_eq!((main, over), ("compose.yaml", Some("docker-compose.override.yml")));
        assert_eq!(
            warning.as_deref(),
            Some("Found multiple config files with supported names: compose.yaml, docker-compose.yml\nUsing compose.yaml")
        );
    }
}
