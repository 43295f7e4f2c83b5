//! The image store through its library API and the `berth-store` helper process, compared with
//! the reference engine and skopeo.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_image::{DeleteItem, Digest, ImageStore, ImageUser, ImportOptions, ListFilters, SaveFormat};
use berth_kind::{Kind as ErrorKind, Kinded};
use berth_tests::images::{docker_archive, image, layer, Entry, TestImage};
use berth_tests::refdocker::RefDockerd;
use serde_json::json;

const CAP_NET_RAW: &[u8] = &[0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

use berth_tests::images::busybox_fixture as fixture;

fn store_dir() -> tempfile::TempDir {
    // /var/tmp, not /tmp: overlayfs needs a filesystem that takes trusted xattrs.
    tempfile::Builder::new().prefix("berth-images").tempdir_in("/var/tmp").unwrap()
}

/// Whiteouts, an opaque directory, hard links, devices, a FIFO, symlinks, owners, modes and a
/// file capability, over two layers.
fn special() -> TestImage {
    let l1 = layer(&[
        Entry::Dir("t", 0o755, 0),
        Entry::File("t/gone", b"deleted above", 0o644),
        Entry::Dir("t/gonedir", 0o755, 0),
        Entry::File("t/gonedir/x", b"x", 0o644),
        Entry::Dir("t/opq", 0o755, 0),
        Entry::File("t/opq/old", b"old", 0o644),
        Entry::File("t/fd", b"a file, a directory above", 0o644),
        Entry::File("t/keep", b"kept", 0o600),
        Entry::Dir("t/hl", 0o755, 0),
        Entry::File("t/hl/a", b"linked", 0o644),
        Entry::HardLink("t/hl/b", "t/hl/a"),
        Entry::Char("t/null", 1, 3),
        Entry::Fifo("t/fifo"),
    ]);
    let l2 = layer(&[
        Entry::Whiteout("t/gone"),
        Entry::Whiteout("t/gonedir"),
        Entry::Dir("t/opq", 0o755, 0),
        Entry::Opaque("t/opq"),
        Entry::File("t/opq/new", b"new", 0o644),
        Entry::Dir("t/fd", 0o750, 0),
        Entry::File("t/fd/inner", b"inner", 0o644),
        Entry::Dir("t/owned", 0o700, 1000),
        Entry::File("t/owned/setuid", b"#!", 0o4755),
        Entry::FileX("t/ping", b"ping", 0o755, &[("security.capability", CAP_NET_RAW)]),
        Entry::Symlink("t/sl", "../etc/passwd"),
        Entry::Symlink("t/rel", "keep"),
        Entry::Dir("t/hl2", 0o755, 0),
        Entry::File("t/hl2/one", b"two names", 0o640),
        Entry::HardLink("t/hl2/two", "t/hl2/one"),
    ]);
    image(vec![l1, l2], &["special:v1"], "2024-01-02T03:04:05Z", json!({"suite": "images"}))
}

/// A fresh store holding the busybox fixture: (scratch directory, store, fixture, image ID).
fn busybox_store() -> (tempfile::TempDir, ImageStore, PathBuf, String) {
    let scratch = store_dir();
    let (busybox, id) = fixture(scratch.path());
    let store = ImageStore::open(&scratch.path().join("store"), None).unwrap();
    load_file(&store, &busybox);
    (scratch, store, busybox, id)
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

fn load_file(store: &ImageStore, path: &Path) -> berth_image::LoadReport {
    store.load(std::io::BufReader::new(std::fs::File::open(path).unwrap())).unwrap()
}

/// One filesystem node as compared between engines.
type Tree = BTreeMap<String, String>;

fn security_capability(path: &Path) -> Option<Vec<u8>> {
    let p = CString::new(path.as_os_str().as_bytes()).unwrap();
    let mut buf = vec![0u8; 64];
    // SAFETY: `p` and the attribute name are NUL-terminated; `buf` is writable for its length.
    let n = unsafe {
        libc::lgetxattr(p.as_ptr(), c"security.capability".as_ptr(), buf.as_mut_ptr().cast(), buf.len())
    };
    (n >= 0).then(|| buf[..n as usize].to_vec())
}

/// The tree under `root/t`, by walking a mounted root filesystem.
fn walk_tree(root: &Path) -> Tree {
    let mut tree = Tree::new();
    let mut inodes: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut stack = vec![root.join("t")];
    while let Some(p) = stack.pop() {
        let m = p.symlink_metadata().unwrap();
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let ft = m.file_type();
        let perm = format!("{:o} {}:{}", m.mode() & 0o7777, m.uid(), m.gid());
        let desc = if ft.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
            format!("dir {perm}")
        } else if ft.is_symlink() {
            format!("symlink -> {} mtime {}", std::fs::read_link(&p).unwrap().display(), m.mtime())
        } else if ft.is_char_device() {
            format!("char {}:{} {perm} mtime {}", libc::major(m.rdev()), libc::minor(m.rdev()), m.mtime())
        } else if ft.is_fifo() {
            format!("fifo {perm} mtime {}", m.mtime())
        } else {
            if m.nlink() > 1 {
                inodes.entry(m.ino()).or_default().push(rel.clone());
            }
            let cap = security_capability(&p).map(|c| format!(" cap {c:?}")).unwrap_or_default();
            format!("file {perm} {} mtime {}{cap}", Digest::of(&std::fs::read(&p).unwrap()), m.mtime())
        };
        tree.insert(rel, desc);
    }
    for group in inodes.values() {
        let leader = group.iter().min().unwrap().clone();
        for p in group {
            tree.get_mut(p).unwrap().push_str(&format!(" link {leader}"));
        }
    }
    tree
}

/// The tree under `t/` in a `docker export` stream.
fn tar_tree(data: &[u8]) -> Tree {
    let mut tree = Tree::new();
    let mut leaders = Vec::new();
    let mut contents: BTreeMap<String, String> = BTreeMap::new();
    let mut archive = tar::Archive::new(data);
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let rel = e.path().unwrap().to_string_lossy().trim_end_matches('/').to_string();
        if !rel.starts_with("t/") && rel != "t" {
            continue;
        }
        let h = e.header().clone();
        let perm = format!("{:o} {}:{}", h.mode().unwrap() & 0o7777, h.uid().unwrap(), h.gid().unwrap());
        let mtime = h.mtime().unwrap();
        let mut cap = String::new();
        if let Some(exts) = e.pax_extensions().unwrap() {
            for x in exts {
                let x = x.unwrap();
                if x.key().unwrap() == "SCHILY.xattr.security.capability" {
                    cap = format!(" cap {:?}", x.value_bytes().to_vec());
                }
            }
        }
        let desc = match h.entry_type() {
            tar::EntryType::Directory => format!("dir {perm}"),
            tar::EntryType::Symlink => {
                format!("symlink -> {} mtime {mtime}", e.link_name().unwrap().unwrap().display())
            }
            tar::EntryType::Char => {
                format!(
                    "char {}:{} {perm} mtime {mtime}",
                    h.device_major().unwrap().unwrap(),
                    h.device_minor().unwrap().unwrap()
                )
            }
            tar::EntryType::Fifo => format!("fifo {perm} mtime {mtime}"),
            tar::EntryType::Link => {
                let leader = e.link_name().unwrap().unwrap().to_string_lossy().into_owned();
                leaders.push(leader.clone());
                format!("file {perm} {} mtime {mtime}{cap} link {leader}", contents[&leader])
            }
            _ => {
                let mut buf = Vec::new();
                e.read_to_end(&mut buf).unwrap();
                contents.insert(rel.clone(), Digest::of(&buf).to_string());
                format!("file {perm} {} mtime {mtime}{cap}", Digest::of(&buf))
            }
        };
        tree.insert(rel, desc);
    }
    for l in leaders {
        let d = tree.get_mut(&l).unwrap();
        if !d.contains(" link ") {
            d.push_str(&format!(" link {l}"));
        }
    }
    tree
}

