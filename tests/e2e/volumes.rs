//! Volumes through berthd and the real docker CLI: named volumes with Docker's copy-up,
//! persistence across containers and daemon restarts, read-only mounts, anonymous volumes
//! (image `VOLUME`, `-v /path`) and their clean-up, `--volumes-from`, tmpfs limits.

use berth_tests::daemon::Berthd;

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

#[test]
fn named_volumes_copy_up_persist_and_are_guarded() {
    let mut d = Berthd::start();
    // Copy-up: a new volume mounted over /etc gets the image's /etc.
    let ls = d.ok(&["run", "--rm", "--network", "none", "-v", "conf:/etc", "busybox", "ls", "/etc"]);
    assert!(ls.contains("passwd") && ls.contains("group"), "{ls}");
    assert_eq!(d.ok(&["volume", "ls", "-q"]), "conf\n");
    // `nocopy` leaves a new volume empty; a volume that has content is never copied into.
    let ls =
        d.ok(&["run", "--rm", "--network", "none", "-v", "bare:/etc:nocopy", "busybox", "ls", "-A", "/etc"]);
    assert_eq!(lines(&ls).iter().filter(|l| **l == "passwd").count(), 0, "{ls}");
    d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "data:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    let ls = d.ok(&["run", "--rm", "--network", "none", "-v", "data:/etc", "busybox", "ls", "/etc"]);
    assert!(ls.contains('f') && !ls.contains("passwd"), "{ls}");
    // Persistence across containers and a daemon killed and restarted.
    let id = d.ok(&[
        "run",
        "-d",
        "--name",
        "user",
        "--network",
        "none",
        "-v",
        "data:/data",
        "busybox",
        "sleep",
        "1000",
    ]);
    let id = id.trim().to_string();
    assert_eq!(d.ok(&["exec", "user", "cat", "/data/f"]), "kept\n");
    let (code, err) = d.fails(&["volume", "rm", "data"]);
    assert_eq!(code, 1);
    assert!(err.contains(&format!("remove data: volume is in use - [{id}]")), "{err}");
    d.kill9();
    d.launch();
    let (_, err) = d.fails(&["volume", "rm", "data"]);
    assert!(err.contains("volume is in use"), "still in use after a restart: {err}");
    assert_eq!(d.ok(&["exec", "user", "cat", "/data/f"]), "kept\n");
    // Inspect, as Docker shows a named volume.
    let mounts = d.inspect(
        "user",
        "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.RW}} {{.Driver}}|{{.Propagation}}|{{end}}",
    );
    assert_eq!(mounts, "volume data /data true local||");
    let src = d.inspect("user", "{{(index .Mounts 0).Source}}");
    assert_eq!(src, d.data_root.join("volumes/data/_data").display().to_string());
    d.ok(&["rm", "-f", "user"]);
    // Read-only.
    let (code, err) =
        d.fails(&["run", "--rm", "--network", "none", "-v", "data:/data:ro", "busybox", "touch", "/data/x"]);
    assert_eq!(code, 1);
    assert!(err.contains("Read-only file system"), "{err}");
    // The volume commands.
    d.ok(&["volume", "create", "--label", "tier=db", "labelled"]);
    assert_eq!(d.ok(&["volume", "ls", "-q", "-f", "label=tier=db"]), "labelled\n");
    assert_eq!(d.ok(&["volume", "ls", "-q", "-f", "name=dat"]), "data\n");
    assert_eq!(
        d.ok(&["volume", "ls", "--format", "{{.Name}}:{{.Labels}}", "-f", "dangling=true"]).lines().count(),
        4
    );
    assert_eq!(
        d.ok(&["volume", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}}", "labelled"]),
        "labelled local local map[tier:db]\n"
    );
    let (_, err) = d.fails(&["volume", "inspect", "nope"]);
    assert!(err.contains("no such volume"), "{err}");
    let (code, err) = d.fails(&["volume", "create", "a/b"]);
    assert_eq!(code, 1);
    assert!(err.contains("includes invalid characters for a local volume name"), "{err}");
    let (code, err) = d.fails(&["run", "--rm", "-v", "x y:/d", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("includes invalid characters"), "{err}");
    let df = d.ok(&["system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}}"]);
    assert!(df.contains("Local Volumes 4 0"), "{df}");
    // Named volumes survive `volume prune` without --all, and go with it.
    assert!(!d.ok(&["volume", "prune", "-f"]).contains("data"));
    let pruned = d.ok(&["volume", "prune", "-af"]);
    assert!(pruned.contains("Deleted Volumes:") && pruned.contains("data"), "{pruned}");
    assert_eq!(d.ok(&["volume", "ls", "-q"]), "");
    assert!(!d.data_root.join("volumes/data").exists());
}

#[test]
fn anonymous_volumes_and_volumes_from() {
    let d = Berthd::start();
    d.ok(&[
        "run",
        "--name",
        "base",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /var/lib/app && echo seed > /var/lib/app/seed",
    ]);
    d.ok(&["commit", "--change", "VOLUME /var/lib/app", "base", "withvol"]);
    d.ok(&["rm", "base"]);
    // The image's VOLUME becomes an anonymous volume with the image's content.
    d.ok(&["run", "-d", "--name", "a1", "--network", "none", "withvol", "sleep", "1000"]);
    let name = d.inspect("a1", "{{range .Mounts}}{{.Name}}{{end}}");
    assert_eq!(name.len(), 64, "{name}");
    assert_eq!(d.ok(&["exec", "a1", "cat", "/var/lib/app/seed"]), "seed\n");
    assert_eq!(
        d.inspect(&name, "{{index .Labels \"com.docker.volume.anonymous\"}}|{{.Name}}"),
        format!("|{name}")
    );
    // --volumes-from shares it, read-only on request.
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--volumes-from",
        "a1",
        "busybox",
        "cat",
        "/var/lib/app/seed",
    ]);
    assert_eq!(out, "seed\n");
    let (_, err) = d.fails(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--volumes-from",
        "a1:ro",
        "busybox",
        "touch",
        "/var/lib/app/x",
    ]);
    assert!(err.contains("Read-only file system"), "{err}");
    d.ok(&[
        "run",
        "-d",
        "--name",
        "a2",
        "--network",
        "none",
        "--volumes-from",
        "a1",
        "busybox",
        "sleep",
        "1000",
    ]);
    // `rm -v` keeps a volume another container still uses…
    d.ok(&["rm", "-fv", "a1"]);
    assert_eq!(d.ok(&["volume", "ls", "-q"]), format!("{name}\n"));
    assert_eq!(d.ok(&["exec", "a2", "cat", "/var/lib/app/seed"]), "seed\n");
    // …and without -v, removing the last user leaves it for `volume prune`.
    d.ok(&["rm", "-f", "a2"]);
    assert_eq!(d.ok(&["volume", "ls", "-q", "-f", "dangling=true"]), format!("{name}\n"));
    d.ok(&["volume", "create", "named"]);
    let pruned = d.ok(&["volume", "prune", "-f"]);
    assert!(pruned.contains(&name) && !pruned.contains("named"), "{pruned}");
    // `-v /path` and --rm: the anonymous volume goes with the container.
    d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "/scratch",
        "busybox",
        "sh",
        "-c",
        "echo x > /scratch/f",
    ]);
    d.ok(&["run", "--rm", "--network", "none", "withvol", "true"]);
    assert_eq!(d.ok(&["volume", "ls", "-q"]), "named\n");
    // `rm -v` of a container alone on its anonymous volume removes it.
    d.ok(&["create", "--name", "c1", "-v", "/scratch", "busybox", "true"]);
    assert_eq!(d.ok(&["volume", "ls", "-q"]).lines().count(), 2);
    d.ok(&["rm", "-v", "c1"]);
    assert_eq!(d.ok(&["volume", "ls", "-q"]), "named\n");
    let left: Vec<String> = std::fs::read_dir(d.data_root.join("volumes"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 2, "only metadata.db and named are left: {left:?}");
}

