//! cgroup limits: memory (OOM kill reported), pids (a fork bomb is stopped), CPU quota.

use std::time::Duration;

use berth_tests::*;

#[test]
fn memory_limit_oom_kills_and_is_reported() {
    // Command substitution holds 64 MB in the shell's memory: past a 32 MiB limit.
    let mut o = sh("x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived ${#x}");
    o.memory = 32 << 20;
    o.memory_swap = 32 << 20;
    let (st, out, _) = TestContainer::run(o, Extra::default());
    assert!(!out.contains("survived"), "{out}");
    assert!(st.oom_killed, "the exit is reported as an OOM kill: {st:?}");
    assert_eq!(st.exit_code, 137);

    // The same work without a limit is not killed.
    let (st, out, _) = TestContainer::run(
        sh("x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived ${#x}"),
        Extra::default(),
    );
    assert_eq!((st.exit_code, st.oom_killed, out.trim()), (0, false, "survived 67108864"));
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    // `echo` is a builtin: it numbers each fork attempt without forking. busybox's shell gives
    // up (status 2) at the first fork the pids controller refuses.
    let bomb = "for i in $(seq 1 40); do echo $i; sleep 30 & done; echo never";
    let mut o = sh(bomb);
    o.pids_limit = Some(10);
    let (st, out, err) = TestContainer::run(o, Extra::default());
    assert_eq!(st.exit_code, 2);
    assert!(err.contains("can't fork"), "{err}");
    let attempts: u32 = out.lines().last().unwrap().parse().unwrap();
    // The shell itself is one of the 10: at most 9 sleeps got through.
    assert!(attempts <= 10, "forks stopped at the limit, after {} sleeps", attempts - 1);
    assert!(!out.contains("never"));
    // Control: without the limit all 40 start.
    let (_, out, _) = TestContainer::run(
        sh(&bomb.replace("sleep 30", "sleep 0.1").replace("echo never", "wait; echo all")),
        Extra::default(),
    );
    assert!(out.ends_with("40\nall\n"), "{out}");
}

#[test]
fn cpu_quota_is_in_the_cgroup() {
    let mut o = sh("sleep 30");
    o.nano_cpus = 500_000_000;
    o.cpu_shares = 512;
    o.pids_limit = Some(20);
    let c = TestContainer::create(o, Extra::default()).unwrap();
    c.client.start().unwrap();
    if berth_spec::host::cgroup_v2() {
        assert_eq!(read(&c.cgroup_dir("cpu").join("cpu.max")).trim(), "50000 100000");
        assert_eq!(read(&c.cgroup_dir("pids").join("pids.max")).trim(), "20");
    } else {
        assert_eq!(read(&c.cgroup_dir("cpu").join("cpu.cfs_quota_us")).trim(), "50000");
        assert_eq!(read(&c.cgroup_dir("cpu").join("cpu.cfs_period_us")).trim(), "100000");
        assert_eq!(read(&c.cgroup_dir("cpu").join("cpu.shares")).trim(), "512");
        assert_eq!(read(&c.cgroup_dir("pids").join("pids.max")).trim(), "20");
    }
    // Stats come from the same cgroup.
    let stats = c.client.stats().unwrap();
    assert_eq!(stats["data"]["pids"]["limit"], 20, "{stats}");
    c.client.signal(9, false).unwrap();
    assert_eq!(c.client.wait().unwrap().exit_code, 137);
    // The runtime removed the cgroup when the container ended.
    assert!(eventually(Duration::from_secs(5), || !c.cgroup_dir("cpu").exists()));
}
