//! Nothing is lost on upgrade: a data root written by an earlier berthd
//! (`tests/fixtures/upgrade/dataroot-v1.tar.zst`, made by `make-dataroot` with the binaries of
//! 5d3fd6e, whose container records were the Engine API's generated types) is opened by this
//! berthd, its records migrated, and every object is there and usable: containers with their
//! state, configuration, logs and restart policies, volumes with their data, the user network,
//! tagged and committed images. The daemon runs in a network namespace of the test's.

use std::path::Path;

use berth_tests::daemon::Berthd;
use berth_tests::netns::TestNetns;

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/upgrade/dataroot-v1.tar.zst")
}

fn lines(s: String) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_owned).collect();
    v.sort();
    v
}

#[test]
fn a_data_root_of_the_previous_release_opens_with_everything_intact() {
    let k = std::process::id() % 200 + 20;
    let ns = TestNetns::new(format!("btup{k}"));
    let mut d = Berthd::start_from(Some(&ns.path()), &fixture());
    assert!(d.log_text().contains("container records migrated"), "{}", d.log_text());

    // Every container, by name, in the state it was left in (and the restart policies applied
    // at the daemon's start: `always` although stopped by its user, `unless-stopped` because
    // the daemon's shutdown stopped it, not its user).
    assert_eq!(
        lines(d.ok(&["ps", "-a", "--format", "{{.Names}}"])),
        ["always", "changed", "created", "exited0", "exited3", "onnet", "svc", "withvol"]
    );
    d.wait_for(20, "always and svc running again", || {
        d.inspect("always", "{{.State.Status}}") == "running"
            && d.inspect("svc", "{{.State.Status}}") == "running"
    });
    assert_eq!(d.inspect("exited0", "{{.State.Status}} {{.State.ExitCode}}"), "exited 0");
    assert_eq!(d.inspect("exited3", "{{.State.Status}} {{.State.ExitCode}}"), "exited 3");
    assert_eq!(d.inspect("created", "{{.State.Status}}"), "created");

    // What was given at create, as inspect shows it.
    assert_eq!(d.inspect("exited0", "{{.Config.Labels.app}}"), "web");
    assert!(d.inspect("exited0", "{{json .Config.Env}}").contains("GREETING=hello"));
    assert_eq!(
        d.inspect("exited0", "{{json .HostConfig.PortBindings}}"),
        r#"{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}"#
    );
    assert_eq!(d.inspect("exited0", "{{json .Config.ExposedPorts}}"), r#"{"80/tcp":{}}"#);
    assert_eq!(
        d.inspect(
            "created",
            "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "on-failure:2"
    );
    assert_eq!(d.inspect("created", "{{.Config.Labels.tier}}"), "db");
    assert_eq!(d.inspect("svc", "{{.HostConfig.RestartPolicy.Name}}"), "unless-stopped");

    // Logs, both streams, and containers that start again.
    let out = d.command(["logs", "exited0"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out-line\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err-line\n");
    assert_eq!(d.ok(&["start", "-a", "created"]), "created-ran\n");
    d.ok(&["start", "-a", "exited0"]);
    assert_eq!(d.ok(&["logs", "exited0"]).matches("out-line").count(), 2);
    d.wait_for(10, "svc's second start in its log", || {
        d.ok(&["logs", "svc"]).matches("svc-started").count() == 2
    });
    assert_eq!(d.ok(&["port", "svc", "90"]).trim(), "0.0.0.0:9090");

    // Volumes and their data, through the container that made them.
    let vols = d.ok(&["volume", "ls", "--format", "{{.Name}} {{.Labels}}"]);
    assert!(vols.lines().any(|l| l == "data keep=yes"), "{vols}");
    assert_eq!(vols.lines().count(), 2, "{vols}");
    assert_eq!(
        d.ok(&["run", "--rm", "--volumes-from", "withvol", "busybox", "cat", "/data/file", "/anon/f"]),
        "persisted\nanon\n"
    );

    // The user network, its addressing, and the container with a fixed address on it.
    assert_eq!(
        d.ok(&[
            "network",
            "inspect",
            "-f",
            "{{(index .IPAM.Config 0).Subnet}} {{.Labels.purpose}}",
            "appnet"
        ])
        .trim(),
        "10.213.252.0/24 fixture"
    );
    d.ok(&["start", "onnet"]);
    assert_eq!(
        d.inspect("onnet", "{{.NetworkSettings.Networks.appnet.IPAMConfig.IPv4Address}}"),
        "10.213.252.9"
    );
    let ip = d.ok(&[
        "run",
        "--rm",
        "--network",
        "appnet",
        "busybox",
        "sh",
        "-c",
        "ip -4 -o addr show eth0 | awk '{print $4}'",
    ]);
    assert!(ip.starts_with("10.213.252."), "{ip}");

    // Images: the loaded one, a tag, a commit whose layer removed a file.
    assert_eq!(
        lines(d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])),
        ["app:v2", "busybox:latest", "mybox:1"]
    );
    assert_eq!(d.ok(&["run", "--rm", "app:v2"]), "v2\n");
    assert_eq!(d.ok(&["run", "--rm", "mybox:1", "sh", "-c", "test -e /bin/vi && echo vi"]), "vi\n");
    let (code, _) = d.fails(&["run", "--rm", "app:v2", "test", "-e", "/bin/vi"]);
    assert_eq!(code, 1);
    assert_eq!(
        d.ok(&["history", "--format", "{{.Comment}}", "app:v2"]).lines().next(),
        Some("fixture commit")
    );

    // Migrated once: a second start reads the records as they now are.
    d.stop();
    d.launch();
    assert_eq!(d.log_text().matches("container records migrated").count(), 1, "{}", d.log_text());
    assert_eq!(d.ok(&["ps", "-a", "--format", "{{.Names}}"]).lines().count(), 8);
    assert_eq!(d.inspect("exited3", "{{.State.ExitCode}}"), "3");

    // And everything can be removed.
    let ids = d.ok(&["ps", "-aq"]);
    let mut rm = vec!["rm", "-f", "-v"];
    rm.extend(ids.split_whitespace());
    d.ok(&rm);
    d.ok(&["volume", "rm", "data"]);
    d.ok(&["network", "rm", "appnet"]);
    d.ok(&["rmi", "app:v2", "mybox:1"]);
    assert_eq!(d.ok(&["volume", "ls", "-q"]), "");
    d.assert_nothing_left();
}
