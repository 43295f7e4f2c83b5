//! Extraction: whiteouts, links, devices, metadata, and hostile archives that must never write
//! outside the target.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use berth_archive::{apply, diff_overlay, diff_trees, ApplyOptions, ArchiveError, ChangeKind, Whiteouts};

/// A raw ustar entry: any name, bytes as given (the `tar` crate refuses to write hostile names).
fn raw(name: &str, kind: u8, link: &str, data: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
    h[136..147].copy_from_slice(b"14000000000");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// The entry with another mode (octal digits), its checksum redone.
fn with_mode(mut e: Vec<u8>, mode: &[u8; 7]) -> Vec<u8> {
    e[100..107].copy_from_slice(mode);
    e[148..156].copy_from_slice(b"        ");
    let sum: u32 = e[..512].iter().map(|&b| b as u32).sum();
    e[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    e
}

fn tar_of(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out: Vec<u8> = entries.concat();
    out.extend_from_slice(&[0u8; 1024]);
    out
}

const FILE: u8 = b'0';
const HARD: u8 = b'1';
const SYM: u8 = b'2';
const DIR: u8 = b'5';

/// A sandbox: `target` is extracted into; `outside` must stay untouched.
struct Sandbox {
    dir: tempfile::TempDir,
    victim_mtime: i64,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("target")).unwrap();
        fs::create_dir(dir.path().join("outside")).unwrap();
        let victim = dir.path().join("outside/victim");
        fs::write(&victim, b"original").unwrap();
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).unwrap();
        let victim_mtime = fs::metadata(&victim).unwrap().mtime();
        Sandbox { dir, victim_mtime }
    }
    fn target(&self) -> std::path::PathBuf {
        self.dir.path().join("target")
    }
    fn apply(&self, tar: &[u8], w: Whiteouts) -> Result<berth_archive::ApplyStats, ArchiveError> {
        apply(&self.target(), tar, &ApplyOptions { whiteouts: w, same_owner: true })
    }
    /// Nothing but `target` and the untouched `outside` exist in the sandbox.
    fn assert_contained(&self) {
        let mut names: Vec<_> =
            fs::read_dir(self.dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["outside", "target"]);
        let outside: Vec<_> = fs::read_dir(self.dir.path().join("outside")).unwrap().collect();
        assert_eq!(outside.len(), 1);
        assert_eq!(fs::read(self.dir.path().join("outside/victim")).unwrap(), b"original");
        let meta = fs::metadata(self.dir.path().join("outside/victim")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o644, "the victim's mode is untouched");
        assert_eq!(meta.mtime(), self.victim_mtime, "the victim's times are untouched");
    }
}

