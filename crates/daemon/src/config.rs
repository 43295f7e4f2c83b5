//! Where the engine's configuration comes from: command-line flags over `daemon.json`
//! (Docker's keys where they apply). A key given both ways is an error, as with Docker. What
//! `SIGHUP` reloads is decided here too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_engine::config::{
    beside_exe, check_log_driver, on_path, AddressPool, Config, RuntimeEntry, Tls, UlimitEntry,
    BUILTIN_RUNTIME,
};
use serde::Deserialize;

/// `daemon.json`: the keys berth reads. Unknown keys are refused, as Docker does.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FileConfig {
    pub data_root: Option<PathBuf>,
    pub exec_root: Option<PathBuf>,
    pub hosts: Option<Vec<String>>,
    pub log_driver: Option<String>,
    pub log_opts: Option<BTreeMap<String, String>>,
    pub default_ulimits: Option<BTreeMap<String, UlimitEntry>>,
    pub live_restore: Option<bool>,
    pub runtimes: Option<BTreeMap<String, RuntimeEntry>>,
    pub default_runtime: Option<String>,
    pub debug: Option<bool>,
    pub init_path: Option<PathBuf>,
    pub storage_driver: Option<String>,
    /// The default bridge's address and prefix (`172.17.0.1/16`).
    pub bip: Option<String>,
    /// Where networks' subnets come from: `[{"base": "10.10.0.0/16", "size": 24}]`.
    pub default_address_pools: Option<Vec<AddressPool>>,
    /// The default bridge's MTU (and its containers' interfaces').
    pub mtu: Option<u32>,
    /// berth's own: names the default bridge `<prefix>0`, user-defined bridges
    /// `<prefix>-<id>` and the firewall table `<prefix>` (default: `berth0`, `br-<id>`, `berth`),
    /// so that several daemons on one host keep out of each other's way.
    pub bridge_prefix: Option<String>,
    /// `nftables` (the default: a table of berth's own) or `iptables` (chains of berth's own,
    /// jumped to from the built-in ones), as Docker's key of that name.
    pub firewall_backend: Option<String>,
    /// Registries reached without verified TLS (CIDRs or `host[:port]`), besides loopback.
    pub insecure_registries: Option<Vec<String>>,
    /// How many layers a pull downloads at once (Docker's default: 3).
    pub max_concurrent_downloads: Option<usize>,
    /// How many layers a push uploads at once (Docker's default: 5).
    pub max_concurrent_uploads: Option<usize>,
    /// Docker Hub's mirrors, tried in order before it (`http(s)://host[:port]/`).
    pub registry_mirrors: Option<Vec<String>>,
    /// How often a layer's download is tried before the pull fails (Docker's default: 5).
    pub max_download_attempts: Option<usize>,
    /// TLS on `tcp://` listeners, Docker's keys: `tls`, `tlsverify` (client certificates
    /// signed by `tlscacert` required; implies `tls`), and the PEM files.
    pub tls: Option<bool>,
    pub tlsverify: Option<bool>,
    pub tlscacert: Option<PathBuf>,
    pub tlscert: Option<PathBuf>,
    pub tlskey: Option<PathBuf>,
}

/// The flags that may also come from the file.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub data_root: Option<PathBuf>,
    pub exec_root: Option<PathBuf>,
    pub hosts: Vec<String>,
    pub runtime: Option<String>,
    pub debug: bool,
    pub live_restore: bool,
    pub storage_driver: Option<String>,
    pub config_file: Option<PathBuf>,
    pub tls: bool,
    pub tlsverify: bool,
    pub tlscacert: Option<PathBuf>,
    pub tlscert: Option<PathBuf>,
    pub tlskey: Option<PathBuf>,
}

pub const DEFAULT_CONFIG_FILE: &str = "/etc/berth/daemon.json";
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

/// Reads a daemon.json (a missing file is an empty one when it is the default path).
pub fn read_file(path: &Path, required: bool) -> Result<FileConfig, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(FileConfig::default()),
        Err(e) => return Err(format!("unable to read the configuration file {}: {e}", path.display())),
    };
    parse_file(&text).map_err(|e| format!("unable to configure the daemon with file {}: {e}", path.display()))
}

