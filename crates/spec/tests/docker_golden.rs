//! The spec berth generates, compared with the config.json the reference engine (Docker 20.10,
//! Debian's docker.io) handed runc for the same `docker run` options, recorded by
//! `docker/capture.sh` from the cases in `docker/cases.txt`.
//!
//! Fields that necessarily differ are normalised away: ids, hostnames, rootfs and cgroup paths,
//! hooks, the /etc/{hosts,hostname,resolv.conf} binds (the networking layer adds those), and
//! the two masked paths Docker added after 20.10. Seccomp is compared separately because the
//! profile itself moved on between Docker 20.10 and 28.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use berth_spec::{ContainerOptions, DeviceMapping, DeviceNode, HostInfo, ImageConfig, RootfsFiles, Ulimit};
use serde_json::{json, Value};

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nbin:x:2:2:bin:/bin:/bin/false\nsys:x:3:3:sys:/dev:/bin/false\nsync:x:4:100:sync:/bin:/bin/sync\nmail:x:8:8:mail:/var/spool/mail:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\noperator:x:37:37:Operator:/var:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n";
const GROUP: &str = "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\ntty:x:5:\ndisk:x:6:\nwheel:x:10:root\nmail:x:12:\naudio:x:29:\nwww-data:x:33:\noperator:x:37:\nusers:x:100:\nstaff:x:50:\nnogroup:x:65534:\n";

fn golden(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/docker").join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn base() -> ContainerOptions {
    ContainerOptions {
        id: "3f1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a".into(),
        rootfs: "/rootfs".into(),
        image: ImageConfig {
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            cmd: Some(vec!["sh".into()]),
            ..Default::default()
        },
        cmd: Some(vec!["sleep".into(), "1000".into()]),
        ..Default::default()
    }
}

fn host_for(golden_privileged: &Value) -> HostInfo {
    // Docker 20.10 grants every capability it knows with --privileged; use that as the bounding set.
    let caps = golden_privileged["process"]["capabilities"]["bounding"].as_array().unwrap();
    let devices = golden_privileged["linux"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| DeviceNode {
            path: d["path"].as_str().unwrap().into(),
            kind: d["type"].as_str().unwrap().chars().next().unwrap(),
            major: d["major"].as_i64().unwrap(),
            minor: d["minor"].as_i64().unwrap(),
            mode: d["fileMode"].as_u64().unwrap() as u32,
            uid: d["uid"].as_u64().unwrap() as u32,
            gid: d["gid"].as_u64().unwrap() as u32,
        })
        .collect();
    HostInfo {
        bounding_caps: caps.iter().map(|c| c.as_str().unwrap().to_string()).collect(),
        cgroup_v2: false,
        systemd_cgroup: false,
        devices,
        init_path: PathBuf::from("/usr/bin/docker-init"),
        arch: "amd64".into(),
        kernel: (6, 1),
    }
}