#[test]
fn hostile_archives_never_write_outside() {
    // (name, archive, must it be refused?)
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("dotdot file", tar_of(&[raw("../outside/victim", FILE, "", b"pwned")]), true),
        ("deep dotdot", tar_of(&[raw("a/b/../../../outside/victim", FILE, "", b"pwned")]), true),
        ("absolute path is contained", tar_of(&[raw("/outside/victim", FILE, "", b"contained")]), false),
        (
            "absolute dotdot is contained",
            tar_of(&[raw("/../../outside/victim", FILE, "", b"contained")]),
            false,
        ),
        (
            "file through an absolute symlink",
            tar_of(&[raw("escape", SYM, "/", b""), raw("escape/outside/victim", FILE, "", b"contained")]),
            false,
        ),
        (
            "file through a relative symlink climbing out",
            tar_of(&[
                raw("escape", SYM, "../../../..", b""),
                raw("escape/outside/victim", FILE, "", b"contained"),
            ]),
            false,
        ),
        (
            "directory symlink chain",
            tar_of(&[
                raw("a", SYM, "b/../..", b""),
                raw("b", DIR, "", b""),
                raw("a/outside/victim", FILE, "", b"contained"),
            ]),
            false,
        ),
        ("hard link climbing out", tar_of(&[raw("link", HARD, "../outside/victim", b"")]), true),
        (
            "hard link through a symlink",
            tar_of(&[raw("s", SYM, "../outside", b""), raw("link", HARD, "s/victim", b"")]),
            true, // resolves to target/outside/victim, which does not exist
        ),
        (
            "overwrite a symlink with a file does not follow it",
            tar_of(&[raw("v", SYM, "../outside/victim", b""), raw("v", FILE, "", b"replaced")]),
            false,
        ),
        ("whiteout climbing out", tar_of(&[raw("../outside/.wh.victim", FILE, "", b"")]), true),
        ("whiteout of dotdot", tar_of(&[raw("a/.wh...", FILE, "", b"")]), true),
        (
            "hard link to a symlink pointing out, with a mode",
            tar_of(&[
                raw("s", SYM, "../outside/victim", b""),
                with_mode(raw("h", HARD, "s", b""), b"0007777"),
            ]),
            false,
        ),
        (
            "huge size, truncated data",
            {
                let mut e = raw("big", FILE, "", b"");
                e[124..135].copy_from_slice(b"77777777777");
                let sum: u32 = e[..512]
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| if (148..156).contains(&i) { 32 } else { b as u32 })
                    .sum();
                e[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
                e.extend_from_slice(&[7u8; 4096]);
                e
            },
            true,
        ),
        ("garbage header", vec![0x55u8; 1536], true),
    ];
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/apply");
    for (name, archive, refused) in cases {
        if std::env::var_os("BERTH_WRITE_CORPUS").is_some() {
            fs::write(corpus.join(name.replace(' ', "-")), &archive).unwrap();
        }
        let sb = Sandbox::new();
        let result = sb.apply(&archive, Whiteouts::Delete);
        assert_eq!(result.is_err(), refused, "{name}: {result:?}");
        if let Err(e) = &result {
            assert!(!e.to_string().is_empty(), "{name}");
        }
        sb.assert_contained();
        // What was contained landed inside the target.
        if name.contains("contained") || name.starts_with("absolute") || name.starts_with("file through") {
            assert_eq!(fs::read(sb.target().join("outside/victim")).unwrap(), b"contained", "{name}");
        }
    }
}

/// Every input the fuzzer kept (and the hostile cases above, written there with
/// `BERTH_WRITE_CORPUS=1`) stays inside the target.
#[test]
fn the_fuzz_corpus_stays_contained() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/apply");
    let mut n = 0;
    for entry in fs::read_dir(&corpus).unwrap() {
        let data = fs::read(entry.unwrap().path()).unwrap();
        for w in [Whiteouts::Overlay, Whiteouts::Delete] {
            let sb = Sandbox::new();
            if let Ok((_, reader)) = berth_archive::decompress(&data[..]) {
                let _ = apply(&sb.target(), reader, &ApplyOptions { whiteouts: w, same_owner: true });
            }
            sb.assert_contained();
        }
        n += 1;
    }
    assert!(n >= 10, "the corpus is in the repository ({n} inputs)");
}

#[test]
fn breakout_errors_are_clear() {
    let sb = Sandbox::new();
    let err = sb.apply(&tar_of(&[raw("../outside/victim", FILE, "", b"x")]), Whiteouts::Overlay).unwrap_err();
    assert_eq!(berth_kind::Kinded::kind(&err), berth_kind::Kind::InvalidArgument);
    let msg = err.to_string();
    assert!(msg.contains("../outside/victim") && msg.contains("outside the target"), "{msg}");
}

/// A header of `kind` with the given metadata.
fn hdr(kind: tar::EntryType, mode: u32, uid: u64, mtime: u64, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(uid);
    h.set_gid(if uid == 0 { 0 } else { uid + 1 });
    h.set_mtime(mtime);
    h.set_size(size);
    h
}