#[test]
fn tmpfs_mounts_and_volumes_are_limited_and_unmounted() {
    let d = Berthd::start();
    let dd = "dd if=/dev/zero of=/t/f bs=1024 count=2048 2>&1; echo rc=$?";
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--tmpfs",
        "/t:size=1m,mode=1777",
        "busybox",
        "sh",
        "-c",
        &format!("stat -c %a /t; {dd}"),
    ]);
    assert!(
        out.starts_with("1777\n") && out.contains("No space left on device") && out.contains("rc=1"),
        "{out}"
    );
    let out = d.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--mount",
        "type=tmpfs,dst=/t,tmpfs-size=1048576",
        "busybox",
        "sh",
        "-c",
        dd,
    ]);
    assert!(out.contains("No space left on device"), "{out}");
    d.ok(&["volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "small"]);
    d.ok(&["run", "-d", "--name", "t1", "--network", "none", "-v", "small:/t", "busybox", "sleep", "1000"]);
    let out = d.ok(&["exec", "t1", "sh", "-c", dd]);
    assert!(out.contains("No space left on device"), "{out}");
    let data = d.data_root.join("volumes/small/_data").display().to_string();
    assert!(d.mounts().contains(&data), "the tmpfs volume is mounted while used");
    d.ok(&["stop", "-t", "0", "t1"]);
    d.wait_for(10, "the volume's unmount", || !d.mounts().contains(&data));
    d.ok(&["rm", "t1"]);
    d.ok(&["volume", "rm", "small"]);
    let (_, err) = d.fails(&["volume", "create", "-o", "size=1m", "quota"]);
    assert!(err.contains("quota size requested but no quota support"), "{err}");
    d.assert_nothing_left();
}
