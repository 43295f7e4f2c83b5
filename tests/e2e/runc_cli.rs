//! berth-runc behaves like runc on the command line: the same bundle through both, compared.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use berth_tests::*;

struct Rt {
    bin: PathBuf,
    root: PathBuf,
}

impl Rt {
    /// Each instance has a state root of its own: tests run in parallel and clean up their root.
    fn new(bin: PathBuf, name: &str) -> Rt {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Rt { bin, root: env().run_root.join(format!("cli-{name}-{n}")) }
    }
    fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }
    /// `create`: the container's init inherits its stdio, so it gets /dev/null, not our pipes.
    fn create(&self, bundle: &str, id: &str) -> i32 {
        let st = Command::new(&self.bin)
            .arg("--root")
            .arg(&self.root)
            .args(["create", "--bundle", bundle, id])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        st.code().unwrap_or(-1)
    }
    fn state(&self, id: &str) -> serde_json::Value {
        let o = self.run(&["state", id]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        for id in std::fs::read_dir(&self.root).into_iter().flatten().flatten() {
            let _ = self.run(&["delete", "-f", &id.file_name().to_string_lossy()]);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn runtimes() -> Vec<Rt> {
    let mut v = vec![Rt::new(env().runtime.clone(), "berth")];
    if Path::new("/usr/sbin/runc").exists() {
        v.push(Rt::new("/usr/sbin/runc".into(), "runc"));
    } else {
        eprintln!("runc is not installed: berth-runc is checked alone");
    }
    v
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[test]
fn unknown_containers_and_errors_like_runc() {
    for rt in runtimes() {
        let o = rt.run(&["state", "nosuch"]);
        assert_eq!(code(&o), 1, "{:?}", rt.bin);
        assert!(String::from_utf8_lossy(&o.stderr).contains("container does not exist"), "{:?}", rt.bin);
        assert_eq!(code(&rt.run(&["delete", "nosuch"])), 1);
        assert_eq!(
            code(&rt.run(&["delete", "--force", "nosuch"])),
            0,
            "{:?}: delete -f of nothing succeeds",
            rt.bin
        );
        assert_eq!(code(&rt.run(&["kill", "nosuch", "KILL"])), 1);
        // The JSON log carries the error for callers such as containerd.
        let log = rt.root.with_extension("log");
        let o = Command::new(&rt.bin)
            .arg("--root")
            .arg(&rt.root)
            .arg("--log")
            .arg(&log)
            .args(["--log-format", "json", "state", "nosuch"])
            .output()
            .unwrap();
        assert_eq!(code(&o), 1);
        let last: serde_json::Value = serde_json::from_str(read(&log).lines().last().unwrap()).unwrap();
        assert_eq!(last["level"], "error", "{:?}", rt.bin);
        assert!(last["msg"].as_str().unwrap().contains("container does not exist"));
        let _ = std::fs::remove_file(log);
    }
}

#[test]
fn lifecycle_and_state_json_like_runc() {
    let bundle = Bundle::new(busybox(&["sleep", "30"]));
    let b = bundle.dir.to_str().unwrap();
    for rt in runtimes() {
        let id = "life";
        assert_eq!(rt.create(b, id), 0, "{:?}", rt.bin);
        let st = rt.state(id);
        let mut keys: Vec<&str> = st.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            ["bundle", "created", "id", "ociVersion", "owner", "pid", "rootfs", "status"],
            "{:?}",
            rt.bin
        );
        assert_eq!((st["status"].as_str(), st["bundle"].as_str()), (Some("created"), Some(b)));
        assert_eq!(rt.create(b, id), 1, "an id is unique");
        assert_eq!(code(&rt.run(&["start", id])), 0);
        assert_eq!(rt.state(id)["status"], "running");
        let list: serde_json::Value =
            serde_json::from_slice(&rt.run(&["list", "--format", "json"]).stdout).unwrap();
        assert_eq!(list[0]["id"], id);
        let pids: Vec<i32> = serde_json::from_slice(&rt.run(&["ps", "--format", "json", id]).stdout).unwrap();
        assert_eq!(pids, [st["pid"].as_i64().unwrap() as i32]);
        assert_eq!(code(&rt.run(&["pause", id])), 0);
        assert_eq!(rt.state(id)["status"], "paused");
        assert_eq!(code(&rt.run(&["resume", id])), 0);
        assert_eq!(code(&rt.run(&["delete", id])), 1, "{:?}: a running container is not deleted", rt.bin);
        // PID 1 without a handler ignores TERM: KILL stops it.
        assert_eq!(code(&rt.run(&["kill", id, "KILL"])), 0);
        assert!(eventually(Duration::from_secs(5), || rt.state(id)["status"] == "stopped"), "{:?}", rt.bin);
        assert_eq!(rt.state(id)["pid"], 0);
        assert_eq!(code(&rt.run(&["kill", id, "TERM"])), 1, "a stopped container takes no signal");
        assert_eq!(code(&rt.run(&["delete", id])), 0);
        assert_eq!(code(&rt.run(&["state", id])), 1);
    }
}

#[test]
fn run_passes_the_exit_code_and_spec_writes_a_bundle() {
    let bundle = Bundle::new(sh("exit 42"));
    for rt in runtimes() {
        let o = rt.run(&["run", "--bundle", bundle.dir.to_str().unwrap(), "runexit"]);
        assert_eq!(code(&o), 42, "{:?}", rt.bin);
        assert_eq!(code(&rt.run(&["state", "runexit"])), 1, "run deletes the container");
    }
    let dir = env().run_root.join("spec-dir");
    std::fs::create_dir_all(&dir).unwrap();
    let rt = Rt::new(env().runtime.clone(), "spec");
    assert_eq!(code(&rt.run(&["spec", "--bundle", dir.to_str().unwrap()])), 0);
    let spec: serde_json::Value = serde_json::from_str(&read(&dir.join("config.json"))).unwrap();
    assert_eq!(spec["root"]["path"], "rootfs");
    assert_eq!(
        code(&rt.run(&["spec", "--bundle", dir.to_str().unwrap()])),
        1,
        "an existing config.json is kept"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_root_or_escaping_cgroup_path_is_refused() {
    // libcontainer takes `""` as the root cgroup; `delete --force` would then kill every process
    // the host has in it. berth-runc refuses such paths before anything is created.
    let bundle = Bundle::new(busybox(&["true"]));
    let config = bundle.dir.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_str(&read(&config)).unwrap();
    let rt = Rt::new(env().runtime.clone(), "rootcg");
    for (path, says) in [("", "is the root cgroup"), ("/", "is the root cgroup"), ("/a/../..", "leads out")] {
        spec["linux"]["cgroupsPath"] = path.into();
        std::fs::write(&config, serde_json::to_vec(&spec).unwrap()).unwrap();
        let o = rt.run(&["create", "--bundle", bundle.dir.to_str().unwrap(), "rootcg"]);
        assert_eq!(code(&o), 1, "{path:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("linux.cgroupsPath") && err.contains(says), "{path:?}: {err}");
        assert_eq!(code(&rt.run(&["state", "rootcg"])), 1, "{path:?}: nothing is left");
    }
}

/// What `/proc/<pid>/status` says of a process's capabilities, no_new_privs and seccomp.
fn privileges(pid: i64) -> Vec<String> {
    read(Path::new(&format!("/proc/{pid}/status")))
        .lines()
        .filter(|l| ["Cap", "NoNewPrivs", "Seccomp"].iter().any(|k| l.starts_with(k)))
        .map(String::from)
        .collect()
}

fn seccomp_filter(pid: i64) -> String {
    let o = Command::new(&env().probe).args(["seccomp-filter", &pid.to_string()]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn berth_runc_installs_the_filter_libcontainer_would() {
    // berth-runc compiles a profile once and installs it itself (lending CAP_SYS_ADMIN for the
    // install); a spec with hooks goes through libcontainer's own install. Both must leave the
    // process with the same filter and the same privileges, for each way of asking.
    type Set = Box<dyn Fn(&mut berth_spec::ContainerOptions)>;
    let cases: Vec<(&str, Set)> = vec![
        ("default", Box::new(|_| {})),
        ("no capabilities", Box::new(|o| o.cap_drop = vec!["ALL".into()])),
        ("without SETPCAP", Box::new(|o| o.cap_drop = vec!["SETPCAP".into()])),
        ("a user", Box::new(|o| o.user = Some("1000:1000".into()))),
        ("CAP_SYS_ADMIN", Box::new(|o| o.cap_add = vec!["SYS_ADMIN".into()])),
        ("no-new-privileges", Box::new(|o| o.security_opt = vec!["no-new-privileges".into()])),
    ];
    let rt = Rt::new(env().runtime.clone(), "seccomp");
    let mut profiles = std::collections::HashSet::new();
    for (what, set) in &cases {
        let mut seen = Vec::new();
        for hooks in [false, true] {
            let mut o = busybox(&["sleep", "30"]);
            set(&mut o);
            let bundle = Bundle::new(o);
            let spec: serde_json::Value =
                serde_json::from_str(&read(&bundle.dir.join("config.json"))).unwrap();
            profiles.insert(spec["linux"]["seccomp"].to_string());
            if hooks {
                let path = bundle.dir.join("config.json");
                let mut spec: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
                spec["hooks"] = serde_json::json!({"createRuntime": [{"path": "/bin/true"}]});
                std::fs::write(&path, serde_json::to_vec(&spec).unwrap()).unwrap();
            }
            let id = format!("sc{}", seq());
            assert_eq!(rt.create(bundle.dir.to_str().unwrap(), &id), 0, "{what}");
            assert_eq!(code(&rt.run(&["start", &id])), 0, "{what}");
            let st = rt.state(&id);
            assert_eq!(st["bundle"].as_str(), bundle.dir.to_str(), "{what}: the state names the real bundle");
            let pid = st["pid"].as_i64().unwrap();
            // The filter is in place once the process has exec'd `sleep`.
            assert!(eventually(Duration::from_secs(5), || read(Path::new(&format!("/proc/{pid}/comm")))
                .trim()
                == "sleep"));
            seen.push((privileges(pid), seccomp_filter(pid)));
            assert_eq!(code(&rt.run(&["kill", &id, "KILL"])), 0);
            assert!(eventually(Duration::from_secs(5), || rt.state(&id)["status"] == "stopped"));
            assert_eq!(code(&rt.run(&["delete", &id])), 0);
        }
        assert!(
            seen[0].0.iter().any(|l| l.starts_with("Seccomp:") && l.ends_with('2')),
            "{what}: {:?}",
            seen[0].0
        );
        assert!(seen[0].1.len() > 1000, "{what}: a filter is installed");
        assert_eq!(seen[0], seen[1], "{what}: the same filter and privileges both ways");
    }
    // Docker's profile depends on the capabilities; each one was compiled once.
    let cached: Vec<_> = std::fs::read_dir(rt.root.join("seccomp:cache")).unwrap().flatten().collect();
    assert_eq!(cached.len(), profiles.len(), "{cached:?}");
}