#[test]
fn kinds_owners_modes_times_and_xattrs() {
    const CAP: &[u8] = &[1, 0, 0, 2, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let mut b = tar::Builder::new(Vec::new());
    b.append_data(&mut hdr(tar::EntryType::Directory, 0o750, 1000, 1_000_000, 0), "d/", std::io::empty())
        .unwrap();
    b.append_pax_extensions([("SCHILY.xattr.security.capability", CAP), ("SCHILY.xattr.user.note", b"hi")])
        .unwrap();
    b.append_data(&mut hdr(tar::EntryType::Regular, 0o4755, 0, 2_000_000, 5), "d/ping", &b"hello"[..])
        .unwrap();
    // Real archives repeat a linked file's capability on the link: the link's chown clears it,
    // and the link's header sets the shared inode's metadata again, as Docker's extraction does.
    b.append_pax_extensions([("SCHILY.xattr.security.capability", CAP)]).unwrap();
    b.append_link(&mut hdr(tar::EntryType::Link, 0o4755, 0, 2_000_000, 0), "d/ping2", "d/ping").unwrap();
    b.append_link(&mut hdr(tar::EntryType::Symlink, 0o777, 0, 3_000_000, 0), "d/link", "ping").unwrap();
    for (name, kind, major, minor) in [
        ("d/null", tar::EntryType::Char, 1, 3),
        ("d/loop", tar::EntryType::Block, 7, 0),
        ("d/fifo", tar::EntryType::Fifo, 0, 0),
    ] {
        let mut h = hdr(kind, 0o640, 0, 0, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        b.append_data(&mut h, name, std::io::empty()).unwrap();
    }
    let data = b.into_inner().unwrap();
    let sb = Sandbox::new();
    let stats = sb.apply(&data, Whiteouts::Overlay).unwrap();
    assert_eq!(stats.size, 5 + 4, "file bytes once, plus the symlink target");
    let t = sb.target();
    let d = fs::metadata(t.join("d")).unwrap();
    assert_eq!((d.uid(), d.gid(), d.mode() & 0o7777, d.mtime()), (1000, 1001, 0o750, 1_000_000));
    let f = fs::metadata(t.join("d/ping")).unwrap();
    assert_eq!(f.permissions().mode() & 0o7777, 0o4755, "setuid survives chown");
    assert_eq!(f.mtime(), 2_000_000);
    assert_eq!(f.nlink(), 2);
    assert_eq!(f.ino(), fs::metadata(t.join("d/ping2")).unwrap().ino());
    assert_eq!(fs::read_link(t.join("d/link")).unwrap(), Path::new("ping"));
    assert_eq!(fs::symlink_metadata(t.join("d/link")).unwrap().mtime(), 3_000_000);
    let null = fs::symlink_metadata(t.join("d/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), libc::makedev(1, 3));
    assert!(fs::symlink_metadata(t.join("d/loop")).unwrap().file_type().is_block_device());
    assert!(fs::symlink_metadata(t.join("d/fifo")).unwrap().file_type().is_fifo());
    let out = std::process::Command::new("getfattr")
        .args(["-d", "-m", "-", "--absolute-names"])
        .arg(t.join("d/ping"))
        .output()
        .expect("getfattr (package attr, scripts/install-deps)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("security.capability") && text.contains("user.note=\"hi\""), "{text}");
}

fn overlay_layers() -> (Vec<u8>, Vec<u8>) {
    let lower = tar_of(&[
        raw("etc/", DIR, "", b""),
        raw("etc/keep", FILE, "", b"keep"),
        raw("etc/gone", FILE, "", b"gone"),
        raw("opq/", DIR, "", b""),
        raw("opq/old", FILE, "", b"old"),
        raw("opq/sub/", DIR, "", b""),
        raw("opq/sub/deep", FILE, "", b"deep"),
    ]);
    let upper = tar_of(&[
        raw("etc/.wh.gone", FILE, "", b""),
        raw("opq/", DIR, "", b""),
        raw("opq/.wh..wh..opq", FILE, "", b""),
        raw("opq/new", FILE, "", b"new"),
        raw(".wh..wh.plnk", DIR, "", b""),
    ]);
    (lower, upper)
}

#[test]
fn whiteouts_delete_mode() {
    let (lower, upper) = overlay_layers();
    let sb = Sandbox::new();
    sb.apply(&lower, Whiteouts::Delete).unwrap();
    sb.apply(&upper, Whiteouts::Delete).unwrap();
    let t = sb.target();
    assert!(t.join("etc/keep").exists());
    assert!(!t.join("etc/gone").exists());
    let mut opq: Vec<_> = fs::read_dir(t.join("opq")).unwrap().map(|e| e.unwrap().file_name()).collect();
    opq.sort();
    assert_eq!(opq, ["new"]);
    assert!(!t.join(".wh..wh.plnk").exists());
}

#[test]
fn whiteouts_overlay_mode_and_diff_round_trip() {
    let (lower, upper) = overlay_layers();
    let sb = Sandbox::new();
    let l = sb.dir.path().join("l");
    fs::create_dir(&l).unwrap();
    apply(&l, &lower[..], &ApplyOptions::default()).unwrap();
    sb.apply(&upper, Whiteouts::Overlay).unwrap();
    let t = sb.target();
    let wh = fs::symlink_metadata(t.join("etc/gone")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    let out = std::process::Command::new("getfattr")
        .args(["-n", "trusted.overlay.opaque", "--only-values"])
        .arg(t.join("opq"))
        .output()
        .expect("getfattr (package attr, scripts/install-deps)");
    assert_eq!(out.stdout, b"y", "{}", String::from_utf8_lossy(&out.stderr));
    // The upper directory diffs back to a layer with the same whiteouts.
    let mut out = Vec::new();
    let changes = diff_overlay(&t, std::slice::from_ref(&l), Some(&mut out as &mut dyn Write)).unwrap();
    let kinds: Vec<_> = changes.iter().map(|c| (c.path.to_str().unwrap(), c.kind)).collect();
    assert!(kinds.contains(&("/etc/gone", ChangeKind::Deleted)), "{kinds:?}");
    assert!(kinds.contains(&("/opq/new", ChangeKind::Added)), "{kinds:?}");
    assert!(kinds.contains(&("/opq", ChangeKind::Modified)), "{kinds:?}");
    let names: Vec<String> = tar::Archive::new(&out[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.contains(&"etc/.wh.gone".to_string()), "{names:?}");
    assert!(names.contains(&"opq/.wh..wh..opq".to_string()), "{names:?}");
    // Applying that diff in delete mode onto the lower gives the merged tree.
    let sb2 = Sandbox::new();
    sb2.apply(&lower, Whiteouts::Delete).unwrap();
    sb2.apply(&out, Whiteouts::Delete).unwrap();
    assert!(!sb2.target().join("etc/gone").exists());
    assert!(!sb2.target().join("opq/old").exists());
    assert_eq!(fs::read(sb2.target().join("opq/new")).unwrap(), b"new");
}

#[test]
fn native_diff_finds_added_modified_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for p in [&a, &b] {
        fs::create_dir_all(p.join("etc")).unwrap();
        fs::write(p.join("etc/same"), b"same").unwrap();
        fs::write(p.join("etc/edit"), b"v1").unwrap();
        fs::write(p.join("gone"), b"x").unwrap();
        std::process::Command::new("touch")
            .args(["-d", "2020-01-01"])
            .arg(p.join("etc/same"))
            .arg(p.join("etc/edit"))
            .status()
            .unwrap();
    }
    fs::write(b.join("etc/edit"), b"v2!").unwrap();
    fs::remove_file(b.join("gone")).unwrap();
    fs::write(b.join("new"), b"n").unwrap();
    let mut out = Vec::new();
    let changes = diff_trees(Some(&a), &b, Some(&mut out as &mut dyn Write)).unwrap();
    let got: Vec<_> = changes.iter().map(|c| (c.path.to_str().unwrap().to_string(), c.kind)).collect();
    assert_eq!(
        got,
        [
            ("/etc/edit".to_string(), ChangeKind::Modified),
            ("/gone".to_string(), ChangeKind::Deleted),
            ("/new".to_string(), ChangeKind::Added)
        ]
    );
    let sb = Sandbox::new();
    fs::write(sb.target().join("gone"), b"x").unwrap();
    sb.apply(&out, Whiteouts::Delete).unwrap();
    assert!(!sb.target().join("gone").exists());
    assert_eq!(fs::read(sb.target().join("etc/edit")).unwrap(), b"v2!");
}

#[test]
fn compressed_layers_stream_through_decompress() {
    let layer = tar_of(&[raw("f", FILE, "", b"zipped")]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&layer).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&layer[..], 3).unwrap();
    for (data, want) in [(gz, berth_archive::Compression::Gzip), (zst, berth_archive::Compression::Zstd)] {
        let (got, reader) = berth_archive::decompress(&data[..]).unwrap();
        assert_eq!(got, want);
        let sb = Sandbox::new();
        apply(&sb.target(), reader, &ApplyOptions::default()).unwrap();
        assert_eq!(fs::read(sb.target().join("f")).unwrap(), b"zipped");
    }
}
