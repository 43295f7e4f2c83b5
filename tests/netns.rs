//! A network namespace of a test's own (`ip netns add`), removed on drop: what crosses a
//! network is tested there, never on the host's own interfaces or firewall chains.

use std::process::Command;

/// A network namespace of the test's own (`ip netns add`), loopback up and IPv4 forwarding on
/// (a fresh namespace forwards nothing, which would hide missing isolation). `/run/netns`
/// (a mount of its own) goes again with the last one when a test made it.
pub struct TestNetns {
    pub name: String,
    made_run_netns: bool,
}

impl TestNetns {
    pub fn new(name: String) -> TestNetns {
        let made_run_netns = !std::path::Path::new("/run/netns").exists();
        let ns = TestNetns { name, made_run_netns };
        assert!(Command::new("ip").args(["netns", "add", &ns.name]).status().unwrap().success());
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns.exec(&["sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"]);
        ns
    }

    pub fn path(&self) -> std::path::PathBuf {
        std::path::Path::new("/run/netns").join(&self.name)
    }

    /// Runs a command in the namespace; returns its stdout, panicking unless it succeeds.
    #[track_caller]
    pub fn exec(&self, args: &[&str]) -> String {
        let out = Command::new("ip").args(["netns", "exec", &self.name]).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
        let empty = std::fs::read_dir("/run/netns").map(|mut d| d.next().is_none()).unwrap_or(false);
        if self.made_run_netns && empty {
            while nix::mount::umount2("/run/netns", nix::mount::MntFlags::MNT_DETACH).is_ok() {}
            let _ = std::fs::remove_dir("/run/netns");
        }
    }
}
