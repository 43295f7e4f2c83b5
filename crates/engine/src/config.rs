//! The engine's settled configuration ([`Config`]) and the helpers it finds beside berthd.
//! Where it comes from (flags over `daemon.json`) is the daemon's business (`berth-daemon`'s
//! `config`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// An OCI runtime the daemon can start containers with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RuntimeEntry {
    pub path: PathBuf,
    #[serde(default, rename = "runtimeArgs")]
    pub args: Vec<String>,
}

/// A default ulimit in daemon.json's form.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UlimitEntry {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Soft")]
    pub soft: i64,
    #[serde(rename = "Hard")]
    pub hard: i64,
}

/// TLS for `tcp://` listeners.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    /// `--tls` or `--tlsverify`.
    pub enabled: bool,
    /// `--tlsverify`: clients must present a certificate signed by `files.ca`.
    pub verify: bool,
    pub files: berth_tls::TlsFiles,
}

/// The daemon's settled configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    pub hosts: Vec<String>,
    pub log_driver: String,
    pub log_opts: BTreeMap<String, String>,
    pub default_ulimits: Vec<UlimitEntry>,
    pub live_restore: bool,
    pub runtimes: BTreeMap<String, RuntimeEntry>,
    pub default_runtime: String,
    pub debug: bool,
    pub init_path: Option<PathBuf>,
    pub storage_driver: Option<String>,
    pub config_file: PathBuf,
    pub bip: Option<String>,
    pub mtu: Option<u32>,
    pub bridge_prefix: Option<String>,
    pub firewall_backend: String,
    pub default_address_pools: Vec<AddressPool>,
    pub tls: Tls,
    /// `insecure-registries`: reached without verified TLS, besides loopback.
    pub insecure_registries: Vec<String>,
    /// `max-concurrent-downloads`: layers a pull downloads at once.
    pub max_concurrent_downloads: usize,
    /// `max-concurrent-uploads`: layers a push uploads at once.
    pub max_concurrent_uploads: usize,
    /// `registry-mirrors`: Docker Hub's mirrors (URLs), tried in order before it.
    pub registry_mirrors: Vec<String>,
    /// `max-download-attempts`: how often a layer's download is tried (Docker's default: 5).
    pub max_download_attempts: usize,
}

impl Config {
    /// How registries are reached: `insecure-registries`, `registry-mirrors`, and the CAs in
    /// `certs.d` beside the configuration file and in Docker's `/etc/docker/certs.d`.
    pub fn registries(&self) -> Result<berth_distribution::RegistryConfig, String> {
        let mut c = berth_distribution::RegistryConfig::new(&self.insecure_registries)
            .and_then(|c| c.with_mirrors(&self.registry_mirrors))
            .map_err(|e| e.to_string())?;
        if let Some(dir) = self.config_file.parent() {
            c.certs_dirs.push(dir.join("certs.d"));
        }
        c.certs_dirs.push(PathBuf::from("/etc/docker/certs.d"));
        Ok(c)
    }
}

/// One of `default-address-pools`: subnets of `size` bits cut from `base`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressPool {
    pub base: String,
    pub size: u8,
}

pub const BUILTIN_RUNTIME: &str = "berth-runc";

/// Where the built-in runtime, shim and init live: beside the running binary.
pub fn beside_exe(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(name)))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Where a helper binary berthd needs as a file (the init it mounts into containers) is:
/// beside berthd, else on `PATH`; when it is in neither, the places looked at.
pub fn locate_helper(name: &str) -> Result<PathBuf, Vec<PathBuf>> {
    let beside = std::env::current_exe().ok().and_then(|p| p.parent().map(|d| d.join(name)));
    let path = std::env::var_os("PATH").map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    locate_in(name, beside, &path, |p| p.is_file())
}

/// [`locate_helper`] over given places (pure but for `exists`).
fn locate_in(
    name: &str,
    beside: Option<PathBuf>,
    path: &str,
    exists: impl Fn(&Path) -> bool,
) -> Result<PathBuf, Vec<PathBuf>> {
    let mut looked: Vec<PathBuf> = Vec::new();
    for p in
        beside.into_iter().chain(path.split(':').filter(|d| !d.is_empty()).map(|d| Path::new(d).join(name)))
    {
        if !looked.contains(&p) {
            looked.push(p);
        }
    }
    looked.iter().find(|p| exists(p)).cloned().ok_or(looked)
}

/// A binary of that name on `PATH`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

/// The log drivers berth has: `json-file` (also under Docker's `local` name) and `none`.
pub fn check_log_driver(name: &str) -> Result<(), String> {
    match name {
        "json-file" | "local" | "none" => Ok(()),
        other => {
            Err(format!("logger: no log driver named '{other}' is registered: use json-file, local or none"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_are_found_beside_berthd_then_on_path() {
        let have = |set: &'static [&'static str]| move |p: &Path| set.iter().any(|s| Path::new(s) == p);
        let beside = Some(PathBuf::from("/opt/berth/bin/berth-init"));
        let found = |b: Option<PathBuf>, path: &str, set: &'static [&'static str]| {
            locate_in("berth-init", b, path, have(set))
        };
        assert_eq!(
            found(
                beside.clone(),
                "/usr/bin:/usr/local/bin",
                &["/opt/berth/bin/berth-init", "/usr/bin/berth-init"]
            ),
            Ok(PathBuf::from("/opt/berth/bin/berth-init"))
        );
        assert_eq!(
            found(beside.clone(), "/usr/bin:/usr/local/bin", &["/usr/local/bin/berth-init"]),
            Ok(PathBuf::from("/usr/local/bin/berth-init"))
        );
        assert_eq!(
            found(beside, "/usr/bin::/usr/bin", &[]),
            Err(vec![PathBuf::from("/opt/berth/bin/berth-init"), PathBuf::from("/usr/bin/berth-init")])
        );
    }
}
