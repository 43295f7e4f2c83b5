//! What a default container sees and may do: its own processes, hostname, mounts and network;
//! masked paths; Docker's capabilities and seccomp profile; users; read-only root.

use berth_tests::*;

#[test]
fn sees_only_its_own_world() {
    let mut o = sh("cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname; ps -o pid,comm | wc -l; \
                    cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; \
                    grep -c ' /work\\| /run/berth-test' /proc/self/mounts; \
                    (echo x > /proc/sys/kernel/hostname) 2>&1 | grep -c 'Read-only'; \
                    for p in $MASKED; do if [ -d $p ]; then ls $p | wc -l; else cat $p | wc -c; fi; done");
    o.hostname = Some("berthbox".into());
    // Masked paths that exist on this host: a file reads empty, a directory lists nothing.
    let masked: Vec<&str> =
        berth_spec::MASKED_PATHS.iter().copied().filter(|p| std::path::Path::new(p).exists()).collect();
    assert!(masked.contains(&"/proc/keys"), "the host has /proc/keys to check");
    o.env = vec![format!("MASKED={}", masked.join(" "))];
    let (st, out, err) = TestContainer::run(o, Extra::default());
    assert_eq!(st.exit_code, 0, "stderr: {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("sh -c cat /proc/1/cmdline"), "PID 1 is the command: {out}");
    assert_eq!(lines[1], "berthbox");
    // ps header + sh + ps, and wc when the shell has started it before ps reads /proc (the
    // pipeline's two sides race): only the container's processes either way.
    assert!(matches!(lines[2], "3" | "4"), "only the container's processes: {out}");
    assert_eq!(lines[3], "lo", "only the loopback interface: {out}");
    assert_eq!(lines[4], "0", "no host mounts visible: {out}");
    assert_eq!(lines[5], "1", "/proc/sys is read-only: {out}");
    assert_eq!(lines[6..], vec!["0"; masked.len()][..], "masked: {masked:?}: {out}");
}

fn cap_eff(o: berth_spec::ContainerOptions) -> String {
    let (st, out, err) = TestContainer::run(o, Extra::default());
    assert_eq!(st.exit_code, 0, "{err}");
    out.trim().to_string()
}

#[test]
fn capabilities_are_dockers() {
    let script = "grep CapEff /proc/self/status | cut -f2";
    // Docker's 14 default capabilities, in every set that holds them (berth-runc lends
    // CAP_SYS_ADMIN to install the seccomp filter: none of it is left).
    assert_eq!(cap_eff(sh(script)), "00000000a80425fb");
    assert_eq!(
        cap_eff(sh("grep -E 'CapPrm|CapBnd' /proc/self/status | cut -f2 | tr '\\n' ' '")),
        "00000000a80425fb 00000000a80425fb"
    );
    let mut o = sh(script);
    o.cap_drop = vec!["ALL".into()];
    assert_eq!(cap_eff(o), "0000000000000000");
    let mut o = sh(script);
    o.cap_drop = vec!["ALL".into()];
    o.cap_add = vec!["NET_ADMIN".into()];
    assert_eq!(cap_eff(o), "0000000000001000");
    // A non-root user starts with none effective.
    let mut o = sh(script);
    o.user = Some("1000".into());
    assert_eq!(cap_eff(o), "0000000000000000");
}

fn probe(o: berth_spec::ContainerOptions) -> Vec<String> {
    let (_, out, err) = TestContainer::run(o, Extra { probe: true, ..Default::default() });
    assert!(err.is_empty() || !err.contains("not found"), "{err}");
    out.lines().map(String::from).collect()
}

const PROBES: &str = "/probe keyctl; /probe unshare-user; /probe mount-tmpfs /tmp";

#[test]
fn seccomp_blocks_by_default_and_privileged_allows() {
    // keyctl and user namespaces need no capability: only seccomp refuses them (EPERM).
    assert_eq!(probe(sh(PROBES)), ["errno 1", "errno 1", "errno 1"]);
    // Without seccomp they work, which shows seccomp was what refused them.
    let mut o = sh(PROBES);
    o.security_opt = vec!["seccomp=unconfined".into()];
    assert_eq!(probe(o)[..2], ["ok", "ok"]);
    let mut o = sh(PROBES);
    o.privileged = true;
    assert_eq!(probe(o), ["ok", "ok", "ok"]);
}

#[test]
fn user_and_read_only_root() {
    let mut o = sh("id -u; id -g; touch /file 2>/dev/null && echo root-writable || echo root-read-only; \
                    touch /tmp/x && echo tmp-writable");
    o.user = Some("1000:1000".into());
    o.readonly_rootfs = true;
    o.tmpfs.insert("/tmp".into(), "mode=1777".into());
    let (st, out, err) = TestContainer::run(o, Extra::default());
    assert_eq!(st.exit_code, 0, "{err}");
    assert_eq!(out.lines().collect::<Vec<_>>(), ["1000", "1000", "root-read-only", "tmp-writable"]);

    let mut o = sh("id");
    o.user = Some("www-data".into());
    let (_, out, _) = TestContainer::run(o, Extra::default());
    assert_eq!(out.trim(), "uid=33(www-data) gid=33(www-data) groups=33(www-data)");
}
