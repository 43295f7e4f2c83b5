//! A private `berthd` for end-to-end tests: its own data root (under /var/tmp, so overlayfs
//! works), exec root, socket and daemon.json, driven through the real docker CLI (or any client
//! given [`Berthd::host`]). Dropping it stops the daemon and removes everything it made, even
//! after a failed test: shims, containers, mounts, cgroups, directories.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::env;

/// Daemons alive in this process.
static LIVE: std::sync::Mutex<usize> = std::sync::Mutex::new(0);

/// Now, as a `--since`/`--until` argument (Unix seconds with nanoseconds).
pub fn now_arg() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

pub struct Berthd {
    /// Its bridges' and firewall table's prefix (`bridge-prefix`).
    pub prefix: String,
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    pub sock: PathBuf,
    pub config: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
    extra_args: Vec<String>,
    /// A network namespace the daemon runs in instead of the host's (`Berthd::start_in`).
    netns: Option<PathBuf>,
    /// A descriptor limit (soft and hard) the daemon is started with (`Berthd::start_with_nofile`).
    nofile: Option<u64>,
    /// Started by `systemd-socket-activate` on its socket, serving `-H fd://`
    /// (`Berthd::start_socket_activated`).
    socket_activated: bool,
    /// `NOTIFY_SOCKET` for the daemon.
    notify: Option<PathBuf>,
    /// The network slot this daemon holds (see [`network_slot`]); released when dropped.
    _slot: std::fs::File,
}

/// A network slot no other test daemon holds, in this process or another (`cargo test` runs
/// while CI runs): an exclusive lock on `/run/berth-test/slots/<k>`. Slot `k` owns the bridge
/// prefix `bt<k>` and the default subnet `10.213.<k>.0/24`.
fn network_slot() -> (u32, std::fs::File) {
    let dir = Path::new("/run/berth-test/slots");
    std::fs::create_dir_all(dir).unwrap();
    for k in 0..250 {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(k.to_string()))
            .unwrap();
        // SAFETY: flock on a descriptor this function owns; the lock lives as long as `f`.
        if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&f), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return (k, f);
        }
    }
    panic!("all 250 test network slots are taken");
}

/// The busybox fixture archive, written once per test process.
pub fn busybox_tar() -> &'static Path {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let dir = env().run_root.join("fixture");
        std::fs::create_dir_all(&dir).unwrap();
        crate::images::busybox_fixture(&dir).0
    })
}

impl Berthd {
    /// Starts a daemon with busybox loaded.
    pub fn start() -> Berthd {
        Berthd::start_with(serde_json::json!({}), &[])
    }

    /// Starts a daemon with extra daemon.json keys and flags, busybox loaded.
    pub fn start_with(config: serde_json::Value, args: &[&str]) -> Berthd {
        Berthd::start_in(None, config, args)
    }

    /// Starts a daemon inside the network namespace `netns` (a bind-mounted namespace file,
    /// such as `/run/netns/<name>`) when given: its bridges, firewall rules and published ports
    /// are then that namespace's, not the host's.
    pub fn start_in(netns: Option<&Path>, config: serde_json::Value, args: &[&str]) -> Berthd {
        let mut d = Berthd::prepare(netns, config, args);
        d.launch();
        d.ok(&["load", "-i", busybox_tar().to_str().unwrap()]);
        d
    }

    /// Starts a daemon on a data root unpacked from `tarball` (a zstd tar, as the upgrade
    /// fixture's `make-dataroot` writes it: overlay whiteouts and xattrs kept), in `netns`.
    pub fn start_from(netns: Option<&Path>, tarball: &Path) -> Berthd {
        let mut d = Berthd::prepare(netns, serde_json::json!({}), &[]);
        let st = Command::new("tar")
            .args(["--xattrs", "--xattrs-include=*", "--numeric-owner", "-I", "zstd", "-xpf"])
            .arg(tarball)
            .arg("-C")
            .arg(&d.data_root)
            .status()
            .expect("run tar");
        assert!(st.success(), "unpacking {} failed", tarball.display());
        d.launch();
        d
    }

