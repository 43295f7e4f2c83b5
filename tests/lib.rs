//! Harness for berth's end-to-end tests: real containers from the busybox fixture, created by the
//! real `berth-shim` through the real runtime (`berth-runc`, or `BERTH_RUNTIME`).
//!
//! Binaries come from `BERTH_BIN_DIR` (else `target/release`, else `target/debug`); the static
//! `berth-init` and `berth-probe` from `BERTH_INIT`/`BERTH_PROBE` (else beside the host-triple
//! target dir). `make test` sets all of them. Every [`TestContainer`] cleans up after itself
//! in `Drop` — shim, runtime state, overlay mount, cgroups, directories — even when a test fails.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use berth_shim::logfile::Rotation;
use berth_shim::protocol::{read_frame, STDERR, STDOUT, SYSTEM};
pub use berth_shim::{ExitStatus, ShimClient, ShimError};
pub use berth_spec::{ContainerOptions, Mount};

pub mod compose;
pub mod daemon;
pub mod http;
pub mod images;
pub mod netns;
pub mod refdocker;
pub mod registry;

/// A number unique within this test process.
pub fn seq() -> u32 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// Where the test binaries and the shared read-only rootfs are.
pub struct Env {
    pub bin_dir: PathBuf,
    pub init: PathBuf,
    pub probe: PathBuf,
    pub runtime: PathBuf,
    pub lower: PathBuf,
    pub run_root: PathBuf,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn find_bin(var: &str, name: &str, dirs: &[PathBuf]) -> PathBuf {
    if let Ok(p) = std::env::var(var) {
        return PathBuf::from(p);
    }
    dirs.iter()
        .map(|d| d.join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} not built: run `make build` (or set {var})"))
}

/// The test environment, set up once per test binary.
pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let ws = workspace();
        let target = ws.join("target");
        let bin_dir = std::env::var("BERTH_BIN_DIR").map(PathBuf::from).unwrap_or_else(|_| {
            if target.join("release/berth-shim").exists() {
                target.join("release")
            } else {
                target.join("debug")
            }
        });
        let triple = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
        let static_dirs = [target.join(&triple).join("release"), target.join(&triple).join("debug")];
        let init = find_bin("BERTH_INIT", "berth-init", &static_dirs);
        let probe = find_bin("BERTH_PROBE", "berth-probe", &static_dirs);
        let runtime =
            std::env::var("BERTH_RUNTIME").map(PathBuf::from).unwrap_or_else(|_| bin_dir.join("berth-runc"));
        let lower = target.join("test-rootfs/busybox");
        if !lower.join("bin/busybox").exists() {
            std::fs::create_dir_all(target.join("test-rootfs")).unwrap();
            let tmp = target.join(format!("test-rootfs/.tmp-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&tmp);
            let tar = target.join(format!("test-rootfs/.busybox-{}.tar", std::process::id()));
            let st = std::process::Command::new(ws.join("scripts/busybox-image"))
                .arg(&tar)
                .arg("--rootfs")
                .arg(&tmp)
                .stdout(std::process::Stdio::null())
                .status()
                .expect("run scripts/busybox-image");
            assert!(st.success(), "scripts/busybox-image failed");
            let _ = std::fs::remove_file(&tar);
            // Another test binary may have won the race; either copy is the same.
            if std::fs::rename(&tmp, &lower).is_err() {
                let _ = std::fs::remove_dir_all(&tmp);
            }
        }
        sweep_dead_runs(&runtime);
        let run_root = PathBuf::from(format!("/run/berth-test/{}", std::process::id()));
        std::fs::create_dir_all(&run_root).unwrap();
        Env { bin_dir, init, probe, runtime, lower, run_root }
    })
}

/// Cleans up after test processes that died without running their `Drop`s (killed, or aborted):
/// their containers, overlay mounts, cgroups and directories under `/run/berth-test/<pid>`.
fn sweep_dead_runs(runtime: &Path) {
    let Ok(runs) = std::fs::read_dir("/run/berth-test") else { return };
    for run in runs.flatten() {
        let Some(pid) = run.file_name().to_str().and_then(|p| p.parse::<i32>().ok()) else { continue };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        for c in std::fs::read_dir(run.path()).into_iter().flatten().flatten() {
            let id = c.file_name().to_string_lossy().into_owned();
            if let Some(shim) = std::fs::read(c.path().join("state/shim.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<berth_shim::ShimRecord>(&b).ok())
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(shim.init_pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = std::process::Command::new(runtime)
                .arg("--root")
                .arg(run.path().join("runtime"))
                .args(["delete", "--force", &id])
                .stderr(std::process::Stdio::null())
                .status();
            let _ = nix::mount::umount2(&c.path().join("rootfs"), nix::mount::MntFlags::MNT_DETACH);
        }
        // Every cgroup of that run, containers' and bundles' alike, is named berth-test-<pid>-….
        let prefix = format!("berth-test-{pid}-");
        for ctrl in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
            for cg in std::fs::read_dir(ctrl.path().join("berth-test")).into_iter().flatten().flatten() {
                if cg.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_dir(cg.path());
                }
            }
        }
        let _ = std::fs::remove_dir_all(run.path());
    }
}

/// Counts a container of this process under the shared `berth-test` cgroup parent.
fn hold_cgroup_parent() -> std::sync::MutexGuard<'static, usize> {
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    *live += 1;
    live
}

