//! One conformance suite, run against every snapshotter (needs root for mounts).

use std::fs;
use std::io::Write;
use std::path::Path;

use berth_archive::{apply, ApplyOptions, ChangeKind};
use berth_snapshot::{unmount, Native, Overlay, Snapshotter};

fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn apply_to(s: &dyn Snapshotter, id: u64, parents: &[u64], tar: &[u8]) {
    let dir = s.prepare(id, parents).unwrap();
    apply(&dir, tar, &ApplyOptions { whiteouts: s.whiteouts(), same_owner: true }).unwrap();
}

/// Unmounts on drop, so a failing assertion does not leave a mount behind.
struct Mounted<'a>(&'a Path);
impl Drop for Mounted<'_> {
    fn drop(&mut self) {
        let _ = unmount(self.0);
    }
}

fn stack_mount_diff_remove(s: &dyn Snapshotter) {
    let work = tempfile::tempdir().unwrap();
    apply_to(s, 1, &[], &layer(&[("a", b"a"), ("keep", b"k")]));
    apply_to(s, 2, &[1], &layer(&[(".wh.a", b""), ("b", b"bb")]));
    s.prepare(3, &[2, 1]).unwrap();
    let target = work.path().join("rootfs");
    fs::create_dir(&target).unwrap();
    s.mount(3, &[2, 1], &target).unwrap();
    {
        let _m = Mounted(&target);
        assert!(!target.join("a").exists(), "{}: whiteout hides a", s.name());
        assert_eq!(fs::read(target.join("b")).unwrap(), b"bb");
        assert_eq!(fs::read(target.join("keep")).unwrap(), b"k");
        fs::write(target.join("c"), b"new").unwrap();
        fs::remove_file(target.join("b")).unwrap();
    }
    assert!(!target.join("c").exists(), "unmounted");
    let mut tar = Vec::new();
    let changes = s.diff(3, &[2, 1], Some(&mut tar as &mut dyn Write)).unwrap();
    let got: Vec<_> = changes.iter().map(|c| (c.path.to_str().unwrap().to_string(), c.kind)).collect();
    assert_eq!(
        got,
        [("/b".to_string(), ChangeKind::Deleted), ("/c".to_string(), ChangeKind::Added)],
        "{}",
        s.name()
    );
    // The diff is a layer: applied on the parents it gives the container's view.
    apply_to(s, 4, &[2, 1], &tar);
    s.prepare(5, &[4, 2, 1]).unwrap();
    s.mount(5, &[4, 2, 1], &target).unwrap();
    {
        let _m = Mounted(&target);
        let mut names: Vec<_> = fs::read_dir(&target).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["c", "keep"], "{}", s.name());
    }
    assert!(s.usage(1).unwrap() >= 2);
    let mut ids = s.ids().unwrap();
    ids.sort();
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    for id in ids {
        s.remove(id).unwrap();
    }
    assert!(s.ids().unwrap().is_empty());
}

fn long_stacks_mount(s: &dyn Snapshotter, layers: u64) {
    let work = tempfile::tempdir().unwrap();
    let mut parents: Vec<u64> = Vec::new();
    for id in 1..=layers {
        let name = format!("file{id}");
        apply_to(s, id, &parents, &layer(&[(&name, b"x")]));
        parents.insert(0, id);
    }
    let top = layers + 1;
    s.prepare(top, &parents).unwrap();
    let target = work.path().join("rootfs");
    fs::create_dir(&target).unwrap();
    s.mount(top, &parents, &target).unwrap();
    {
        let _m = Mounted(&target);
        assert_eq!(fs::read_dir(&target).unwrap().count() as u64, layers, "{}", s.name());
    }
    for id in 1..=top {
        s.remove(id).unwrap();
    }
}

#[test]
fn overlay_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let s = Overlay::open(dir.path().join("overlayfs")).expect("overlayfs works on this host");
    stack_mount_diff_remove(&s);
}

#[test]
fn native_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let s = Native::open(dir.path().join("native")).unwrap();
    stack_mount_diff_remove(&s);
}

/// Absolute lower paths of 150 layers would overflow the mount options' page; relative ones fit.
#[test]
fn overlay_mounts_150_layers() {
    let dir = tempfile::tempdir().unwrap();
    let s = Overlay::open(
        dir.path().join("a-rather-long-data-root-path/to/make/absolute/lowerdirs/too/long/overlayfs"),
    )
    .unwrap();
    long_stacks_mount(&s, 150);
}

#[test]
fn native_mounts_long_stacks() {
    let dir = tempfile::tempdir().unwrap();
    let s = Native::open(dir.path().join("native")).unwrap();
    long_stacks_mount(&s, 30);
}

#[test]
fn open_picks_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(berth_snapshot::open(dir.path(), None).unwrap().name(), "overlayfs");
    assert_eq!(berth_snapshot::open(dir.path(), Some("native")).unwrap().name(), "native");
    // A root that holds native snapshots stays native.
    let native = berth_snapshot::open(dir.path(), Some("native")).unwrap();
    native.prepare(1, &[]).unwrap();
    assert_eq!(berth_snapshot::open(dir.path(), None).unwrap().name(), "native");
    let err = berth_snapshot::open(dir.path(), Some("zfs")).err().unwrap();
    assert!(err.to_string().contains("unknown"), "{err}");
}

/// Where overlayfs cannot stack (its root is itself on overlayfs), `open` falls back to native.
#[test]
fn open_falls_back_to_native_where_overlay_cannot_work() {
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    for d in ["l", "u", "w", "m"] {
        fs::create_dir(dir.path().join(d)).unwrap();
    }
    let p = |d: &str| dir.path().join(d).display().to_string();
    let data = format!("lowerdir={},upperdir={},workdir={}", p("l"), p("u"), p("w"));
    let m = dir.path().join("m");
    nix::mount::mount(
        Some("overlay"),
        &m,
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(data.as_str()),
    )
    .unwrap();
    let _m = Mounted(&m);
    assert!(Overlay::open(m.join("snapshots/overlayfs")).is_err(), "overlayfs on overlayfs is refused");
    let s = berth_snapshot::open(&m.join("snapshots"), None).unwrap();
    assert_eq!(s.name(), "native");
    stack_mount_diff_remove(s.as_ref());
}