    /// A daemon's roots, configuration and network slot, not yet started.
    fn prepare(netns: Option<&Path>, config: serde_json::Value, args: &[&str]) -> Berthd {
        *LIVE.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        let n = crate::seq();
        let id = format!("{}-{n}", std::process::id());
        let data_root = PathBuf::from(format!("/var/tmp/berth-test-d/{id}"));
        let exec_root = env().run_root.join(format!("d{n}"));
        std::fs::create_dir_all(&data_root).unwrap();
        std::fs::create_dir_all(&exec_root).unwrap();
        let mut cfg = config;
        // The test's init, unless the test says otherwise (`"init-path": null` leaves it unset,
        // as a user's daemon.json does: berthd looks beside itself, then on PATH).
        match cfg.get("init-path") {
            None => cfg["init-path"] = serde_json::json!(env().init),
            Some(serde_json::Value::Null) => {
                cfg.as_object_mut().unwrap().remove("init-path");
            }
            Some(_) => {}
        }
        // Its own bridges, firewall table and default subnet, apart from other test daemons.
        let (slot, slot_lock) = network_slot();
        let prefix = format!("bt{slot}");
        cfg["bridge-prefix"] = serde_json::json!(prefix);
        if cfg.get("bip").is_none() {
            cfg["bip"] = serde_json::json!(format!("10.213.{slot}.1/24"));
        }
        let config = data_root.with_extension("json");
        std::fs::write(&config, serde_json::to_vec(&cfg).unwrap()).unwrap();
        Berthd {
            prefix,
            sock: exec_root.join("berth.sock"),
            log: data_root.with_extension("log"),
            data_root,
            exec_root,
            config,
            child: None,
            extra_args: args.iter().map(|s| s.to_string()).collect(),
            netns: netns.map(Path::to_path_buf),
            nofile: None,
            socket_activated: false,
            notify: None,
            _slot: slot_lock,
        }
    }

    /// Starts a daemon as systemd's `berthd.socket` would: `systemd-socket-activate` listens on
    /// the socket and execs berthd (`-H fd://`) at the first connection, with `NOTIFY_SOCKET`
    /// set to `notify` when given. Busybox loaded.
    pub fn start_socket_activated(notify: Option<&Path>) -> Berthd {
        let mut d = Berthd::prepare(None, serde_json::json!({}), &[]);
        d.socket_activated = true;
        d.notify = notify.map(Path::to_path_buf);
        d.launch();
        d.ok(&["load", "-i", busybox_tar().to_str().unwrap()]);
        d
    }

