//! A container's mounts: `-v` (`Binds`), `--mount` (`Mounts`), `--volumes-from`, and the
//! anonymous volumes its image's `VOLUME`s and `-v /path` ask for, planned once at create into
//! [`MountEntry`]s kept in the record (anonymous volumes get their names then, as on Docker).
//! Planning is pure; [`prepare_sources`] creates missing `-v` sources. The spec and inspect's
//! `Mounts` are both derived from the entries.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use berth_api::shape::MountPoint;
use berth_records::{HostConfig, MountType};
pub use berth_records::{MissingSource, MountEntry, MountKind};

use crate::error::{EngineError, Result};

fn entry(kind: MountKind, source: &str, destination: &str, rw: bool) -> MountEntry {
    MountEntry {
        kind,
        source: source.into(),
        destination: destination.into(),
        rw,
        mode: String::new(),
        propagation: String::new(),
        options: Vec::new(),
        missing: MissingSource::NotABind,
        anonymous: false,
        nocopy: false,
        volume_options: BTreeMap::new(),
        volume_labels: BTreeMap::new(),
    }
}

/// The spec's mount; `source` is a volume's directory for volumes.
pub fn spec(m: &MountEntry, volume_dir: Option<PathBuf>) -> berth_spec::Mount {
    let mut options = m.options.clone();
    if !m.rw {
        options.push("ro".into());
    }
    let (kind, source) = match m.kind {
        MountKind::Bind => ("bind", PathBuf::from(&m.source)),
        MountKind::Volume => ("bind", volume_dir.unwrap_or_default()),
        MountKind::Tmpfs => ("tmpfs", PathBuf::from("tmpfs")),
    };
    berth_spec::Mount { destination: m.destination.clone().into(), kind: kind.into(), source, options }
}

/// Inspect's view; `volumes` is the volume store's root.
pub fn view(m: &MountEntry, volumes: &Path) -> MountPoint {
    let mut v = MountPoint {
        kind: match m.kind {
            MountKind::Bind => "bind",
            MountKind::Volume => "volume",
            MountKind::Tmpfs => "tmpfs",
        }
        .into(),
        source: m.source.clone(),
        destination: m.destination.clone(),
        mode: m.mode.clone(),
        rw: m.rw,
        propagation: m.propagation.clone(),
        ..Default::default()
    };
    match m.kind {
        MountKind::Volume => {
            v.name = Some(m.source.clone());
            v.driver = Some("local".into());
            v.source = volumes.join(&m.source).join("_data").display().to_string();
        }
        MountKind::Tmpfs => v.source = String::new(),
        MountKind::Bind => {}
    }
    v
}

fn invalid(m: String) -> EngineError {
    EngineError::InvalidArgument(m)
}

/// `Binds`, `Mounts`, the mounts inherited with `--volumes-from`, then an anonymous volume for
/// each of `volumes` (the config's `Volumes`) that nothing else mounts.
pub fn plan(hc: &HostConfig, volumes: &[String], inherited: Vec<MountEntry>) -> Result<Vec<MountEntry>> {
    let mut out = Vec::new();
    for b in hc.binds.clone().unwrap_or_default() {
        out.push(parse_bind(&b)?);
    }
    for m in hc.mounts.clone().unwrap_or_default() {
        out.push(parse_mount(&m)?);
    }
    let mut seen = HashSet::new();
    for m in &out {
        if !seen.insert(m.destination.clone()) {
            return Err(invalid(format!("Duplicate mount point: {}", m.destination)));
        }
    }
    for m in inherited {
        if seen.insert(m.destination.clone()) {
            out.push(m);
        }
    }
    for dst in volumes {
        let dst = dst.trim_end_matches('/');
        let dst = if dst.is_empty() { "/" } else { dst };
        if !dst.starts_with('/') {
            return Err(invalid(format!(
                "invalid mount config: invalid mount path: '{dst}' mount path must be absolute"
            )));
        }
        if seen.insert(dst.to_string()) {
            let mut e = entry(MountKind::Volume, "", dst, true);
            e.options = vec!["rbind".into(), "rprivate".into()];
            e.anonymous = true;
            out.push(e);
        }
    }
    Ok(out)
}

