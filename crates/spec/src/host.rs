//! Reads the [`HostInfo`] the spec generator needs from this machine: the capability bounding set,
//! the cgroup version, the device nodes, the kernel version. This module does the I/O so that
//! [`crate::generate`] need not.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::{DeviceNode, HostInfo};

/// Capabilities in this process's bounding set (`CapBnd` in `/proc/self/status`).
pub fn bounding_caps() -> Vec<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(u64::MAX);
    crate::ALL_CAPS
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1u64 << i) != 0)
        .map(|(_, c)| c.to_string())
        .collect()
}

pub use berth_sys::cgroup_v2;

/// One device node, or None for anything that is not a character or block device.
pub fn device_node(path: &Path) -> std::io::Result<Option<DeviceNode>> {
    let md = std::fs::metadata(path)?;
    let ft = md.file_type();
    let kind = if ft.is_char_device() {
        'c'
    } else if ft.is_block_device() {
        'b'
    } else {
        return Ok(None);
    };
    let rdev = md.rdev();
    Ok(Some(DeviceNode {
        path: path.to_path_buf(),
        kind,
        major: nix::sys::stat::major(rdev) as i64,
        minor: nix::sys::stat::minor(rdev) as i64,
        mode: md.mode(),
        uid: md.uid(),
        gid: md.gid(),
    }))
}

/// Every device node under `dir`, as `--privileged` exposes them (skipping `/dev/pts`, `/dev/shm`,
/// `/dev/mqueue` and the console, like Docker).
pub fn devices(dir: &Path) -> Vec<DeviceNode> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if !matches!(name.to_str(), Some("pts" | "shm" | "mqueue" | ".lxc" | ".lxd-mounts" | ".udev"))
                {
                    stack.push(p);
                }
            } else if !ft.is_symlink() && name != "console" {
                if let Ok(Some(n)) = device_node(&p) {
                    out.push(n);
                }
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn kernel_version() -> (u32, u32) {
    let release =
        nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default();
    let mut it = release.split(|c: char| !c.is_ascii_digit()).filter_map(|p| p.parse().ok());
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

/// Reads everything at once.
pub fn detect(init_path: PathBuf, systemd_cgroup: bool) -> HostInfo {
    HostInfo {
        bounding_caps: bounding_caps(),
        cgroup_v2: cgroup_v2(),
        systemd_cgroup,
        devices: devices(Path::new("/dev")),
        init_path,
        arch: berth_oci::platform::host_arch().to_string(),
        kernel: kernel_version(),
    }
}