    /// Starts a daemon whose descriptor limit is `nofile` (soft and hard).
    pub fn start_with_nofile(nofile: u64) -> Berthd {
        let mut d = Berthd::start();
        d.stop();
        d.nofile = Some(nofile);
        d.launch();
        d
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    /// Starts the daemon process (again) on the same roots and waits for its socket.
    pub fn launch(&mut self) {
        let _ = std::fs::remove_file(&self.sock);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let berthd = env().bin_dir.join("berthd");
        let mut cmd = if self.socket_activated {
            // It hands the program only the variables it is given with -E.
            let mut c = Command::new("systemd-socket-activate");
            c.arg("-l").arg(&self.sock).args(["-E", "BERTHD_LOG=debug"]);
            if let Some(n) = &self.notify {
                c.arg("-E").arg(format!("NOTIFY_SOCKET={}", n.display()));
            }
            c.arg(berthd);
            c
        } else {
            Command::new(berthd)
        };
        if let Some(ns) = &self.netns {
            use std::os::unix::process::CommandExt;
            let ns = std::fs::File::open(ns).unwrap();
            // SAFETY: setns on a descriptor opened before the fork; nothing else runs in the child.
            unsafe {
                cmd.pre_exec(move || {
                    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
                });
            }
        }
        if let Some(n) = self.nofile {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit only, in the child before exec.
            unsafe {
                cmd.pre_exec(move || {
                    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, n, n)
                        .map_err(std::io::Error::from)
                });
            }
        }
        let host = if self.socket_activated { "fd://".to_string() } else { self.host() };
        let child = cmd
            .arg("--data-root")
            .arg(&self.data_root)
            .arg("--exec-root")
            .arg(&self.exec_root)
            .arg("-H")
            .arg(host)
            .arg("--config-file")
            .arg(&self.config)
            .args(&self.extra_args)
            .env("BERTHD_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start berthd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.docker(&["version", "--format", "{{.Server.Version}}"]).status.success() {
                return;
            }
            if let Some(st) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("berthd exited ({st}) at start:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("berthd did not answer:\n{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    /// `kill -9` of the daemon.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits for the daemon to exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if c.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A docker command against this daemon, for callers that need its stdio.
    pub fn command<S: AsRef<std::ffi::OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", self.host()).args(args);
        c
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().expect("run docker")
    }

    /// Runs docker; panics with its stderr and the daemon's log unless it succeeds. Returns stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs docker expecting failure; returns (exit code, stderr).
    #[track_caller]
    pub fn fails(&self, args: &[&str]) -> (i32, String) {
        let out = self.docker(args);
        assert!(!out.status.success(), "docker {args:?} succeeded: {}", String::from_utf8_lossy(&out.stdout));
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// A raw Engine API request over the socket (curl); returns the status code and the body.
    pub fn api(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let mut c = Command::new("curl");
        c.args(["-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket"]).arg(&self.sock);
        // A HEAD answer has no body: `-X HEAD` would wait for the one its length announces.
        if method == "HEAD" {
            c.arg("-I");
        } else {
            c.args(["-X", method]);
        }
        c.arg(format!("http://x{path}"));
        if let Some(b) = body {
            c.args(["-H", "Content-Type: application/json", "--data-binary", b]);
        }
        let out = c.stdin(Stdio::null()).output().expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// Runs a Python script (the Docker SDK's `from_env()` finds this daemon); panics with its
    /// output unless it succeeds. Returns what it printed.
    #[track_caller]
    pub fn python(&self, script: &str) -> String {
        let out = Command::new("python3")
            .args(["-c", script])
            .env("DOCKER_HOST", self.host())
            .output()
            .expect("run python3");
        assert!(
            out.status.success(),
            "python: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `docker inspect -f`.
    pub fn inspect(&self, what: &str, format: &str) -> String {
        self.ok(&["inspect", "-f", format, what]).trim().to_string()
    }

    /// Waits until `f` holds, up to `secs`.
    #[track_caller]
    pub fn wait_for(&self, secs: u64, what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if f() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}\n{}", self.log_text());
    }

    /// After removals: no mount, shim or container directory of this daemon is left. A removal
    /// is reported once the record is gone; the files and the shim's runtime `delete` follow
    /// within moments, so this waits (10 s at most) before it fails, naming what was left.
    pub fn assert_nothing_left(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (mounts, shims, dirs) = (self.mounts(), self.shims(), self.container_dirs());
            if mounts.is_empty() && shims.is_empty() && dirs.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "left after removal: mounts {mounts:?}, shims {shims:?}, container directories {dirs:?}\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Container IDs the data root holds records for (directories under containers/).
    pub fn container_dirs(&self) -> Vec<String> {
        std::fs::read_dir(self.data_root.join("containers"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// Mounts under this daemon's roots.
    pub fn mounts(&self) -> Vec<String> {
        let roots = [self.exec_root.display().to_string(), self.data_root.display().to_string()];
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(String::from))
            .filter(|m| roots.iter().any(|r| m.starts_with(r.as_str())))
            .collect()
    }

    /// Shim processes serving this daemon's containers.
    pub fn shims(&self) -> Vec<i32> {
        let needle = self.exec_root.display().to_string();
        let mut out = Vec::new();
        for p in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
            let cmd = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd);
            if cmd.contains("berth-shim") && cmd.contains(&needle) {
                out.push(pid);
            }
        }
        out
    }
}

impl Drop for Berthd {
    fn drop(&mut self) {
        self.kill9();
        // Containers outlive the daemon by design: kill them through their shims' records.
        let ids: Vec<String> = std::fs::read_dir(self.exec_root.join("containers"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        for pid in self.shims() {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        for id in &ids {
            let dir = self.exec_root.join("containers").join(id);
            if let Some(rec) = std::fs::read(dir.join("state/shim.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<berth_shim::ShimRecord>(&b).ok())
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(rec.init_pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let _ = Command::new(&env().runtime)
                    .arg("--root")
                    .arg(self.exec_root.join("runtime"))
                    .args(["delete", "--force", &rec.id])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        for m in self.mounts().into_iter().rev() {
            let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        // Its bridges (a container's veths went with its namespace) and its firewall table.
        // Only its own: `bt1`'s are `bt10` and `bt1-…`, never `bt10-…` or `bt100` (`bt10`'s).
        let own =
            |l: &String| *l == format!("{}0", self.prefix) || l.starts_with(&format!("{}-", self.prefix));
        for l in berth_network::link::links_with_prefix(&self.prefix).into_iter().filter(own) {
            let _ = berth_network::link::delete_link(&l);
        }
        let _ = Command::new("nft")
            .args(["delete", "table", "inet", &self.prefix])
            .stderr(Stdio::null())
            .status();
        // The way it opened through another engine's firewall (where the host's FORWARD drops:
        // Docker running on the host), in the host's own chains.
        if self.netns.is_none() {
            let chain = format!("{}-ALLOW", self.prefix.to_ascii_uppercase());
            let ipt = |args: &[&str]| {
                Command::new("iptables").args(args).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
            };
            for from in ["DOCKER-USER", "FORWARD"] {
                while ipt(&["-w", "-D", from, "-j", &chain]) {}
            }
            let _ = ipt(&["-w", "-F", &chain]);
            let _ = ipt(&["-w", "-X", &chain]);
        }
        let all_ids: Vec<String> = ids.into_iter().chain(self.container_dirs()).collect();
        for ctrl in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
            for id in &all_ids {
                let _ = std::fs::remove_dir(ctrl.path().join("berth").join(id));
            }
        }
        // The shared `berth` cgroup parent goes with the last daemon of this process, so that it
        // never disappears under another daemon's container being created.
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        *live = live.saturating_sub(1);
        if *live == 0 {
            for ctrl in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
                let _ = std::fs::remove_dir(ctrl.path().join("berth"));
            }
        }
        let _ = std::fs::remove_dir_all(&self.exec_root);
        let _ = std::fs::remove_dir_all(&self.data_root);
        let _ = std::fs::remove_file(&self.config);
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        } else {
            eprintln!("berthd log kept at {}", self.log.display());
        }
    }
}
