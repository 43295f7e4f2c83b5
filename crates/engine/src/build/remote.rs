//! What a build fetches over HTTP(S): `ADD <url>` sources, downloaded into the build's scratch
//! room as Docker downloads them (the file named by the URL's last path element, mode 0600, its
//! time the answer's `Last-Modified`), checked against `ADD --checksum` when given.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::Digest as _;

use crate::error::{EngineError, Result};

/// Whether an ADD source is a URL.
pub(crate) fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// The file name a URL's download gets: its path's last element.
pub(crate) fn file_name(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split(['?', '#']).next().unwrap_or_default();
    let (_, path) = path.split_once('/')?;
    path.rsplit('/').next().filter(|n| !n.is_empty() && *n != "." && *n != "..").map(str::to_string)
}

/// Downloads `url` into a new file under `dir`; checks its digest against `checksum`.
pub(crate) async fn download(url: &str, dir: &Path, checksum: Option<&str>) -> Result<PathBuf> {
    let bad = |why: String| EngineError::InvalidArgument(format!("ADD {url}: {why}"));
    let name = file_name(url)
        .ok_or_else(|| bad("cannot determine a file name from the URL: name the file in its path".into()))?;
    berth_tls::install_default_provider();
    let client = reqwest::Client::builder()
        .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let mut resp = client.get(url).send().await.map_err(|e| bad(format!("failed to GET: {e}")))?;
    if !resp.status().is_success() {
        return Err(bad(format!("failed to GET with status {}", resp.status())));
    }
    let modified = resp
        .headers()
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        .map(std::time::SystemTime::from);
    std::fs::create_dir_all(dir)?;
    let path = dir.join(&name);
    let mut file = std::fs::File::create(&path)?;
    let mut hash = sha2::Sha256::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| bad(format!("reading the answer: {e}")))? {
        hash.update(&chunk);
        file.write_all(&chunk)?;
    }
    let got = format!("sha256:{}", hash.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>());
    if let Some(want) = checksum {
        if !want.starts_with("sha256:") {
            return Err(bad(format!("unsupported checksum {want:?}: give sha256:<hex>")));
        }
        if got != want {
            return Err(bad(format!("digest mismatch {got}: {want}")));
        }
    }
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    if let Some(t) = modified {
        file.set_modified(t)?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_are_named_by_the_urls_last_path_element() {
        for (url, want) in [
            ("https://example.com/a/b/tool.tar.gz", Some("tool.tar.gz")),
            ("http://127.0.0.1:8080/file?x=1#frag", Some("file")),
            ("https://example.com/", None),
            ("https://example.com", None),
            ("https://example.com/dir/", None),
        ] {
            assert_eq!(file_name(url).as_deref(), want, "{url}");
        }
        assert!(
            is_url("https://x/y")
                && is_url("http://x/y")
                && !is_url("git@github.com:a/b.git")
                && !is_url("a.txt")
        );
    }
}