/// Removes a container's cgroup directories (whatever the runtime left), and the shared parent
/// once no container of this process is left.
fn release_cgroup(name: &str) {
    let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    *live = live.saturating_sub(1);
    for c in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
        let _ = std::fs::remove_dir(c.path().join("berth-test").join(name));
        if *live == 0 {
            let _ = std::fs::remove_dir(c.path().join("berth-test"));
        }
    }
}

/// A bundle over the shared read-only rootfs (no overlay: the root is mounted read-only), for
/// driving runtimes directly. Removed on drop.
pub struct Bundle {
    pub dir: PathBuf,
    pub id: String,
}

impl Bundle {
    pub fn new(mut opts: ContainerOptions) -> Bundle {
        let env = env();
        let n = seq();
        let dir = env.run_root.join(format!("bundle-{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        opts.id = format!("berth-test-{}-b{n}", std::process::id());
        opts.cgroup_parent = Some("/berth-test".into());
        drop(hold_cgroup_parent());
        opts.rootfs = env.lower.clone();
        opts.readonly_rootfs = true;
        let host = berth_spec::host::detect(env.init.clone(), false);
        let spec = berth_spec::generate(&opts, &host, &berth_spec::RootfsFiles::default()).unwrap();
        std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
        Bundle { dir, id: opts.id }
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        release_cgroup(&self.id);
    }
}

/// Extra knobs for a test container beyond the spec options.
#[derive(Clone, Default)]
pub struct Extra {
    /// Another runtime binary than berth-runc (runc, crun).
    pub runtime: Option<PathBuf>,
    pub stdin: bool,
    pub rotation: Option<Rotation>,
    /// Bind the static probe at `/probe`.
    pub probe: bool,
}

/// A container created by a real shim; cleaned up on drop.
pub struct TestContainer {
    pub id: String,
    pub dir: PathBuf,
    pub client: ShimClient,
    pub pid: i32,
    pub shim_pid: i32,
    pub cgroup: String,
    rootfs: PathBuf,
    mounted: bool,
    counted: bool,
}

static SEQ: AtomicU32 = AtomicU32::new(0);
/// Live containers of this process. Held while creating, and while removing the shared cgroup
/// parent once the last container is gone, so that removal never races a creation under it.
static LIVE: std::sync::Mutex<usize> = std::sync::Mutex::new(0);

/// Options for a busybox container running `cmd`.
pub fn busybox(cmd: &[&str]) -> ContainerOptions {
    ContainerOptions {
        image: berth_spec::ImageConfig {
            env: vec![format!("PATH={}", berth_spec::DEFAULT_PATH)],
            cmd: Some(vec!["sh".into()]),
            ..Default::default()
        },
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        cgroup_parent: Some("/berth-test".into()),
        ..Default::default()
    }
}

/// `sh -c script`.
pub fn sh(script: &str) -> ContainerOptions {
    busybox(&["sh", "-c", script])
}

impl TestContainer {
    /// Creates (not starts) a container.
    pub fn create(mut opts: ContainerOptions, extra: Extra) -> Result<TestContainer, ShimError> {
        let env = env();
        let n = seq();
        let id = format!("berth-test-{}-{n}", std::process::id());
        let dir = env.run_root.join(&id);
        let rootfs = dir.join("rootfs");
        for d in ["rootfs", "upper", "work", "state"] {
            std::fs::create_dir_all(dir.join(d))?;
        }
        let mut c = TestContainer {
            id: id.clone(),
            dir: dir.clone(),
            client: ShimClient::new(dir.join("state")),
            pid: 0,
            shim_pid: 0,
            cgroup: format!("berth-test/{id}"),
            rootfs: rootfs.clone(),
            mounted: false,
            counted: false,
        };
        let data = format!(
            "lowerdir={},upperdir={},workdir={}",
            env.lower.display(),
            dir.join("upper").display(),
            dir.join("work").display()
        );
        nix::mount::mount(
            Some("overlay"),
            &rootfs,
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(data.as_str()),
        )
        .map_err(std::io::Error::from)?;
        c.mounted = true;
        opts.id = id.clone();
        opts.rootfs = rootfs.clone();
        if extra.probe {
            opts.mounts.push(Mount {
                destination: "/probe".into(),
                kind: "bind".into(),
                source: env.probe.clone(),
                options: vec!["rbind".into(), "ro".into()],
            });
        }
        let host = berth_spec::host::detect(env.init.clone(), false);
        let files = berth_spec::RootfsFiles {
            passwd: std::fs::read_to_string(env.lower.join("etc/passwd")).unwrap_or_default(),
            group: std::fs::read_to_string(env.lower.join("etc/group")).unwrap_or_default(),
        };
        let spec = berth_spec::generate(&opts, &host, &files)
            .map_err(|e| ShimError::InvalidArgument(e.to_string()))?;
        std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&spec).unwrap())?;
        let live = hold_cgroup_parent();
        c.counted = true;
        let launched = berth_shim::launch(
            &env.bin_dir.join("berth-shim"),
            &berth_shim::ShimOptions {
                id,
                bundle: dir.clone(),
                state_dir: dir.join("state"),
                runtime: extra.runtime.clone().unwrap_or_else(|| env.runtime.clone()),
                runtime_root: env.run_root.join("runtime"),
                systemd_cgroup: false,
                log_path: Some(dir.join("state/container-json.log")),
                rotation: extra.rotation.unwrap_or_default(),
                stdin: extra.stdin,
            },
        );
        drop(live);
        let launched = launched?;
        c.pid = launched.pid;
        c.shim_pid = launched.shim_pid;
        Ok(c)
    }