/// A change to the base options: one row of a table.
type Tweak = Box<dyn Fn(&mut ContainerOptions)>;

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The table: each case of `docker/cases.txt` as berth's options.
fn cases() -> Vec<(&'static str, Tweak)> {
    vec![
        ("default", Box::new(|_| {})),
        ("privileged", Box::new(|o| o.privileged = true)),
        (
            "cap_drop_all_add_net_admin",
            Box::new(|o| {
                o.cap_drop = strs(&["ALL"]);
                o.cap_add = strs(&["NET_ADMIN"]);
            }),
        ),
        ("cap_add_all", Box::new(|o| o.cap_add = strs(&["ALL"]))),
        ("user_name", Box::new(|o| o.user = Some("www-data".into()))),
        ("user_uid_gid", Box::new(|o| o.user = Some("1000:1000".into()))),
        ("user_uid_only", Box::new(|o| o.user = Some("33".into()))),
        ("user_name_group", Box::new(|o| o.user = Some("mail:audio".into()))),
        ("readonly_rootfs", Box::new(|o| o.readonly_rootfs = true)),
        (
            "resources",
            Box::new(|o| {
                o.memory = 32 << 20;
                o.memory_reservation = 16 << 20;
                o.memory_swap = 64 << 20;
                o.cpu_shares = 512;
                o.cpu_quota = 50000;
                o.cpu_period = 100000;
                o.cpuset_cpus = "0".into();
                o.pids_limit = Some(10);
                o.oom_score_adj = 100;
            }),
        ),
        ("nanocpus", Box::new(|o| o.nano_cpus = 1_500_000_000)),
        (
            "sysctls",
            Box::new(|o| {
                o.sysctls.insert("net.ipv4.ip_forward".into(), "1".into());
                o.sysctls.insert("kernel.shm_rmid_forced".into(), "1".into());
            }),
        ),
        ("init", Box::new(|o| o.init = true)),
        (
            "shm_hostname_workdir_env_tty",
            Box::new(|o| {
                o.shm_size = 128 << 20;
                o.hostname = Some("box".into());
                o.working_dir = Some("/tmp".into());
                o.env = strs(&["FOO=bar"]);
                o.tty = true;
            }),
        ),
        (
            "ulimits",
            Box::new(|o| {
                o.ulimits = vec![
                    Ulimit { name: "nofile".into(), soft: 1024, hard: 2048 },
                    Ulimit { name: "nproc".into(), soft: 100, hard: 100 },
                ]
            }),
        ),
        ("no_new_privs", Box::new(|o| o.security_opt = strs(&["no-new-privileges"]))),
        ("group_add", Box::new(|o| o.group_add = strs(&["50", "audio"]))),
        (
            "devices",
            Box::new(|o| {
                o.devices = vec![DeviceMapping {
                    host: DeviceNode {
                        path: "/dev/null".into(),
                        kind: 'c',
                        major: 1,
                        minor: 3,
                        mode: 0o20666,
                        uid: 0,
                        gid: 0,
                    },
                    container_path: "/dev/xnull".into(),
                    permissions: "rwm".into(),
                }]
            }),
        ),
    ]
}

