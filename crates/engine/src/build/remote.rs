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

/// Whether a build context or ADD source names a git repository, as Docker tells them.
pub(crate) fn is_git(url: &str) -> bool {
    let base = url.split('#').next().unwrap_or(url);
    url.starts_with("git://")
        || url.starts_with("git@")
        || url.starts_with("github.com/")
        || ((url.starts_with("http://") || url.starts_with("https://")) && base.ends_with(".git"))
}

/// A git URL's parts: the repository, the ref (`#ref`, the default branch when none) and the
/// directory in it (`#ref:dir`).
pub(crate) fn git_parts(url: &str) -> (String, Option<String>, Option<String>) {
    let (repo, fragment) = url.split_once('#').unwrap_or((url, ""));
    let repo = if repo.starts_with("github.com/") { format!("https://{repo}") } else { repo.to_string() };
    let (r, dir) = fragment.split_once(':').unwrap_or((fragment, ""));
    let some = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
    (repo, some(r), some(dir))
}

/// Checks out a git URL into `dest` (made): a shallow fetch of the ref when the server allows
/// it, a whole one when not. The directory the URL names in it.
pub(crate) async fn git_checkout(url: &str, dest: &Path, keep_git_dir: bool) -> Result<PathBuf> {
    let (repo, reference, dir) = git_parts(url);
    let bad = |why: String| EngineError::InvalidArgument(format!("git {url}: {why}"));
    std::fs::create_dir_all(dest)?;
    let git = |args: Vec<String>| {
        let dest = dest.to_path_buf();
        crate::blocking(move || {
            let out = std::process::Command::new("git")
                .args(&args)
                .current_dir(&dest)
                .env("GIT_TERMINAL_PROMPT", "0")
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| EngineError::InvalidArgument(format!("running git (is it installed?): {e}")))?;
            Ok((out.status.success(), String::from_utf8_lossy(&out.stderr).trim().to_string()))
        })
    };
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    git(s(&["init", "-q"])).await?;
    git(s(&["remote", "add", "origin", &repo])).await?;
    let wanted = reference.clone().unwrap_or_else(|| "HEAD".into());
    let (shallow, _) = git(s(&["fetch", "-q", "--depth", "1", "origin", &wanted])).await?;
    if !shallow {
        let (ok, err) = git(s(&["fetch", "-q", "origin", &wanted])).await?;
        if !ok {
            return Err(bad(format!("fetching {wanted}: {err}")));
        }
    }
    let (ok, err) = git(s(&["checkout", "-q", "FETCH_HEAD"])).await?;
    if !ok {
        return Err(bad(format!("checking out {wanted}: {err}")));
    }
    let (ok, err) = git(s(&["submodule", "update", "-q", "--init", "--recursive", "--depth", "1"])).await?;
    if !ok {
        return Err(bad(format!("its submodules: {err}")));
    }
    if !keep_git_dir {
        std::fs::remove_dir_all(dest.join(".git"))?;
    }
    match dir {
        Some(d) => {
            let sub = crate::fs::host_path(dest, &d)
                .map_err(|_| bad(format!("no directory {d} in the repository")))?;
            if !sub.is_dir() {
                return Err(bad(format!("{d} is not a directory of the repository")));
            }
            Ok(sub)
        }
        None => Ok(dest.to_path_buf()),
    }
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

    #[test]
    fn git_urls_are_told_and_split_as_docker_does() {
        for (url, git) in [
            ("https://github.com/moby/moby.git", true),
            ("https://example.com/repo.git#main:docs", true),
            ("git@github.com:moby/moby.git", true),
            ("git://example.com/repo", true),
            ("github.com/moby/moby", true),
            ("https://example.com/context.tar.gz", false),
            ("https://example.com/Dockerfile", false),
        ] {
            assert_eq!(is_git(url), git, "{url}");
        }
        let some = |s: &str| Some(s.to_string());
        assert_eq!(git_parts("https://h/r.git"), ("https://h/r.git".into(), None, None));
        assert_eq!(git_parts("https://h/r.git#v1"), ("https://h/r.git".into(), some("v1"), None));
        assert_eq!(
            git_parts("https://h/r.git#v1:sub/dir"),
            ("https://h/r.git".into(), some("v1"), some("sub/dir"))
        );
        assert_eq!(git_parts("https://h/r.git#:sub"), ("https://h/r.git".into(), None, some("sub")));
        assert_eq!(git_parts("github.com/a/b"), ("https://github.com/a/b".into(), None, None));
    }
}