/// Mounts an image's root filesystem through the store and returns its tree.
fn berth_tree(store: &ImageStore, image: &str, scratch: &Path) -> Tree {
    let key = format!("tree-{}", berth_tests::seq());
    store.prepare_rootfs(&key, image).unwrap();
    let target = scratch.join(&key);
    std::fs::create_dir_all(&target).unwrap();
    store.mount_rootfs(&key, &target).unwrap();
    let tree = std::panic::catch_unwind(|| walk_tree(&target));
    berth_snapshot::unmount(&target).unwrap();
    store.remove_rootfs(&key).unwrap();
    tree.unwrap()
}

#[test]
fn interoperates_with_the_reference_engine() {
    let scratch = store_dir();
    let (busybox, busybox_id) = fixture(scratch.path());
    let sp = special();
    let special_tar = write(scratch.path(), "special.tar", &docker_archive(&[&sp]));
    let docker = RefDockerd::start();

    // The same layers give the same tree.
    let store_root = scratch.path().join("store");
    let store = ImageStore::open(&store_root, None).unwrap();
    load_file(&store, &special_tar);
    load_file(&store, &busybox);
    docker.ok(&["load", "-i", special_tar.to_str().unwrap()]);
    docker.ok(&["load", "-i", busybox.to_str().unwrap()]);
    let ours = berth_tree(&store, "special:v1", scratch.path());
    docker.ok(&["create", "--name", "tree", "special:v1"]);
    let export = docker.docker(&["export", "tree"]);
    assert!(export.status.success());
    let theirs = tar_tree(&export.stdout);
    assert_eq!(ours, theirs, "berth's tree (left) and the reference engine's (right)");
    assert!(
        theirs.contains_key("t/opq/new")
            && !theirs.contains_key("t/opq/old")
            && !theirs.contains_key("t/gone")
    );
    docker.ok(&["rm", "tree"]);

    // IDs, diff IDs and sizes agree.
    let fmt = "{{.Id}} {{json .RootFS.Layers}} {{.Size}}";
    let describe = |name: &str| {
        let i = store.inspect(name).unwrap();
        format!("{} {} {}", i.id, serde_json::to_string(&i.root_fs.layers).unwrap(), i.size)
    };
    for name in ["special:v1", "busybox:latest"] {
        assert_eq!(docker.ok(&["image", "inspect", "-f", fmt, name]).trim(), describe(name), "{name}");
    }
    assert_eq!(store.inspect("busybox").unwrap().id, busybox_id);

    // berth's save loads into the reference engine...
    let ours_tar = scratch.path().join("ours.tar");
    store
        .save(
            &["busybox".into(), "special:v1".into()],
            SaveFormat::Docker,
            std::fs::File::create(&ours_tar).unwrap(),
        )
        .unwrap();
    docker.ok(&["rmi", "busybox", "special:v1"]);
    let loaded = docker.ok(&["load", "-i", ours_tar.to_str().unwrap()]);
    assert!(
        loaded.contains("Loaded image: busybox:latest") && loaded.contains("Loaded image: special:v1"),
        "{loaded}"
    );
    for name in ["special:v1", "busybox:latest"] {
        assert_eq!(
            docker.ok(&["image", "inspect", "-f", fmt, name]).trim(),
            describe(name),
            "{name} after docker load"
        );
    }

    // ...and the reference engine's save loads into berth.
    let theirs_tar = scratch.path().join("theirs.tar");
    docker.ok(&["save", "-o", theirs_tar.to_str().unwrap(), "busybox:latest", "special:v1"]);
    drop(store);
    let fresh = ImageStore::open(&scratch.path().join("fresh"), None).unwrap();
    let report = load_file(&fresh, &theirs_tar);
    assert_eq!(report.images.len(), 2);
    for name in ["special:v1", "busybox:latest"] {
        let i = fresh.inspect(name).unwrap();
        let ref_line = docker.ok(&["image", "inspect", "-f", fmt, name]);
        assert_eq!(
            ref_line.trim(),
            format!("{} {} {}", i.id, serde_json::to_string(&i.root_fs.layers).unwrap(), i.size)
        );
    }
    assert_eq!(fresh.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn skopeo_reads_and_writes_oci_layouts() {
    let (scratch, store, _, id) = busybox_store();
    let oci = scratch.path().join("oci.tar");
    store.save(&["busybox".into()], SaveFormat::Oci, std::fs::File::create(&oci).unwrap()).unwrap();
    let copied = scratch.path().join("copied.tar");
    let out = Command::new("skopeo")
        .args(["--insecure-policy", "copy"])
        .arg(format!("oci-archive:{}", oci.display()))
        .arg(format!("oci-archive:{}:docker.io/library/busybox:copied", copied.display()))
        .output()
        .expect("skopeo is installed (scripts/install-deps)");
    assert!(out.status.success(), "skopeo copy: {}", String::from_utf8_lossy(&out.stderr));
    // skopeo also reads the docker format.
    let docker_fmt = scratch.path().join("docker.tar");
    store.save(&["busybox".into()], SaveFormat::Docker, std::fs::File::create(&docker_fmt).unwrap()).unwrap();
    let inspect = Command::new("skopeo")
        .arg("inspect")
        .arg(format!("docker-archive:{}", docker_fmt.display()))
        .output()
        .unwrap();
    assert!(inspect.status.success(), "{}", String::from_utf8_lossy(&inspect.stderr));

    let other = ImageStore::open(&scratch.path().join("b"), None).unwrap();
    let report = load_file(&other, &copied);
    assert_eq!(report.messages, ["Loaded image: busybox:copied"]);
    assert_eq!(other.inspect("busybox:copied").unwrap().id, id);
    assert_eq!(other.verify().unwrap(), Vec::<String>::new());
}

fn du(path: &Path) -> u64 {
    let out = Command::new("du").arg("-sb").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().parse().unwrap()
}

fn many_layers(n: usize, bytes: usize, seed: u8) -> TestImage {
    let layers = (0..n)
        .map(|i| {
            let data: Vec<u8> =
                (0..bytes).map(|j| (j as u8).wrapping_mul(31).wrapping_add(i as u8 ^ seed)).collect();
            layer(&[Entry::Dir("data", 0o755, 0), Entry::File(&format!("data/layer{i}"), &data, 0o644)])
        })
        .collect();
    image(layers, &["many:latest"], "2024-05-01T00:00:00Z", json!({}))
}

#[test]
fn load_tag_remove_prune_returns_the_data_root_to_its_size() {
    let scratch = store_dir();
    let (busybox, _) = fixture(scratch.path());
    let big = write(scratch.path(), "many.tar", &docker_archive(&[&many_layers(6, 300_000, 1)]));
    let root = scratch.path().join("store");
    let baseline = {
        let s = ImageStore::open(&root, None).unwrap();
        drop(s);
        du(&root)
    };
    let store = ImageStore::open(&root, None).unwrap();
    load_file(&store, &busybox);
    load_file(&store, &big);
    store.tag("busybox", "mine:1").unwrap();
    store.tag("many", "many:2").unwrap();
    assert!(du(&root) > baseline + 2_000_000);
    store.remove("busybox", false, &[]).unwrap();
    store.remove("many:2", false, &[]).unwrap();
    store.remove("mine:1", false, &[]).unwrap();
    let pruned = store.prune(true, &[], None, &[]).unwrap();
    assert!(pruned.space_reclaimed >= 1_800_000, "{pruned:?}");
    assert!(store.list(&ListFilters::default()).unwrap().is_empty());
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    drop(store);
    assert_eq!(du(&root), baseline, "the data root is back to its size");
}

#[test]
fn a_load_reports_each_layer_it_extracts() {
    let scratch = store_dir();
    let img = many_layers(3, 1_200_000, 7);
    let archive = docker_archive(&[&img]);
    let store = ImageStore::open(&scratch.path().join("store"), None).unwrap();
    let mut seen: Vec<(String, u64, u64)> = Vec::new();
    store
        .load_with_progress(&archive[..], &mut |p| seen.push((p.diff_id.to_string(), p.current, p.total)))
        .unwrap();
    // Per layer: at least every 512 KiB of its 1.2 MB blob, rising, ending with a full bar.
    for diff_id in img.diff_ids() {
        let mine: Vec<_> = seen.iter().filter(|(d, _, _)| *d == diff_id).collect();
        assert!(mine.len() >= 3, "{diff_id}: {mine:?}");
        assert!(mine.windows(2).all(|w| w[0].1 < w[1].1), "{mine:?}");
        let (_, current, total) = mine.last().unwrap();
        assert!(*total > 1_200_000 && current == total, "{mine:?}");
    }
    assert_eq!(seen.len(), seen.iter().filter(|(d, _, _)| img.diff_ids().contains(d)).count());
    // Layers already there are not extracted again, so nothing is reported.
    let mut again = 0;
    store.load_with_progress(&archive[..], &mut |_| again += 1).unwrap();
    assert_eq!(again, 0);
}

#[test]
fn killing_a_load_at_any_point_leaves_a_consistent_store() {
    let scratch = store_dir();
    let (busybox, _) = fixture(scratch.path());
    let big = write(scratch.path(), "many.tar", &docker_archive(&[&many_layers(8, 400_000, 2)]));
    let root = scratch.path().join("store");
    let tool = env!("CARGO_BIN_EXE_berth-store");
    let run = |args: &[&str]| Command::new(tool).arg("--root").arg(&root).args(args).output().unwrap();
    // How long a whole load takes, to spread the kills over it.
    let t0 = std::time::Instant::now();
    assert!(run(&["load", big.to_str().unwrap()]).status.success());
    let full = t0.elapsed();
    assert!(run(&["rm", "many"]).status.success());
    let baseline = du(&root);
    let before = Command::new("du").arg("-ab").arg(&root).output().unwrap().stdout;
    let mut rng = 0x9e3779b97f4a7c15u64;
    for round in 0..30 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let delay = Duration::from_micros(rng % (full.as_micros() as u64 + 1));
        let file = if round % 3 == 0 { &busybox } else { &big };
        let mut child = Command::new(tool)
            .arg("--root")
            .arg(&root)
            .arg("load")
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let verify = run(&["verify"]);
        assert!(
            verify.status.success(),
            "round {round} (killed after {delay:?}): {}{}",
            String::from_utf8_lossy(&verify.stdout),
            String::from_utf8_lossy(&verify.stderr)
        );
    }
    // The store loads again, and removing everything gives back the space.
    assert!(run(&["load", big.to_str().unwrap()]).status.success());
    assert!(run(&["load", busybox.to_str().unwrap()]).status.success());
    assert!(run(&["verify"]).status.success());
    let ls = String::from_utf8(run(&["ls"]).stdout).unwrap();
    assert!(ls.contains("many:latest") && ls.contains("busybox:latest"), "{ls}");
    assert!(run(&["prune", "-a"]).status.success());
    assert!(run(&["verify"]).status.success());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let leaked: Vec<&str> = mounts.lines().filter(|l| l.contains(root.to_str().unwrap())).collect();
    assert!(leaked.is_empty(), "a killed load left mounts behind: {leaked:#?}");
    let after = Command::new("du").arg("-ab").arg(&root).output().unwrap().stdout;
    let (before, after) = (String::from_utf8_lossy(&before), String::from_utf8_lossy(&after));
    assert_eq!(
        du(&root),
        baseline,
        "the data root is not back to its size\nbefore:\n{before}\nafter:\n{after}"
    );
}

#[test]
fn removal_follows_dockers_rules() {
    let (_scratch, store, _, id) = busybox_store();
    let id = Digest::parse(&id).unwrap();
    let short = &id.hex()[..12];
    store.tag("busybox", "other:1").unwrap();

    // By ID while two repositories name it: must be forced.
    let err = store.remove(short, false, &[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.to_string(), format!("conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories"));
    // By tag while others remain: untag only.
    assert_eq!(store.remove("other:1", false, &[]).unwrap(), [DeleteItem::Untagged("other:1".into())]);
    // A container uses it.
    let stopped = [ImageUser { image: id.clone(), container: "0123456789abcdef".into(), running: false }];
    let running = [ImageUser { running: true, ..stopped[0].clone() }];
    let err = store.remove("busybox", false, &stopped).unwrap_err();
    assert_eq!(err.to_string(), format!("conflict: unable to remove repository reference \"busybox\" (must force) - container 0123456789ab is using its referenced image {short}"));
    let err = store.remove(short, true, &running).unwrap_err();
    assert_eq!(err.to_string(), format!("conflict: unable to delete {short} (cannot be forced) - image is being used by running container 0123456789ab"));
    // Forced while a container runs: the tag goes, the image stays (dangling).
    assert_eq!(
        store.remove("busybox", true, &running).unwrap(),
        [DeleteItem::Untagged("busybox:latest".into())]
    );
    let dangling = store.list(&ListFilters { dangling: Some(true), ..Default::default() }).unwrap();
    assert_eq!(dangling.len(), 1);
    assert!(dangling[0].repo_tags.is_empty());
    // Nothing uses it now: deleted, with its layer.
    let items = store.remove(short, false, &[]).unwrap();
    assert_eq!(items[0], DeleteItem::Deleted(id.to_string()));
    assert_eq!(items.len(), 2, "{items:?}");
    let err = store.remove("busybox", false, &[]).unwrap_err();
    assert_eq!((err.kind(), err.to_string()), (ErrorKind::NotFound, "No such image: busybox".to_string()));
    let err = store.inspect("Bad:Name").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn listing_inspecting_history_import_and_disk_usage() {
    let (scratch, store, _, _) = busybox_store();
    let sp = special();
    load_file(&store, &write(scratch.path(), "sp.tar", &docker_archive(&[&sp])));

    // import: a root filesystem tar, gzip-compressed, with changes.
    let rootfs =
        layer(&[Entry::Dir("app", 0o755, 0), Entry::File("app/run", b"#!/bin/sh\necho hi\n", 0o755)]);
    let gz = Command::new("gzip").arg("-c").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().and_then(
        |mut c| {
            std::io::Write::write_all(c.stdin.as_mut().unwrap(), &rootfs)?;
            c.wait_with_output()
        },
    );
    let opts = ImportOptions {
        changes: vec![
            "CMD [\"/app/run\"]".into(),
            "ENV A=1".into(),
            "LABEL tier=web".into(),
            "EXPOSE 8080".into(),
            "WORKDIR /app".into(),
        ],
        message: None,
        reference: Some("imported:v1".into()),
        source: "-".into(),
        platform: None,
    };
    let id = store.import(&gz.unwrap().stdout[..], &opts).unwrap();
    let i = store.inspect("imported:v1").unwrap();
    assert_eq!(i.id, id.to_string());
    let cfg = i.config.unwrap();
    assert_eq!(cfg.cmd.unwrap(), ["/app/run"]);
    assert_eq!(cfg.working_dir.as_deref(), Some("/app"));
    assert_eq!(i.root_fs.layers, [Digest::of(&rootfs).to_string()], "the diff ID is the uncompressed tar's");
    let h = store.history("imported:v1").unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].comment, "Imported from -");
    assert!(store
        .import(&b"not a tar"[..], &ImportOptions { source: "-".into(), ..Default::default() })
        .is_err());
    let err = store
        .import(&rootfs[..], &ImportOptions { changes: vec!["RUN x".into()], ..Default::default() })
        .unwrap_err();
    assert_eq!(err.to_string(), "RUN is not a valid change command");

    // history: newest first, empty layers included, the top carries ID and tags.
    let h = store.history("special:v1").unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(
        (h[0].id.as_str(), h[0].size, h[0].tags.clone()),
        (sp.id().as_str(), 0, vec!["special:v1".to_string()])
    );
    assert_eq!(h[1].id, "<missing>");
    assert!(h[1].size > 0 && h[2].size > 0);

    // list filters.
    let names = |f: ListFilters| -> Vec<String> {
        store.list(&f).unwrap().into_iter().flat_map(|s| s.repo_tags).collect()
    };
    assert_eq!(names(ListFilters { label: vec!["tier=web".into()], ..Default::default() }), ["imported:v1"]);
    assert_eq!(names(ListFilters { label: vec!["suite".into()], ..Default::default() }), ["special:v1"]);
    assert_eq!(names(ListFilters { reference: vec!["spec*".into()], ..Default::default() }), ["special:v1"]);
    assert_eq!(names(ListFilters { reference: vec!["*:v1".into()], ..Default::default() }).len(), 2);
    assert_eq!(
        names(ListFilters { before: Some("special:v1".into()), ..Default::default() }),
        ["busybox:latest"]
    );
    assert_eq!(
        names(ListFilters { since: Some("special:v1".into()), ..Default::default() }),
        ["imported:v1"]
    );
    assert!(names(ListFilters { dangling: Some(true), ..Default::default() }).is_empty());
    let all = store.list(&ListFilters::default()).unwrap();
    assert_eq!(
        all.iter().map(|s| s.repo_tags[0].as_str()).collect::<Vec<_>>(),
        ["imported:v1", "special:v1", "busybox:latest"],
        "newest first"
    );

    // A second image sharing special's base layer: shared and unique sizes are exact.
    let mut layers = sp.layers.clone();
    layers.truncate(1);
    layers.push(layer(&[Entry::File("extra", b"12345", 0o644)]));
    let sibling = image(layers, &["sibling:1"], "2024-01-03T00:00:00Z", json!({}));
    load_file(&store, &write(scratch.path(), "sib.tar", &docker_archive(&[&sibling])));
    let df = store.disk_usage(&[]).unwrap();
    let by_tag =
        |t: &str| df.images.iter().find(|i| i.summary.repo_tags.contains(&t.to_string())).unwrap().clone();
    let (s, b) = (by_tag("special:v1"), by_tag("sibling:1"));
    assert_eq!(s.shared_size, b.shared_size);
    assert_eq!(b.unique_size, 5);
    assert_eq!(df.layers_size, df.images.iter().map(|i| i.unique_size).sum::<u64>() + s.shared_size);
    assert_eq!(df.reclaimable, df.layers_size, "no container uses any");
    let sp_id = Digest::parse(&sp.id()).unwrap();
    let df = store.disk_usage(&[ImageUser { image: sp_id, container: "c".into(), running: true }]).unwrap();
    assert_eq!(df.reclaimable, df.layers_size - s.size);
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn a_containers_writable_layer_keeps_its_image_layers() {
    let (scratch, store, _, _) = busybox_store();
    let mounts = store.prepare_rootfs("c1", "busybox").unwrap();
    assert_eq!(mounts.len(), 1);
    let target = scratch.path().join("rootfs");
    std::fs::create_dir(&target).unwrap();
    store.mount_rootfs("c1", &target).unwrap();
    std::fs::write(target.join("etc/added"), b"x").unwrap();
    std::fs::remove_file(target.join("bin/ping")).unwrap();
    berth_snapshot::unmount(&target).unwrap();
    let changes: Vec<String> = store
        .rootfs_changes("c1", None)
        .unwrap()
        .iter()
        .map(|c| format!("{:?} {}", c.kind, c.path.display()))
        .collect();
    assert_eq!(changes, ["Modified /bin", "Deleted /bin/ping", "Modified /etc", "Added /etc/added"]);
    // Another container's layer goes alone: its record and directory, nothing of the image's.
    let referenced = || {
        let (mut blobs, mut snaps) = store.referenced().unwrap();
        blobs.sort();
        snaps.sort();
        (blobs, snaps)
    };
    let before = referenced();
    let layers = scratch.path().join("store/snapshots/overlayfs");
    let dirs = || std::fs::read_dir(&layers).unwrap().count();
    let n = dirs();
    store.prepare_rootfs("c2", "busybox").unwrap();
    assert_eq!(dirs(), n + 1);
    store.remove_rootfs("c2").unwrap();
    assert_eq!(dirs(), n);
    assert_eq!(referenced(), before);
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    // Removing the image while the container's layer exists keeps the layers it stands on.
    store.remove("busybox", true, &[]).unwrap();
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    store.mount_rootfs("c1", &target).unwrap();
    assert!(target.join("bin/busybox").exists());
    berth_snapshot::unmount(&target).unwrap();
    store.remove_rootfs("c1").unwrap();
    let (blobs, snaps) = store.referenced().unwrap();
    assert!(blobs.is_empty() && snaps.is_empty(), "everything went with the container");
}

#[test]
fn hostile_archives_are_refused_and_leave_nothing() {
    let scratch = store_dir();
    let store = ImageStore::open(&scratch.path().join("s"), None).unwrap();
    let evil_layer = {
        // tar refuses to write "..", so patch the name in the header.
        let mut l = layer(&[Entry::File("xx/evil", b"pwned", 0o644)]);
        l[..7].copy_from_slice(b"../evil");
        let sum: u32 = l[..512]
            .iter()
            .enumerate()
            .map(|(i, &b)| if (148..156).contains(&i) { 32 } else { b as u32 })
            .sum();
        l[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        l
    };
    let img = image(vec![evil_layer], &["evil:1"], "2024-01-01T00:00:00Z", json!({}));
    let err = store.load(&docker_archive(&[&img])[..]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("outside the target"), "{err}");
    // A config that names other layers than the archive holds.
    let mut wrong =
        image(vec![layer(&[Entry::File("a", b"a", 0o644)])], &["liar:1"], "2024-01-01T00:00:00Z", json!({}));
    wrong.layers = vec![layer(&[Entry::File("a", b"b", 0o644)])];
    let err = store.load(&docker_archive(&[&wrong])[..]).unwrap_err();
    assert!(err.to_string().contains("layer digest mismatch"), "{err}");
    let err = store.load(&b"garbage"[..]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(store.list(&ListFilters::default()).unwrap().is_empty());
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    let (blobs, snaps) = store.referenced().unwrap();
    assert!(blobs.is_empty() && snaps.is_empty());
    assert_eq!(store.content().list().unwrap().len(), 0, "no blob of a failed load stays");
}

#[test]
fn a_second_process_cannot_open_the_same_store() {
    let scratch = store_dir();
    let _store = ImageStore::open(&scratch.path().join("s"), None).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_berth-store"))
        .arg("--root")
        .arg(scratch.path().join("s"))
        .arg("ls")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is in use by another process"));
}

/// The store's writing seam: what a session writes is held while it runs (a collection meanwhile
/// keeps it), an unfinished session is rolled back (its blobs and extracted layers go), a layer
/// whose bytes do not match the diff ID it was promised fails and leaves nothing, and a finished
/// session's image keeps what it names.
#[test]
fn a_write_session_holds_its_writes_and_rolls_back_when_unfinished() {
    let scratch = store_dir();
    let store = ImageStore::open(&scratch.path().join("s"), None).unwrap();
    let data = layer(&[Entry::Dir("d", 0o755, 0), Entry::File("d/f", b"hello", 0o644)]);
    let snapshots = |s: &ImageStore| {
        std::fs::read_dir(s.root().join(format!("snapshots/{}", s.snapshotter()))).unwrap().count()
    };
    let (blob, chain) = {
        let session = store.session().unwrap();
        let blob = session.put_bytes(b"a blob of the session's").unwrap();
        let l = session.unpack_layer(None, None, data.as_slice()).unwrap();
        store.collect().unwrap();
        assert!(store.content().info(&blob).is_some(), "a collection took a held blob");
        assert_eq!(snapshots(&store), 1, "a collection took a held layer");
        (blob, l.chain_id)
    };
    assert!(store.content().info(&blob).is_none(), "the rolled-back session's blob is left");
    assert_eq!(snapshots(&store), 0, "the rolled-back session's layer {chain} is left");

    let wrong = Digest::parse(&format!("sha256:{}", "0".repeat(64))).unwrap();
    let session = store.session().unwrap();
    let err = session.unpack_layer(None, Some(&wrong), data.as_slice()).unwrap_err();
    assert!(err.to_string().contains("layer digest mismatch"), "{err}");
    drop(session);
    assert_eq!(snapshots(&store), 0);
    assert!(store.verify().unwrap().is_empty(), "{:?}", store.verify());

    let id = store
        .import(data.as_slice(), &ImportOptions { reference: Some("kept:1".into()), ..Default::default() })
        .unwrap();
    store.collect().unwrap();
    assert_eq!(store.resolve("kept:1").unwrap().id, id);
    assert_eq!(snapshots(&store), 1);
    assert!(store.verify().unwrap().is_empty(), "{:?}", store.verify());
}