fn normalize(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    for k in ["hooks", "hostname", "ociVersion"] {
        o.remove(k);
    }
    v["root"].as_object_mut().unwrap().remove("path");
    let linux = v["linux"].as_object_mut().unwrap();
    linux.remove("cgroupsPath");
    linux.remove("seccomp");
    if let Some(m) = linux.get_mut("maskedPaths") {
        m.as_array_mut().unwrap().retain(|p| p != "/proc/interrupts" && p != "/sys/devices/virtual/powercap");
    }
    v["process"]["env"].as_array_mut().unwrap().retain(|e| !e.as_str().unwrap().starts_with("HOSTNAME="));
    v["mounts"].as_array_mut().unwrap().retain(|m| !m["destination"].as_str().unwrap().starts_with("/etc/"));
    // oci-spec keeps capabilities in sets: their order carries no meaning.
    if let Some(caps) = v["process"]["capabilities"].as_object_mut() {
        for list in caps.values_mut() {
            list.as_array_mut().unwrap().sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
    }
    v
}

/// The paths at which two JSON values differ, for a readable failure.
fn diff(a: &Value, b: &Value, path: String, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()).collect::<BTreeSet<_>>() {
                diff(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    format!("{path}/{k}"),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff(p, q, format!("{path}/{i}"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: berth {a} docker {b}")),
        _ => {}
    }
}

/// Docker's default profile changes after 20.10: io_uring is no longer allowed (Docker 25),
/// and `socket` is allowed only with an argument rule that refuses AF_VSOCK.
const CHANGED_SINCE_20_10: &[&str] = &["io_uring_enter", "io_uring_register", "io_uring_setup", "socket"];

fn allowed(seccomp: &Value) -> BTreeSet<String> {
    seccomp["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["action"] == "SCMP_ACT_ALLOW"
                && s.get("args").is_none_or(|a| a.as_array().is_none_or(|a| a.is_empty()))
        })
        .flat_map(|s| s["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn matches_docker_for_every_case() {
    let host = host_for(&golden("privileged"));
    let files = RootfsFiles { passwd: PASSWD.into(), group: GROUP.into() };
    let mut failures = Vec::new();
    for (name, tweak) in cases() {
        let mut opts = base();
        tweak(&mut opts);
        let ours = serde_json::to_value(berth_spec::generate(&opts, &host, &files).unwrap()).unwrap();
        let theirs = golden(name);
        let mut diffs = Vec::new();
        diff(&normalize(ours.clone()), &normalize(theirs.clone()), String::new(), &mut diffs);
        if !diffs.is_empty() {
            failures.push(format!("{name}:\n  {}", diffs.join("\n  ")));
            continue;
        }
        // Seccomp: same presence, action and architectures; every syscall Docker 20.10 allowed
        // unconditionally is allowed by berth's (newer) profile too.
        match (ours["linux"].get("seccomp"), theirs["linux"].get("seccomp")) {
            (None, None) => {}
            (Some(a), Some(b)) => {
                assert_eq!(a["defaultAction"], b["defaultAction"], "{name}");
                assert_eq!(a["architectures"], b["architectures"], "{name}");
                let missing: Vec<_> = allowed(b)
                    .difference(&allowed(a))
                    .filter(|n| !CHANGED_SINCE_20_10.contains(&n.as_str()))
                    .cloned()
                    .collect();
                if !missing.is_empty() {
                    failures.push(format!("{name}: docker allows {missing:?}, berth does not"));
                }
            }
            (a, b) => failures.push(format!(
                "{name}: seccomp present in berth: {}, in docker: {}",
                a.is_some(),
                b.is_some()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn privileged_grants_only_what_the_bounding_set_holds() {
    let mut host = host_for(&golden("privileged"));
    host.bounding_caps.retain(|c| c != "CAP_SYS_RESOURCE");
    let mut opts = base();
    opts.privileged = true;
    let spec =
        serde_json::to_value(berth_spec::generate(&opts, &host, &RootfsFiles::default()).unwrap()).unwrap();
    let caps = spec["process"]["capabilities"]["bounding"].as_array().unwrap();
    assert!(!caps.contains(&json!("CAP_SYS_RESOURCE")));
    assert!(caps.contains(&json!("CAP_SYS_ADMIN")));
    assert!(spec["linux"].get("seccomp").is_none() && spec["linux"].get("maskedPaths").is_none());
}

#[test]
fn bad_input_gets_clear_errors() {
    let host = host_for(&golden("privileged"));
    let files = RootfsFiles { passwd: PASSWD.into(), group: GROUP.into() };
    let cases: Vec<(Tweak, &str)> = vec![
        (
            Box::new(|o| {
                o.sysctls.insert("vm.swappiness".into(), "1".into());
            }),
            "sysctl \"vm.swappiness\" is not in a separate kernel namespace",
        ),
        (Box::new(|o| o.cap_add = strs(&["NOT_A_CAP"])), "unknown capability: \"NOT_A_CAP\""),
        (
            Box::new(|o| o.user = Some("ghost".into())),
            "unable to find user ghost: no matching entries in passwd file",
        ),
        (Box::new(|o| o.working_dir = Some("rel".into())), "the working directory \"rel\" is invalid"),
        (Box::new(|o| o.security_opt = strs(&["seccomp={bad"])), "decoding seccomp profile failed"),
        (
            Box::new(|o| {
                o.nano_cpus = 1;
                o.cpu_quota = 1;
            }),
            "conflicting options: Nano CPUs and CPU Period/Quota",
        ),
        (Box::new(|o| o.security_opt = strs(&["bogus=1"])), "invalid --security-opt \"bogus=1\""),
    ];
    for (tweak, want) in cases {
        let mut opts = base();
        tweak(&mut opts);
        let err = berth_spec::generate(&opts, &host, &files).unwrap_err().to_string();
        assert!(err.starts_with(want), "got {err:?}, want {want:?}");
    }
}