/// `-v src:dst[:opts]`: an absolute `src` is a bind, anything else a volume's name.
fn parse_bind(b: &str) -> Result<MountEntry> {
    let parts: Vec<&str> = b.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, o] => (*s, *d, *o),
        _ => return Err(invalid(format!("invalid volume specification: '{b}'"))),
    };
    if src.is_empty() {
        return Err(invalid(format!("invalid volume specification: '{b}'")));
    }
    if !dst.starts_with('/') {
        return Err(invalid(format!(
            "invalid volume specification: '{b}': invalid mount config: mount path must be absolute"
        )));
    }
    let bind = src.starts_with('/');
    let mut e = entry(if bind { MountKind::Bind } else { MountKind::Volume }, src, dst, true);
    let mut propagation = "rprivate".to_string();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => e.rw = false,
            "rw" => e.rw = true,
            "nocopy" if !bind => e.nocopy = true,
            "z" | "Z" | "consistent" | "cached" | "delegated" => {}
            p @ ("private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave") if bind => {
                propagation = p.into()
            }
            other => {
                return Err(invalid(format!("invalid volume specification: '{b}': invalid mode: {other}")))
            }
        }
    }
    e.mode = opts.into();
    e.options = vec!["rbind".into(), propagation.clone()];
    if bind {
        e.propagation = propagation;
        e.missing = MissingSource::Create;
    }
    Ok(e)
}

fn parse_mount(m: &berth_records::Mount) -> Result<MountEntry> {
    let target = m.target.clone().unwrap_or_default();
    if !target.starts_with('/') {
        return Err(invalid(format!(
            "invalid mount config: invalid mount path: '{target}' mount path must be absolute"
        )));
    }
    let ro = m.read_only.unwrap_or(false);
    let src = m.source.clone().unwrap_or_default();
    match m.typ {
        Some(MountType::Bind) => {
            if src.is_empty() {
                return Err(invalid(
                    "invalid mount config for type \"bind\": field Source must not be empty".into(),
                ));
            }
            let propagation = m
                .bind_options
                .as_ref()
                .and_then(|b| b.propagation.as_ref())
                .map(|p| p.to_string())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "rprivate".into());
            let recursive = !m.bind_options.as_ref().and_then(|b| b.non_recursive).unwrap_or(false);
            let mut e = entry(MountKind::Bind, &src, &target, !ro);
            e.options = vec![if recursive { "rbind" } else { "bind" }.to_string(), propagation.clone()];
            e.propagation = propagation;
            e.missing = MissingSource::Refuse;
            Ok(e)
        }
        Some(MountType::Tmpfs) => {
            if !src.is_empty() {
                return Err(invalid(
                    "invalid mount config for type \"tmpfs\": field Source must not be specified".into(),
                ));
            }
            let mut e = entry(MountKind::Tmpfs, "", &target, !ro);
            e.options = vec!["nosuid".into(), "nodev".into(), "noexec".into()];
            if let Some(t) = &m.tmpfs_options {
                if let Some(s) = t.size_bytes.filter(|s| *s > 0) {
                    e.options.push(format!("size={s}"));
                }
                if let Some(mode) = t.mode.filter(|m| *m > 0) {
                    e.options.push(format!("mode={mode:o}"));
                }
            }
            Ok(e)
        }
        Some(MountType::Volume) => {
            let mut e = entry(MountKind::Volume, &src, &target, !ro);
            e.mode = "z".into();
            e.options = vec!["rbind".into(), "rprivate".into()];
            e.anonymous = src.is_empty();
            if let Some(o) = &m.volume_options {
                e.nocopy = o.no_copy.unwrap_or(false);
                e.volume_labels = o.labels.clone().unwrap_or_default().into_iter().collect();
                if let Some(dc) = &o.driver_config {
                    if let Some(d) = dc.name.as_deref().filter(|d| !d.is_empty() && *d != "local") {
                        return Err(EngineError::NotFound(format!(
                            "error looking up volume plugin {d}: plugin \"{d}\" not found"
                        )));
                    }
                    e.volume_options = dc.options.clone().unwrap_or_default().into_iter().collect();
                }
                if o.subpath.as_deref().is_some_and(|s| !s.is_empty()) {
                    return Err(invalid(
                        "invalid mount config: volume-subpath is not supported by this berth yet: mount the whole volume".into(),
                    ));
                }
            }
            Ok(e)
        }
        other => Err(invalid(format!(
            "invalid mount config: mount type {:?} is not supported: use bind, volume or tmpfs",
            other.map(|t| t.to_string()).unwrap_or_default()
        ))),
    }
}

/// `--volumes-from c[:ro|:rw]`: the container's name and the mode its mounts get (`None`: as
/// they are).
pub fn parse_volumes_from(spec: &str) -> Result<(&str, Option<bool>)> {
    match spec.rsplit_once(':') {
        None => Ok((spec, None)),
        Some((c, "ro")) => Ok((c, Some(false))),
        Some((c, "rw")) => Ok((c, Some(true))),
        Some((_, m)) => Err(invalid(format!("invalid mode: {m}"))),
    }
}

