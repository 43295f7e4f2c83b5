//! Platforms as Docker writes them (`linux/arm64/v8`) and as indexes list them: parsing,
//! normalising (`x86_64` is `amd64`, `aarch64` is `arm64`, `arm64`'s variant is `v8` unless said
//! otherwise), the host's own, and which entry of an index serves a platform.

use std::fmt;

/// An operating system, a CPU architecture and its variant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    /// `v7` for 32-bit ARM, `v8` for arm64; empty when the architecture has none.
    pub variant: String,
}

/// A platform that is not `os[/arch[/variant]]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid platform {input:?}: {reason}: use os[/arch[/variant]], such as linux/amd64 or linux/arm64/v8"
)]
pub struct PlatformError {
    pub input: String,
    pub reason: &'static str,
}

/// The host's architecture in Go's (and so Docker's) words.
pub fn host_arch() -> &'static str {
    go_arch(std::env::consts::ARCH)
}

/// Rust's name of an architecture in Go's words.
fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// Docker's normal names: an architecture's aliases, and the variant it implies.
fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant.to_ascii_lowercase();
    match (arch.as_str(), variant.as_str()) {
        ("i386" | "i686" | "x86", _) => ("386".into(), String::new()),
        ("x86_64" | "x86-64" | "amd64", "") => ("amd64".into(), String::new()),
        ("x86_64" | "x86-64", v) => ("amd64".into(), v.into()),
        ("aarch64" | "arm64", "" | "8" | "v8") => ("arm64".into(), "v8".into()),
        ("aarch64", v) => ("arm64".into(), v.into()),
        ("armhf", _) => ("arm".into(), "v7".into()),
        ("armel", _) => ("arm".into(), "v6".into()),
        ("arm", "" | "7") => ("arm".into(), "v7".into()),
        ("arm", "5" | "6" | "8") => ("arm".into(), format!("v{variant}")),
        (a, v) => (a.into(), v.into()),
    }
}

impl Platform {
    /// A platform from its parts, normalised.
    pub fn new(os: &str, architecture: &str, variant: &str) -> Platform {
        let (architecture, variant) = normalize_arch(architecture, variant);
        Platform { os: os.to_ascii_lowercase(), architecture, variant }
    }

    /// The host's platform (Linux, always, for berth).
    pub fn host() -> Platform {
        Platform::new("linux", host_arch(), "")
    }

    /// `os[/arch[/variant]]`; an OS alone means the host's architecture.
    pub fn parse(s: &str) -> Result<Platform, PlatformError> {
        let bad = |reason| PlatformError { input: s.to_string(), reason };
        let parts: Vec<&str> = s.trim().split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad("a part is empty"));
        }
        if parts
            .iter()
            .any(|p| !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'))
        {
            return Err(bad("a part has characters other than letters, digits, '_', '-' and '.'"));
        }
        match parts.as_slice() {
            [os] => Ok(Platform::new(os, host_arch(), "")),
            [os, arch] => Ok(Platform::new(os, arch, "")),
            [os, arch, variant] => Ok(Platform::new(os, arch, variant)),
            _ => Err(bad("it has more than three parts")),
        }
    }

    /// Whether an image for `offered` runs here when `self` is asked for: the same OS and
    /// architecture, and the same variant when both say one.
    pub fn accepts(&self, offered: &Platform) -> bool {
        let offered = Platform::new(&offered.os, &offered.architecture, &offered.variant);
        self.os == offered.os
            && self.architecture == offered.architecture
            && (self.variant.is_empty() || offered.variant.is_empty() || self.variant == offered.variant)
    }

    /// The entry of an index (its platforms, in its order) that serves this platform: the first
    /// that matches its variant exactly, else the first it accepts.
    pub fn select<'a, T>(
        &self,
        entries: &'a [T],
        platform_of: impl Fn(&T) -> Option<Platform>,
    ) -> Option<&'a T> {
        let offered: Vec<(usize, Platform)> =
            entries.iter().enumerate().filter_map(|(i, e)| platform_of(e).map(|p| (i, p))).collect();
        let exact = offered.iter().find(|(_, p)| {
            let p = Platform::new(&p.os, &p.architecture, &p.variant);
            p.os == self.os && p.architecture == self.architecture && p.variant == self.variant
        });
        exact.or_else(|| offered.iter().find(|(_, p)| self.accepts(p))).map(|(i, _)| &entries[*i])
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_and_normalise_as_dockers() {
        let table = [
            ("linux/amd64", "linux/amd64"),
            ("linux/x86_64", "linux/amd64"),
            ("Linux/AMD64", "linux/amd64"),
            ("linux/arm64", "linux/arm64/v8"),
            ("linux/aarch64", "linux/arm64/v8"),
            ("linux/arm64/8", "linux/arm64/v8"),
            ("linux/arm", "linux/arm/v7"),
            ("linux/armhf", "linux/arm/v7"),
            ("linux/arm/6", "linux/arm/v6"),
            ("linux/i386", "linux/386"),
            ("linux/s390x", "linux/s390x"),
            ("windows/amd64", "windows/amd64"),
        ];
        for (input, want) in table {
            assert_eq!(Platform::parse(input).unwrap().to_string(), want, "{input}");
        }
        assert_eq!(Platform::parse("linux").unwrap(), Platform::host());
        for bad in ["", "linux/", "/amd64", "linux/amd64/v8/x", "linux/am d64"] {
            assert!(Platform::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
    }

    #[test]
    fn an_index_entry_is_chosen_for_a_platform() {
        let p = |s: &str| Some(Platform::parse(s).unwrap());
        let index = [
            ("a", p("linux/amd64")),
            ("b", p("linux/arm/v6")),
            ("c", p("linux/arm/v7")),
            ("d", p("linux/arm64/v8")),
            ("e", None),
        ];
        let pick = |want: &str| Platform::parse(want).unwrap().select(&index, |e| e.1.clone()).map(|e| e.0);
        assert_eq!(pick("linux/amd64"), Some("a"));
        assert_eq!(pick("linux/arm/v7"), Some("c"));
        assert_eq!(pick("linux/arm/v6"), Some("b"));
        assert_eq!(pick("linux/arm64"), Some("d"));
        assert_eq!(pick("linux/ppc64le"), None);
        assert_eq!(pick("windows/amd64"), None);
        // An entry that names no variant has its architecture's usual one (arm's is v7).
        let plain = [(
            "x",
            Some(Platform { os: "linux".into(), architecture: "arm".into(), variant: String::new() }),
        )];
        let select = |want: &str| Platform::parse(want).unwrap().select(&plain, |e| e.1.clone()).map(|e| e.0);
        assert_eq!(select("linux/arm/v7"), Some("x"));
        assert_eq!(select("linux/arm/v6"), None);
    }
}
