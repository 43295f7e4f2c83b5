//! The reference engine (Debian's docker.io), started privately for one test: its own data
//! root, exec root and socket (no networking, or its own in a test's network namespace);
//! stopped and cleaned up on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub struct RefDockerd {
    child: Child,
    pub host: String,
    dir: tempfile::TempDir,
    exec_root: PathBuf,
}

impl RefDockerd {
    /// Starts dockerd without networking; panics (with what to install) when it is missing or
    /// does not come up.
    pub fn start() -> RefDockerd {
        RefDockerd::start_in(
            None,
            &["--bridge=none", "--iptables=false", "--ip6tables=false", "--storage-driver=overlay2"],
        )
    }

    /// Starts dockerd inside the network namespace `netns` (a bind-mounted namespace file) when
    /// given, with `args` (its networking, firewall and storage flags).
    pub fn start_in(netns: Option<&Path>, args: &[&str]) -> RefDockerd {
        let dockerd = ["/usr/sbin/dockerd", "/usr/bin/dockerd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("the reference engine is missing: apt-get install docker.io (scripts/install-deps does)");
        let dir = tempfile::Builder::new().prefix("berth-refdocker").tempdir_in("/var/tmp").unwrap();
        let host = format!("unix://{}", dir.path().join("docker.sock").display());
        let exec_root =
            PathBuf::from(format!("/run/berth-test-dockerd-{}-{}", std::process::id(), crate::seq()));
        let mut cmd = Command::new(dockerd);
        if let Some(ns) = netns {
            use std::os::unix::process::CommandExt;
            let ns = std::fs::File::open(ns).unwrap();
            // SAFETY: setns on a descriptor opened before the fork; nothing else runs in the child.
            unsafe {
                cmd.pre_exec(move || {
                    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
                });
            }
        }
        let child = cmd
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(&exec_root)
            .arg("--pidfile")
            .arg(dir.path().join("docker.pid"))
            .arg("--host")
            .arg(&host)
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("dockerd.log")).unwrap())
            .spawn()
            .expect("start dockerd");
        let d = RefDockerd { child, host, dir, exec_root };
        let up = crate::eventually(Duration::from_secs(60), || d.docker(&["version"]).status.success());
        assert!(
            up,
            "the reference dockerd did not start: {}",
            std::fs::read_to_string(d.dir.path().join("dockerd.log")).unwrap_or_default()
        );
        d
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker").env("DOCKER_HOST", &self.host).args(args).output().expect("run docker")
    }

    /// Runs docker and returns its stdout, panicking with stderr when it fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for RefDockerd {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let stopped =
            crate::eventually(Duration::from_secs(20), || matches!(self.child.try_wait(), Ok(Some(_))));
        if !stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Whatever it left mounted under its roots goes before the directories do.
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let roots = [self.dir.path().to_path_buf(), self.exec_root.clone()];
        let mut targets: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| roots.iter().any(|r| Path::new(m).starts_with(r)))
            .collect();
        targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
        for t in targets {
            let _ = nix::mount::umount2(t, nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = std::fs::remove_dir_all(&self.exec_root);
    }
}
