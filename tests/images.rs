//! Building images for tests: layer tars entry by entry (whiteouts, links, devices, xattrs),
//! configs with the right diff IDs, `docker save` archives holding them, and build contexts.

use std::path::{Path, PathBuf};

use berth_image::Digest;
use serde_json::json;

/// A build context: a new directory with these files (parents made as needed).
pub fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// Writes the busybox fixture (a `docker save` archive) into `dir`; returns its path and the
/// image ID the script prints.
pub fn busybox_fixture(dir: &Path) -> (PathBuf, String) {
    let tar = dir.join("busybox.tar");
    let out =
        std::process::Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/busybox-image"))
            .arg(&tar)
            .output()
            .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (tar, String::from_utf8(out.stdout).unwrap().trim().to_string())
}

/// One entry of a test layer.
pub enum Entry<'a> {
    Dir(&'a str, u32, u64),
    File(&'a str, &'a [u8], u32),
    /// A file with extended attributes.
    FileX(&'a str, &'a [u8], u32, &'a [(&'a str, &'a [u8])]),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
    Char(&'a str, u32, u32),
    Fifo(&'a str),
    /// `.wh.<name>` beside `name`.
    Whiteout(&'a str),
    /// `.wh..wh..opq` in the directory.
    Opaque(&'a str),
}

fn header(kind: tar::EntryType, mode: u32, uid: u64, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(uid);
    h.set_gid(uid);
    h.set_size(size);
    h.set_mtime(1_600_000_000);
    h
}

/// An uncompressed layer tar.
pub fn layer(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            Entry::Dir(p, mode, uid) => {
                let mut h = header(tar::EntryType::Directory, *mode, *uid, 0);
                b.append_data(&mut h, format!("{p}/"), std::io::empty()).unwrap();
            }
            Entry::File(p, data, mode) => {
                let mut h = header(tar::EntryType::Regular, *mode, 0, data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            Entry::FileX(p, data, mode, xattrs) => {
                let records: Vec<(String, &[u8])> =
                    xattrs.iter().map(|(k, v)| (format!("SCHILY.xattr.{k}"), *v)).collect();
                b.append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), *v))).unwrap();
                let mut h = header(tar::EntryType::Regular, *mode, 0, data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            Entry::Symlink(p, target) => {
                let mut h = header(tar::EntryType::Symlink, 0o777, 0, 0);
                b.append_link(&mut h, p, target).unwrap();
            }
            Entry::HardLink(p, target) => {
                let mut h = header(tar::EntryType::Link, 0o644, 0, 0);
                b.append_link(&mut h, p, target).unwrap();
            }
            Entry::Char(p, major, minor) => {
                let mut h = header(tar::EntryType::Char, 0o666, 0, 0);
                h.set_device_major(*major).unwrap();
                h.set_device_minor(*minor).unwrap();
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            Entry::Fifo(p) => {
                let mut h = header(tar::EntryType::Fifo, 0o644, 0, 0);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            Entry::Whiteout(p) => {
                let (dir, name) =
                    p.rsplit_once('/').map(|(d, n)| (format!("{d}/"), n)).unwrap_or((String::new(), p));
                let mut h = header(tar::EntryType::Regular, 0o600, 0, 0);
                b.append_data(&mut h, format!("{dir}.wh.{name}"), std::io::empty()).unwrap();
            }
            Entry::Opaque(dir) => {
                let mut h = header(tar::EntryType::Regular, 0o600, 0, 0);
                b.append_data(&mut h, format!("{dir}/.wh..wh..opq"), std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// An image: its config (bytes, as saved) and layers.
pub struct TestImage {
    pub config: Vec<u8>,
    pub layers: Vec<Vec<u8>>,
    pub tags: Vec<String>,
}

impl TestImage {
    pub fn id(&self) -> String {
        Digest::of(&self.config).to_string()
    }

    pub fn diff_ids(&self) -> Vec<String> {
        self.layers.iter().map(|l| Digest::of(l).to_string()).collect()
    }
}

/// An image of `layers`, with `created` (RFC 3339), labels, and a history entry per layer plus
/// an empty `CMD` one.
pub fn image(layers: Vec<Vec<u8>>, tags: &[&str], created: &str, labels: serde_json::Value) -> TestImage {
    let diff_ids: Vec<String> = layers.iter().map(|l| Digest::of(l).to_string()).collect();
    let mut history: Vec<serde_json::Value> = (0..layers.len())
        .map(|i| json!({"created": created, "created_by": format!("/bin/sh -c #(nop) ADD layer{i} in / ")}))
        .collect();
    history.push(
        json!({"created": created, "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": true}),
    );
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/bin:/bin"], "Labels": labels},
        "history": history,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    TestImage {
        config: serde_json::to_vec(&config).unwrap(),
        layers,
        tags: tags.iter().map(|s| s.to_string()).collect(),
    }
}

/// A legacy `docker save` archive (what Docker 20.10 writes): `<id>.json`, `<n>/layer.tar`,
/// manifest.json, repositories.
pub fn docker_archive(images: &[&TestImage]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut manifest = Vec::new();
    let add = |b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]| {
        let mut h = header(tar::EntryType::Regular, 0o644, 0, data.len() as u64);
        b.append_data(&mut h, name, data).unwrap();
    };
    for img in images {
        let id = img.id();
        let hex = id.trim_start_matches("sha256:");
        add(&mut b, &format!("{hex}.json"), &img.config);
        let mut layers = Vec::new();
        for l in &img.layers {
            let dir = Digest::of(l).hex().to_string();
            add(&mut b, &format!("{dir}/layer.tar"), l);
            layers.push(format!("{dir}/layer.tar"));
        }
        manifest.push(json!({"Config": format!("{hex}.json"), "RepoTags": img.tags, "Layers": layers}));
    }
    add(&mut b, "manifest.json", &serde_json::to_vec(&manifest).unwrap());
    b.into_inner().unwrap()
}

/// A `docker save` archive at `dir/<name>.tar` of one image tagged `<name>:1` whose single
/// layer is a file of `size` pseudo-random bytes: nothing compresses it, so its transfer takes
/// as long as its size says.
pub fn noise_archive(dir: &Path, name: &str, size: usize) -> PathBuf {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let tag = format!("{name}:1");
    let img =
        image(vec![layer(&[Entry::File("noise", &data, 0o644)])], &[&tag], "2024-01-02T03:04:05Z", json!({}));
    let path = dir.join(format!("{name}.tar"));
    std::fs::write(&path, docker_archive(&[&img])).unwrap();
    path
}