    /// Creates and runs a container to its end; returns (exit, stdout, stderr).
    pub fn run(opts: ContainerOptions, extra: Extra) -> (ExitStatus, String, String) {
        let c = TestContainer::create(opts, extra).expect("create");
        let attach = c.client.attach(false, true, true).expect("attach");
        c.client.start().expect("start");
        let (out, err, _) = collect(attach.stream, Duration::from_secs(60));
        let exit = c.client.wait().expect("wait");
        (exit, out, err)
    }

    pub fn log_file(&self) -> PathBuf {
        self.dir.join("state/container-json.log")
    }

    /// The container's cgroup directory for a v1 controller (or the v2 unified directory).
    pub fn cgroup_dir(&self, controller: &str) -> PathBuf {
        if berth_spec::host::cgroup_v2() {
            PathBuf::from("/sys/fs/cgroup").join(&self.cgroup)
        } else {
            PathBuf::from("/sys/fs/cgroup").join(controller).join(&self.cgroup)
        }
    }

    /// Runs a command in the running container; returns (exit code, stdout, stderr).
    pub fn exec(&self, args: &[&str]) -> (i32, String, String) {
        let process = serde_json::json!({
            "args": args, "cwd": "/", "env": [format!("PATH={}", berth_spec::DEFAULT_PATH)],
            "user": {"uid": 0, "gid": 0},
        });
        let n = seq();
        let a = self.client.exec(&format!("x{n}"), process, false, false).expect("exec");
        let (out, err, st) = collect(a.stream, Duration::from_secs(30));
        (st.map_or(-1, |s| s.exit_code), out, err)
    }
}

/// Reads an attach stream to its end: (stdout, stderr, exit status of an exec if sent).
pub fn collect(
    mut stream: std::os::unix::net::UnixStream,
    limit: Duration,
) -> (String, String, Option<ExitStatus>) {
    stream.set_read_timeout(Some(limit)).unwrap();
    let (mut out, mut err, mut st) = (Vec::new(), Vec::new(), None);
    while let Ok(Some((s, data))) = read_frame(&mut stream) {
        match s {
            STDOUT => out.extend(data),
            STDERR => err.extend(data),
            SYSTEM => st = serde_json::from_slice(&data).ok(),
            _ => {}
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned(), st)
}

/// Polls `f` until it is true or `limit` passes.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

pub fn process_alive(pid: i32) -> bool {
    // A zombie is not alive: read the state from /proc.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(')').next().map(|r| !r.trim_start().starts_with('Z')).unwrap_or(false))
        .unwrap_or(false)
}

impl Drop for TestContainer {
    fn drop(&mut self) {
        let env = env();
        let launched = self.shim_pid != 0;
        if launched && self.client.exit_record().ok().flatten().is_none() {
            let _ = self.client.signal(9, false);
            let _ =
                eventually(Duration::from_secs(10), || self.client.exit_record().ok().flatten().is_some());
        }
        let _ = eventually(Duration::from_secs(5), || !process_alive(self.shim_pid));
        // Whatever the shim could not do: the runtime's state and the cgroups.
        let _ = std::process::Command::new(&env.runtime)
            .arg("--root")
            .arg(env.run_root.join("runtime"))
            .args(["delete", "--force", &self.id])
            .stderr(std::process::Stdio::null())
            .status();
        if self.mounted {
            let _ = nix::mount::umount2(&self.rootfs, nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if self.counted {
            release_cgroup(&self.id);
        }
        let _ = std::fs::remove_dir(env.run_root.join("runtime"));
        let _ = std::fs::remove_dir(&env.run_root);
        let _ = std::fs::remove_dir("/run/berth-test");
    }
}

/// Reads a file's whole text, for assertions.
pub fn read(path: &Path) -> String {
    let mut s = String::new();
    let _ = std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut s));
    s
}