pub fn parse_file(text: &str) -> Result<FileConfig, String> {
    if text.trim().is_empty() {
        return Ok(FileConfig::default());
    }
    serde_json::from_str(text).map_err(|e| {
        let m = e.to_string();
        match m.strip_prefix("unknown field `") {
            Some(rest) => format!(
                "the following directives don't match any configuration option: {}",
                rest.split('`').next().unwrap_or_default()
            ),
            None => m,
        }
    })
}

/// Flags over the file; a setting given both ways is refused with Docker's message.
pub fn merge(flags: &Flags, file: FileConfig) -> Result<Config, String> {
    let mut both = Vec::new();
    if flags.data_root.is_some() && file.data_root.is_some() {
        both.push("data-root");
    }
    if flags.exec_root.is_some() && file.exec_root.is_some() {
        both.push("exec-root");
    }
    if !flags.hosts.is_empty() && file.hosts.is_some() {
        both.push("hosts");
    }
    if flags.runtime.is_some() && file.default_runtime.is_some() {
        both.push("default-runtime");
    }
    if flags.storage_driver.is_some() && file.storage_driver.is_some() {
        both.push("storage-driver");
    }
    for (name, flag, in_file) in [
        ("tls", flags.tls, file.tls.is_some()),
        ("tlsverify", flags.tlsverify, file.tlsverify.is_some()),
        ("tlscacert", flags.tlscacert.is_some(), file.tlscacert.is_some()),
        ("tlscert", flags.tlscert.is_some(), file.tlscert.is_some()),
        ("tlskey", flags.tlskey.is_some(), file.tlskey.is_some()),
    ] {
        if flag && in_file {
            both.push(name);
        }
    }
    if !both.is_empty() {
        return Err(format!(
            "the following directives are specified both as a flag and in the configuration file: {}",
            both.join(", ")
        ));
    }
    let mut runtimes = BTreeMap::new();
    runtimes.insert(
        BUILTIN_RUNTIME.to_string(),
        RuntimeEntry { path: beside_exe(BUILTIN_RUNTIME), args: Vec::new() },
    );
    for name in ["runc", "crun"] {
        if let Some(path) = on_path(name) {
            runtimes.insert(name.to_string(), RuntimeEntry { path, args: Vec::new() });
        }
    }
    runtimes.extend(file.runtimes.unwrap_or_default());
    let default_runtime =
        flags.runtime.clone().or(file.default_runtime).unwrap_or_else(|| BUILTIN_RUNTIME.to_string());
    if !runtimes.contains_key(&default_runtime) {
        // A path given as the runtime is registered under its own name.
        let p = PathBuf::from(&default_runtime);
        if p.is_absolute() && p.is_file() {
            runtimes.insert(default_runtime.clone(), RuntimeEntry { path: p, args: Vec::new() });
        } else {
            return Err(format!(
                "default runtime {default_runtime:?} is not configured: name one of {} or give a runtime binary's absolute path",
                runtimes.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    let log_driver = file.log_driver.unwrap_or_else(|| "json-file".into());
    check_log_driver(&log_driver)?;
    // Docker's defaults for the PEM files: ca.pem, cert.pem and key.pem in
    // $DOCKER_CERT_PATH, else in ~/.docker.
    let cert_dir = std::env::var_os("DOCKER_CERT_PATH")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default().join(".docker"));
    let verify = flags.tlsverify || file.tlsverify.unwrap_or(false);
    let tls = Tls {
        enabled: verify || flags.tls || file.tls.unwrap_or(false),
        verify,
        files: berth_tls::TlsFiles {
            ca: Some(flags.tlscacert.clone().or(file.tlscacert).unwrap_or_else(|| cert_dir.join("ca.pem"))),
            cert: Some(flags.tlscert.clone().or(file.tlscert).unwrap_or_else(|| cert_dir.join("cert.pem"))),
            key: Some(flags.tlskey.clone().or(file.tlskey).unwrap_or_else(|| cert_dir.join("key.pem"))),
        },
    };
    let hosts = if flags.hosts.is_empty() {
        file.hosts.unwrap_or_else(|| vec![DEFAULT_HOST.to_string()])
    } else {
        flags.hosts.clone()
    };
    // The API is as powerful as root: over TCP only to clients holding a certificate.
    if let Some(h) = hosts.iter().find(|h| h.starts_with("tcp://")).filter(|_| !tls.verify) {
        return Err(format!(
            "listener {h}: a TCP listener requires mutual TLS: start berthd with --tlsverify, --tlscacert (the CA of client certificates), --tlscert and --tlskey"
        ));
    }
    Ok(Config {
        data_root: flags.data_root.clone().or(file.data_root).unwrap_or_else(|| "/var/lib/berth".into()),
        exec_root: flags.exec_root.clone().or(file.exec_root).unwrap_or_else(|| "/run/berth".into()),
        hosts,
        log_driver,
        log_opts: file.log_opts.unwrap_or_default(),
        default_ulimits: file.default_ulimits.unwrap_or_default().into_values().collect(),
        live_restore: flags.live_restore || file.live_restore.unwrap_or(false),
        runtimes,
        default_runtime,
        debug: flags.debug || file.debug.unwrap_or(false),
        init_path: file.init_path,
        storage_driver: flags.storage_driver.clone().or(file.storage_driver),
        config_file: flags.config_file.clone().unwrap_or_else(|| DEFAULT_CONFIG_FILE.into()),
        bip: file.bip,
        mtu: match file.mtu {
            Some(m) if !(68..=65_535).contains(&m) => {
                return Err(format!("invalid mtu {m}: give a value from 68 to 65535"))
            }
            m => m,
        },
        default_address_pools: file.default_address_pools.unwrap_or_default(),
        bridge_prefix: file.bridge_prefix.filter(|p| !p.is_empty()),
        firewall_backend: file
            .firewall_backend
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "nftables".into()),
        insecure_registries: {
            let list = file.insecure_registries.unwrap_or_default();
            berth_distribution::RegistryConfig::new(&list).map_err(|e| e.to_string())?;
            list
        },
        max_concurrent_downloads: match file.max_concurrent_downloads {
            Some(0) => return Err("invalid max-concurrent-downloads 0: give 1 or more".into()),
            n => n.unwrap_or(3),
        },
        max_concurrent_uploads: match file.max_concurrent_uploads {
            Some(0) => return Err("invalid max-concurrent-uploads 0: give 1 or more".into()),
            n => n.unwrap_or(5),
        },
        registry_mirrors: {
            let list = file.registry_mirrors.unwrap_or_default();
            for m in &list {
                berth_distribution::registry::mirror_host(m).map_err(|e| e.to_string())?;
            }
            list
        },
        max_download_attempts: match file.max_download_attempts {
            Some(0) => return Err("invalid max-download-attempts 0: give 1 or more".into()),
            n => n.unwrap_or(5),
        },
        tls,
    })
}

/// What `SIGHUP` changes, as with Docker: debug, live restore, runtimes and the default
/// runtime. Returns the names of the settings that changed.
pub fn reload(cfg: &mut Config, flags: &Flags, file: FileConfig) -> Result<Vec<&'static str>, String> {
    let new = merge(flags, file)?;
    let mut changed = Vec::new();
    if new.debug != cfg.debug {
        cfg.debug = new.debug;
        changed.push("debug");
    }
    if new.live_restore != cfg.live_restore {
        cfg.live_restore = new.live_restore;
        changed.push("live-restore");
    }
    if new.runtimes != cfg.runtimes {
        cfg.runtimes = new.runtimes;
        changed.push("runtimes");
    }
    if new.default_runtime != cfg.default_runtime {
        cfg.default_runtime = new.default_runtime;
        changed.push("default-runtime");
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_from_flags_and_file() {
        let f = parse_file(r#"{"tlsverify": true, "tlscacert": "/pki/ca.pem"}"#).unwrap();
        let flags = Flags { tlscert: Some("/pki/server.pem".into()), ..Default::default() };
        let c = merge(&flags, f).unwrap();
        assert!(c.tls.enabled && c.tls.verify, "tlsverify implies tls");
        assert_eq!(c.tls.files.ca.as_deref(), Some(Path::new("/pki/ca.pem")));
        assert_eq!(c.tls.files.cert.as_deref(), Some(Path::new("/pki/server.pem")));
        assert!(c.tls.files.key.unwrap().ends_with(".docker/key.pem"), "Docker's default place");
        let c = merge(&Flags { tls: true, ..Default::default() }, FileConfig::default()).unwrap();
        assert!(c.tls.enabled && !c.tls.verify);
        // TCP only with client certificates.
        for flags in [
            Flags { hosts: vec!["tcp://127.0.0.1:2376".into()], ..Default::default() },
            Flags { hosts: vec!["tcp://127.0.0.1:2376".into()], tls: true, ..Default::default() },
        ] {
            let err = merge(&flags, FileConfig::default()).unwrap_err();
            assert!(
                err.starts_with("listener tcp://127.0.0.1:2376: a TCP listener requires mutual TLS"),
                "{err}"
            );
        }
        let f = parse_file(r#"{"hosts": ["tcp://:2376"], "tlsverify": true}"#).unwrap();
        assert_eq!(merge(&Flags::default(), f).unwrap().hosts, ["tcp://:2376"]);
        assert!(!merge(&Flags::default(), FileConfig::default()).unwrap().tls.enabled);
        let both = Flags { tlsverify: true, tlskey: Some("/k".into()), ..Default::default() };
        let f = parse_file(r#"{"tlsverify": true, "tlskey": "/k"}"#).unwrap();
        assert_eq!(
            merge(&both, f).unwrap_err(),
            "the following directives are specified both as a flag and in the configuration file: tlsverify, tlskey"
        );
    }

    #[test]
    fn file_keys_and_conflicts() {
        let f = parse_file(
            r#"{"data-root":"/d","log-opts":{"max-size":"10m"},"live-restore":true,
                "default-ulimits":{"nofile":{"Name":"nofile","Soft":100,"Hard":200}},
                "runtimes":{"mine":{"path":"/bin/true","runtimeArgs":["--x"]}},"default-runtime":"mine"}"#,
        )
        .unwrap();
        let c = merge(&Flags::default(), f.clone()).unwrap();
        assert_eq!(c.data_root, PathBuf::from("/d"));
        assert_eq!(c.exec_root, PathBuf::from("/run/berth"));
        assert_eq!(c.hosts, vec![DEFAULT_HOST]);
        assert!(c.live_restore);
        assert_eq!(c.default_runtime, "mine");
        assert_eq!(c.runtimes["mine"].args, vec!["--x"]);
        assert_eq!(c.default_ulimits[0].soft, 100);
        assert_eq!(c.log_opts["max-size"], "10m");
        let flags = Flags { data_root: Some("/x".into()), ..Default::default() };
        assert_eq!(
            merge(&flags, f).unwrap_err(),
            "the following directives are specified both as a flag and in the configuration file: data-root"
        );
        assert_eq!(
            parse_file(r#"{"bogus": 1}"#).unwrap_err(),
            "the following directives don't match any configuration option: bogus"
        );
        let bad = parse_file(r#"{"default-runtime":"nope"}"#).unwrap();
        assert!(merge(&Flags::default(), bad)
            .unwrap_err()
            .contains("default runtime \"nope\" is not configured"));
        let bad = parse_file(r#"{"log-driver":"syslog"}"#).unwrap();
        assert!(merge(&Flags::default(), bad).unwrap_err().contains("no log driver named 'syslog'"));
    }

    #[test]
    fn reload_changes_only_what_docker_reloads() {
        let mut c = merge(&Flags::default(), FileConfig::default()).unwrap();
        let f = parse_file(r#"{"debug":true,"data-root":"/elsewhere"}"#).unwrap();
        assert_eq!(reload(&mut c, &Flags::default(), f).unwrap(), vec!["debug"]);
        assert!(c.debug);
        assert_eq!(c.data_root, PathBuf::from("/var/lib/berth"));
    }
}