/// Creates the missing sources of `-v` binds and refuses missing `--mount` bind sources, as
/// Docker does at create and at start.
pub fn prepare_sources(mounts: &[MountEntry]) -> Result<()> {
    for m in mounts.iter().filter(|m| m.kind == MountKind::Bind) {
        let src = Path::new(&m.source);
        if src.exists() {
            continue;
        }
        match m.missing {
            MissingSource::Create => std::fs::create_dir_all(src)?,
            _ => {
                return Err(invalid(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {}",
                    src.display()
                )))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_records::Mount;

    fn binds(b: &[&str]) -> HostConfig {
        HostConfig { binds: Some(b.iter().map(|s| s.to_string()).collect()), ..Default::default() }
    }

    #[test]
    fn binds_are_planned() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().display().to_string();
        let m = plan(&binds(&[&format!("{src}:/data:ro")]), &[], vec![]).unwrap();
        assert_eq!(m[0].kind, MountKind::Bind);
        assert_eq!(spec(&m[0], None).options, vec!["rbind", "rprivate", "ro"]);
        assert!(!view(&m[0], Path::new("/v")).rw);
        let bad = |b: &str| plan(&binds(&[b]), &[], vec![]).unwrap_err().to_string();
        assert!(bad(&format!("{src}:data")).contains("must be absolute"));
        assert!(bad(&format!("{src}:/d:bogus")).contains("invalid mode: bogus"));
        assert!(bad("a:b:c:d").contains("invalid volume specification"));
        assert!(bad(&format!("{src}:/d:nocopy")).contains("invalid mode: nocopy"));
        let dup = binds(&[&format!("{src}:/d"), &format!("{src}:/d")]);
        assert!(plan(&dup, &[], vec![]).unwrap_err().to_string().contains("Duplicate mount point"));
        // Planning does nothing to the host; preparing creates `-v` sources and refuses
        // missing `--mount` ones.
        let missing = d.path().join("made-by-v");
        let v = plan(&binds(&[&format!("{}:/m", missing.display())]), &[], vec![]).unwrap();
        assert!(!missing.exists());
        prepare_sources(&v).unwrap();
        assert!(missing.is_dir());
        let mount = Mount {
            target: Some("/m".into()),
            source: Some(d.path().join("absent").display().to_string()),
            typ: Some(MountType::Bind),
            ..Default::default()
        };
        let m = plan(&HostConfig { mounts: Some(vec![mount]), ..Default::default() }, &[], vec![]).unwrap();
        assert!(prepare_sources(&m).unwrap_err().to_string().contains("bind source path does not exist"));
    }

    #[test]
    fn volumes_are_planned() {
        let hc = HostConfig {
            binds: Some(vec!["data:/data:ro".into(), "cache:/cache:nocopy".into()]),
            mounts: Some(vec![Mount {
                target: Some("/m".into()),
                source: Some("named".into()),
                typ: Some(MountType::Volume),
                volume_options: Some(berth_records::VolumeOptions {
                    no_copy: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let image_volumes = vec!["/data".to_string(), "/var/lib/app/".to_string()];
        let m = plan(&hc, &image_volumes, vec![]).unwrap();
        let got: Vec<(MountKind, &str, &str, bool, bool, bool)> = m
            .iter()
            .map(|e| (e.kind, e.source.as_str(), e.destination.as_str(), e.rw, e.nocopy, e.anonymous))
            .collect();
        assert_eq!(
            got,
            vec![
                (MountKind::Volume, "data", "/data", false, false, false),
                (MountKind::Volume, "cache", "/cache", true, true, false),
                (MountKind::Volume, "named", "/m", true, true, false),
                (MountKind::Volume, "", "/var/lib/app", true, false, true),
            ]
        );
        let v = view(&m[0], Path::new("/root/volumes"));
        assert_eq!(
            (v.kind.as_str(), v.name.as_deref(), v.source.as_str(), v.mode.as_str(), v.propagation.as_str()),
            ("volume", Some("data"), "/root/volumes/data/_data", "ro", "")
        );
        assert_eq!(view(&m[2], Path::new("/v")).mode, "z");
        let s = spec(&m[0], Some("/root/volumes/data/_data".into()));
        assert_eq!(
            (s.kind.as_str(), s.options.clone()),
            ("bind", vec!["rbind".into(), "rprivate".into(), "ro".into()])
        );
        // Inherited mounts fill only destinations nobody else took.
        let inherited = vec![entry(MountKind::Volume, "other", "/data", true), {
            entry(MountKind::Volume, "shared", "/shared", true)
        }];
        let m = plan(&binds(&["data:/data"]), &[], inherited).unwrap();
        assert_eq!(m.iter().map(|e| e.source.as_str()).collect::<Vec<_>>(), vec!["data", "shared"]);
    }

    #[test]
    fn volumes_from_specs() {
        assert_eq!(parse_volumes_from("c1").unwrap(), ("c1", None));
        assert_eq!(parse_volumes_from("c1:ro").unwrap(), ("c1", Some(false)));
        assert_eq!(parse_volumes_from("c1:rw").unwrap(), ("c1", Some(true)));
        assert!(parse_volumes_from("c1:xx").is_err());
    }
}
