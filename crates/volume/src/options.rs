//! The local driver's rules, pure: volume names, the options `volume create -o` accepts, and
//! the `o=` mount options split into flags and data as mount(8) does.

use std::collections::BTreeMap;

use nix::mount::MsFlags;

use crate::VolumeError;

/// Docker's rule for local volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate_name(name: &str) -> Result<(), VolumeError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !first_ok || !rest_ok {
        return Err(VolumeError::Invalid(format!(
            "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )));
    }
    if name.len() < 2 {
        return Err(VolumeError::Invalid(format!(
            "create {name}: volume name is too short, names should be at least two alphanumeric characters"
        )));
    }
    Ok(())
}

/// The options of `volume create -o` the local driver knows: `type`, `device`, `o`, and
/// `size`, which needs filesystem quotas berth does not set up.
pub fn validate_options(name: &str, opts: &BTreeMap<String, String>) -> Result<(), VolumeError> {
    for k in opts.keys() {
        match k.as_str() {
            "type" | "device" | "o" => {}
            "size" => {
                return Err(VolumeError::Invalid(format!(
                    "create {name}: quota size requested but no quota support"
                )))
            }
            other => return Err(VolumeError::Invalid(format!("create {name}: invalid option: {other:?}"))),
        }
    }
    if opts.contains_key("device")
        && !opts.contains_key("type")
        && !opts.get("o").is_some_and(|o| has_bind(o))
    {
        return Err(VolumeError::Invalid(format!(
            "create {name}: missing required option: \"type\": give the filesystem type (or type=none with o=bind)"
        )));
    }
    Ok(())
}

fn has_bind(o: &str) -> bool {
    o.split(',').any(|f| f == "bind" || f == "rbind")
}

/// What `mount(2)` gets for a volume with options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountRequest {
    pub source: String,
    pub fstype: String,
    pub flags: MsFlags,
    pub data: String,
}

/// The mount for a volume's options, or `None` when it is a plain directory.
pub fn mount_request(opts: &BTreeMap<String, String>) -> Option<MountRequest> {
    let fstype = opts.get("type").cloned().unwrap_or_default();
    let device = opts.get("device").cloned().unwrap_or_default();
    let o = opts.get("o").cloned().unwrap_or_default();
    if fstype.is_empty() && device.is_empty() && o.is_empty() {
        return None;
    }
    let (flags, data) = parse_mount_options(&o);
    Some(MountRequest { source: device, fstype, flags, data })
}

/// Splits mount(8)-style options into flags and the filesystem's own data, as Docker's local
/// driver does (`o=size=64m,uid=1000,ro` → `MS_RDONLY` and `size=64m,uid=1000`).
pub fn parse_mount_options(o: &str) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for opt in o.split(',').filter(|s| !s.is_empty()) {
        let (set, clear) = match opt {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            other => {
                data.push(other);
                continue;
            }
        };
        flags.insert(set);
        flags.remove(clear);
    }
    (flags, data.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let table: &[(&str, Option<&str>)] = &[
            ("data", None),
            ("a1_b.c-d", None),
            ("0x", None),
            ("a", Some("volume name is too short")),
            ("x/y", Some("includes invalid characters")),
            ("x y", Some("includes invalid characters")),
            ("_x", Some("includes invalid characters")),
            ("", Some("includes invalid characters")),
            ("/abs", Some("If you intended to pass a host directory, use absolute path")),
        ];
        for (name, want) in table {
            match (validate_name(name), want) {
                (Ok(()), None) => {}
                (Err(e), Some(w)) => assert!(e.to_string().contains(w), "{name}: {e}"),
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn options() {
        let o = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        assert!(
            validate_options("v", &o(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m")])).is_ok()
        );
        assert!(validate_options("v", &o(&[("type", "none"), ("device", "/srv"), ("o", "bind")])).is_ok());
        assert!(validate_options("v", &o(&[("device", "/srv"), ("o", "bind")])).is_ok());
        let e = validate_options("v", &o(&[("foo", "bar")])).unwrap_err().to_string();
        assert_eq!(e, "create v: invalid option: \"foo\"");
        let e = validate_options("v", &o(&[("size", "1m")])).unwrap_err().to_string();
        assert_eq!(e, "create v: quota size requested but no quota support");
        assert!(validate_options("v", &o(&[("device", "/dev/sdz")])).is_err());
    }

    #[test]
    fn mount_options_split_into_flags_and_data() {
        let table: &[(&str, MsFlags, &str)] = &[
            ("", MsFlags::empty(), ""),
            ("size=64m", MsFlags::empty(), "size=64m"),
            ("ro,size=1m,uid=1000", MsFlags::MS_RDONLY, "size=1m,uid=1000"),
            ("bind", MsFlags::MS_BIND, ""),
            ("rbind,ro", MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY, ""),
            ("ro,rw", MsFlags::empty(), ""),
            (
                "nosuid,nodev,noexec,addr=10.0.0.1",
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                "addr=10.0.0.1",
            ),
        ];
        for (o, flags, data) in table {
            assert_eq!(parse_mount_options(o), (*flags, data.to_string()), "{o}");
        }
        assert_eq!(mount_request(&BTreeMap::new()), None);
    }
}
