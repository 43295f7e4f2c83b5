//! What a request's path names, and the spec's rules for repository names and tags. Pure.

/// An endpoint of the distribution API (and the server's own two).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/`: the API's version check.
    Base,
    /// `/v2/_catalog`.
    Catalog,
    /// `/v2/<name>/manifests/<reference>`.
    Manifest {
        name: String,
        reference: String,
    },
    /// `/v2/<name>/blobs/<digest>`.
    Blob {
        name: String,
        digest: String,
    },
    /// `/v2/<name>/blobs/uploads/`: starting an upload.
    Uploads {
        name: String,
    },
    /// `/v2/<name>/blobs/uploads/<id>`.
    Upload {
        name: String,
        id: String,
    },
    /// `/v2/<name>/tags/list`.
    Tags {
        name: String,
    },
    /// `/v2/<name>/referrers/<digest>`.
    Referrers {
        name: String,
        digest: String,
    },
    /// `/v1/search`: Docker's search, over the catalog.
    Search,
    /// `/token`: the token endpoint (token auth only).
    Token,
    /// `/metrics`: Prometheus' text format.
    Metrics,
    NotFound,
}

/// Reads a request path (without its query). A name may hold slashes, so the endpoint is the
/// last of the spec's markers in the path.
pub fn route(path: &str) -> Route {
    match path {
        "/v2" | "/v2/" => return Route::Base,
        "/v2/_catalog" => return Route::Catalog,
        "/token" => return Route::Token,
        "/v1/search" => return Route::Search,
        "/metrics" => return Route::Metrics,
        _ => {}
    }
    let Some(rest) = path.strip_prefix("/v2/") else { return Route::NotFound };
    let name = |n: &str| n.to_string();
    if let Some(n) = rest.strip_suffix("/tags/list") {
        return Route::Tags { name: name(n) };
    }
    if let Some(n) = rest.strip_suffix("/blobs/uploads/").or_else(|| rest.strip_suffix("/blobs/uploads")) {
        return Route::Uploads { name: name(n) };
    }
    if let Some((n, id)) = rest.rsplit_once("/blobs/uploads/") {
        if !id.contains('/') && !id.is_empty() {
            return Route::Upload { name: name(n), id: id.to_string() };
        }
    }
    for (marker, make) in [
        (
            "/manifests/",
            (|n: String, r: String| Route::Manifest { name: n, reference: r }) as fn(String, String) -> Route,
        ),
        ("/blobs/", |n, d| Route::Blob { name: n, digest: d }),
        ("/referrers/", |n, d| Route::Referrers { name: n, digest: d }),
    ] {
        if let Some((n, last)) = rest.rsplit_once(marker) {
            if !last.is_empty() && !last.contains('/') {
                return make(name(n), last.to_string());
            }
        }
    }
    Route::NotFound
}

/// The spec's repository name: path components of lower-case letters and digits, joined
/// within a component by `.`, `_`, `__` or a run of `-`; at most 255 characters in all.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name.split('/').all(valid_component)
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter().all(|x| x.is_ascii_alphanumeric() || matches!(x, b'.' | b'_' | b'-'))
}

/// A query's values by name (the last one wins), and every value of a repeated name.
#[derive(Debug, Default, Clone)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        Query(form_urlencoded::parse(q.unwrap_or("").as_bytes()).into_owned().collect())
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_endpoints() {
        let m = |n: &str, r: &str| Route::Manifest { name: n.into(), reference: r.into() };
        for (path, want) in [
            ("/v2/", Route::Base),
            ("/v2", Route::Base),
            ("/v2/_catalog", Route::Catalog),
            ("/token", Route::Token),
            ("/v1/search", Route::Search),
            ("/metrics", Route::Metrics),
            ("/v2/busybox/manifests/latest", m("busybox", "latest")),
            ("/v2/a/b/c/manifests/sha256:00", m("a/b/c", "sha256:00")),
            // A repository may be called like a marker's word.
            ("/v2/blobs/manifests/v1", m("blobs", "v1")),
            ("/v2/x/manifests/y/manifests/z", m("x/manifests/y", "z")),
            ("/v2/a/b/blobs/sha256:ab", Route::Blob { name: "a/b".into(), digest: "sha256:ab".into() }),
            ("/v2/a/blobs/uploads/", Route::Uploads { name: "a".into() }),
            ("/v2/a/blobs/uploads", Route::Uploads { name: "a".into() }),
            ("/v2/a/b/blobs/uploads/1f2e", Route::Upload { name: "a/b".into(), id: "1f2e".into() }),
            ("/v2/a/tags/list", Route::Tags { name: "a".into() }),
            ("/v2/a/referrers/sha256:ab", Route::Referrers { name: "a".into(), digest: "sha256:ab".into() }),
            ("/v2/a/manifests/", Route::NotFound),
            ("/v1/_ping", Route::NotFound),
            ("/", Route::NotFound),
        ] {
            assert_eq!(route(path), want, "{path}");
        }
    }

    #[test]
    fn repository_names_follow_the_spec() {
        for ok in ["a", "busybox", "library/busybox", "a.b_c__d---e/f0", "0/1/2", "my-app/web.v2"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "A", "a/", "/a", "a//b", "-a", "a-", "a..b", "a___b", "a_.b", "a:b", "a@b", "é"] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(valid_name(&"a".repeat(255)));
        assert!(!valid_name(&"a".repeat(256)));
    }

    #[test]
    fn tags_follow_the_spec() {
        for ok in ["latest", "v1.0", "_x", "A-b_c.d", &"t".repeat(128)] {
            assert!(valid_tag(ok), "{ok}");
        }
        for bad in ["", ".x", "-x", "a:b", "a/b", "a@b", &"t".repeat(129)] {
            assert!(!valid_tag(bad), "{bad}");
        }
    }

    #[test]
    fn queries_keep_repeated_names() {
        let q = Query::parse(Some("scope=a&scope=b&n=2&n=3&last=x%2Fy"));
        assert_eq!(q.all("scope"), ["a", "b"]);
        assert_eq!(q.get("n"), Some("3"));
        assert_eq!(q.get("last"), Some("x/y"));
        assert_eq!(q.get("none"), None);
    }
}
