//! What the commands share: the client's configuration directory and keys, `--filter` as
//! the API's document, Docker's short IDs and ellipses, I/O errors in Go's words, JSON as the
//! docker CLI prints it, running an operation on each name, and the prune prompt and report.
//! Command modules import from here and never from each other's commands.

use berth_client::system::Prunable;
use std::collections::BTreeMap;
use std::path::PathBuf;

use berth_client::ClientError;
use serde_json::{json, Value};

use crate::{Ctx, Failure, Result};

/// The client's configuration directory: `--config`, `DOCKER_CONFIG`, or `~/.docker`.
pub fn config_dir() -> PathBuf {
    berth_client::config::dir()
}

/// A key of the client's `config.json` (`--config` or `DOCKER_CONFIG` directory, else
/// `~/.docker`): `psFormat`, `imagesFormat`, `detachKeys`.
pub fn config_key(key: &str) -> Option<String> {
    berth_client::config::Config::load(&config_dir()).ok()?.get(key).map(str::to_string)
}

/// An I/O error in Go's words (`no such file or directory`).
pub fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s).to_string();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => s,
    }
}

/// JSON the way the docker CLI prints it: four-space indents, Go's HTML-safe escapes.
pub(crate) fn pretty(v: &Value) -> String {
    use serde::Serialize;
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    let _ = v.serialize(&mut ser);
    String::from_utf8_lossy(&out).replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

/// `--filter k=v` (repeatable) as the API's `filters` document.
pub fn filters(items: &[String]) -> std::result::Result<Option<String>, Failure> {
    if items.is_empty() {
        return Ok(None);
    }
    let mut m: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
    for f in items {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| Failure::new(125, format!("invalid argument \"{f}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)")))?;
        m.entry(k.trim().to_ascii_lowercase()).or_default().insert(v.to_string(), true);
    }
    Ok(Some(json!(m).to_string()))
}

/// Docker's `Ellipsis`: at most `max` characters, the last one `…` when cut.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    s.chars().take(max.saturating_sub(1)).chain(std::iter::once('…')).collect()
}

/// The first 12 hex digits of an ID, without its `sha256:`.
pub fn short_id(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

/// Runs `op` on each item, printing what each one that worked says (its name, an exit code,
/// what was deleted) and each error; exit 1 if any failed.
pub(crate) async fn for_each<'a, F, Fut>(items: &'a [String], mut op: F) -> Result
where
    F: FnMut(&'a str) -> Fut,
    Fut: std::future::Future<Output = std::result::Result<String, ClientError>>,
{
    let mut failed = false;
    for n in items {
        match op(n).await {
            Ok(text) if text.is_empty() => {}
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if failed {
        Err(Failure::exit(1))
    } else {
        Ok(())
    }
}

/// Docker's prompt before a prune; anything but yes cancels it.
pub(crate) fn confirm(warning: &str) -> Result {
    eprint!("{warning}\nAre you sure you want to continue? [y/N] ");
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
        Ok(())
    } else {
        Err(Failure::new(1, "Total reclaimed space: 0B"))
    }
}

/// One prune request: the space it reclaimed and the section the docker CLI prints for it
/// (empty when nothing went).
pub(crate) async fn prune_section(
    ctx: &Ctx,
    what: Prunable,
    filter: &[String],
) -> std::result::Result<(f64, String), Failure> {
    prune_section_with(ctx, what, filter, vec![]).await
}

/// [`prune_section`] with more of the query (`all` for the build cache).
pub(crate) async fn prune_section_with(
    ctx: &Ctx,
    what: Prunable,
    filter: &[String],
    mut q: Vec<(&str, String)>,
) -> std::result::Result<(f64, String), Failure> {
    if let Some(f) = filters(filter)? {
        q.push(("filters", f));
    }
    let v = ctx.client.system().prune(what, &q).await?;
    let names = |key: &str| -> Vec<String> {
        v[key].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
    };
    let (title, lines) = match what {
        Prunable::Containers => ("Deleted Containers:", names("ContainersDeleted")),
        Prunable::Networks => ("Deleted Networks:", names("NetworksDeleted")),
        Prunable::Volumes => ("Deleted Volumes:", names("VolumesDeleted")),
        Prunable::BuildCache => ("Deleted build cache objects:", names("CachesDeleted")),
        Prunable::Images => {
            let mut lines = Vec::new();
            for i in v["ImagesDeleted"].as_array().into_iter().flatten() {
                if let Some(u) = i["Untagged"].as_str() {
                    lines.push(format!("untagged: {u}"));
                }
                if let Some(d) = i["Deleted"].as_str() {
                    lines.push(format!("deleted: {d}"));
                }
            }
            ("Deleted Images:", lines)
        }
    };
    let out = if lines.is_empty() { String::new() } else { format!("{title}\n{}\n", lines.join("\n")) };
    Ok((v["SpaceReclaimed"].as_f64().unwrap_or(0.0), out))
}

/// A reference as `fromImage` and `tag` of a pull: the name made whole as Docker does
/// (`busybox` → `docker.io/library/busybox`), and the tag (`latest` when none) or the digest.
/// A reference that does not parse goes as it is, for the daemon to refuse in Docker's words.
pub(crate) fn split_reference(image: &str) -> (String, String) {
    match berth_oci::Reference::parse_tagged(image) {
        Ok(r) => (r.name(), r.digest().or(r.tag()).unwrap_or_default().to_string()),
        Err(_) => {
            let (repo, tag) = berth_oci::reference::split_tag(image);
            (repo.to_string(), tag.unwrap_or_default().to_string())
        }
    }
}

/// The `X-Registry-Auth` a request about `image` carries: what the client configuration keeps
/// for its registry (its credential helper's, or `auths`), else anonymous.
pub(crate) fn registry_auth(image: &str) -> String {
    let Ok(r) = berth_oci::Reference::parse(image) else {
        return berth_client::config::ANONYMOUS_AUTH.into();
    };
    let key = berth_client::config::auth_key(r.domain());
    berth_client::config::Config::load(&config_dir())
        .ok()
        .and_then(|c| c.credentials(key).ok().flatten())
        .map(|c| c.registry_auth(key))
        .unwrap_or_else(|| berth_client::config::ANONYMOUS_AUTH.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_prints_as_the_docker_cli() {
        assert_eq!(
            pretty(&json!([{"A": {}, "B": [], "C": "<x>"}])),
            "[\n    {\n        \"A\": {},\n        \"B\": [],\n        \"C\": \"\\u003cx\\u003e\"\n    }\n]"
        );
        assert_eq!(io_text(&std::io::Error::from_raw_os_error(2)), "no such file or directory");
    }
}
