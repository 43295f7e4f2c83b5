//! Seccomp filters compiled once per profile and installed from berth-runc's own executor.
//!
//! libcontainer compiles a container's profile with libseccomp inside the container's init, on
//! every create: about 13 ms for Docker's default profile here (365 rules, BPF for three
//! architectures), the largest single cost of a start. The compiled program depends only on the
//! profile, libseccomp and the kernel, so berth-runc compiles it once, keeps the BPF in the state
//! root (`seccomp:cache/<sha256>.bpf`), and installs it itself right before the workload's exec.
//!
//! Without `noNewPrivileges` the kernel lets a process install a filter only while it holds
//! `CAP_SYS_ADMIN`, which libcontainer has dropped by the time the executor runs. So the spec
//! libcontainer sees keeps `CAP_SYS_ADMIN` (and `CAP_SETPCAP`, which dropping a bounding
//! capability needs) in the bounding, permitted and effective sets when the container would not
//! have them, and the executor takes them away again: out of the bounding set first, then the
//! filter, then out of the permitted and effective sets. The workload starts with exactly the
//! spec's capabilities, as before; [`Plan`] records which were lent.

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::{
    Arch, Capability, LinuxCapabilities, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, Spec,
};
use sha2::{Digest, Sha256};

use crate::RuntimeError;

/// A compiled filter and the flags to install it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    /// `struct sock_filter` entries, as libseccomp exports them.
    program: Vec<u8>,
    flags: libc::c_ulong,
}

/// What the executor does before exec: install `filter`, taking back the capabilities lent
/// for it.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    filter: Filter,
    lent: Lent,
}

/// Capabilities added to each set for the install, which the executor drops again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Lent {
    bounding: Vec<caps::Capability>,
    permitted: Vec<caps::Capability>,
    effective: Vec<caps::Capability>,
}

/// A profile berth-runc installs itself: not one that hands a listener a notify fd (that needs
/// libcontainer's exchange with the main process), and not for a spec with hooks (they are shown
/// the bundle, which the lent capabilities would change).
pub(crate) fn handled_here(spec: &Spec) -> bool {
    let Some(seccomp) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return false;
    };
    let notify = seccomp.default_action() == LinuxSeccompAction::ScmpActNotify
        || seccomp.syscalls().iter().flatten().any(|s| s.action() == LinuxSeccompAction::ScmpActNotify);
    let hooks = spec.hooks().as_ref().is_some_and(|h| {
        [
            h.prestart(),
            h.create_runtime(),
            h.create_container(),
            h.start_container(),
            h.poststart(),
            h.poststop(),
        ]
        .iter()
        .any(|l| l.as_ref().is_some_and(|l| !l.is_empty()))
    });
    !notify && seccomp.listener_path().is_none() && !hooks && spec.process().is_some()
}

/// Takes the profile out of `spec` (libcontainer must not install it too), lends the
/// capabilities the install needs, and returns what the executor must do.
pub(crate) fn take_over(spec: &mut Spec, cache: &Path) -> Result<Plan, RuntimeError> {
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().clone()).expect("checked by handled_here");
    let filter = cached(cache, &seccomp)?;
    if let Some(linux) = spec.linux_mut() {
        linux.set_seccomp(None);
    }
    let process = spec.process_mut().as_mut().expect("checked by handled_here");
    let lent = match process.capabilities().clone() {
        // With no_new_privs the filter needs no capability; without a capabilities section
        // libcontainer drops none.
        Some(caps) if process.no_new_privileges() != Some(true) => {
            let (caps, lent) = lend(caps);
            process.set_capabilities(Some(caps));
            lent
        }
        _ => Lent::default(),
    };
    Ok(Plan { filter, lent })
}

/// Adds what installing a filter (`CAP_SYS_ADMIN`) and dropping bounding capabilities
/// (`CAP_SETPCAP`) need to the bounding, permitted and effective sets; returns the sets and what
/// each set gained.
fn lend(mut caps: LinuxCapabilities) -> (LinuxCapabilities, Lent) {
    let mut lent = Lent::default();
    for (need, ours) in [
        (Capability::SysAdmin, caps::Capability::CAP_SYS_ADMIN),
        (Capability::Setpcap, caps::Capability::CAP_SETPCAP),
    ] {
        let add = |set: &Option<HashSet<Capability>>, gained: &mut Vec<caps::Capability>| {
            let mut set = set.clone().unwrap_or_default();
            if set.insert(need) {
                gained.push(ours);
            }
            Some(set)
        };
        let b = add(caps.bounding(), &mut lent.bounding);
        let p = add(caps.permitted(), &mut lent.permitted);
        let e = add(caps.effective(), &mut lent.effective);
        caps.set_bounding(b).set_permitted(p).set_effective(e);
    }
    (caps, lent)
}

impl Plan {
    /// In the container's init, right before exec: the bounding set loses the lent
    /// capabilities (which needs `CAP_SETPCAP`, so it goes last), the filter is installed, then
    /// the effective and permitted sets lose them.
    pub(crate) fn apply(&self) -> Result<(), String> {
        for &cap in &self.lent.bounding {
            caps::drop(None, caps::CapSet::Bounding, cap)
                .map_err(|e| format!("drop {cap} from the bounding set: {e}"))?;
        }
        install(&self.filter).map_err(|e| format!("install the seccomp filter: {e}"))?;
        for (set, lent) in
            [(caps::CapSet::Effective, &self.lent.effective), (caps::CapSet::Permitted, &self.lent.permitted)]
        {
            for &cap in lent {
                caps::drop(None, set, cap).map_err(|e| format!("drop {cap}: {e}"))?;
            }
        }
        Ok(())
    }
}

/// The profile's filter from the cache, compiled and stored on a miss. The key covers the
/// profile, the libseccomp version and the kernel release (libseccomp asks the kernel which
/// actions it supports).
fn cached(cache: &Path, seccomp: &LinuxSeccomp) -> Result<Filter, RuntimeError> {
    let flags = flags(seccomp);
    let path = cache.join(format!("{}.bpf", key(seccomp)));
    if let Ok(program) = std::fs::read(&path) {
        if !program.is_empty() && program.len().is_multiple_of(8) {
            return Ok(Filter { program, flags });
        }
    }
    std::fs::create_dir_all(cache).map_err(RuntimeError::io(format!("create {}", cache.display())))?;
    let mut tmp = tempfile_in(cache)?;
    compile(seccomp, tmp.as_file())
        .map_err(|e| RuntimeError::InvalidArgument(format!("seccomp profile: {e}")))?;
    tmp.as_file_mut().flush().map_err(RuntimeError::io("write the seccomp filter"))?;
    let program = std::fs::read(tmp.path()).map_err(RuntimeError::io("read the seccomp filter"))?;
    // Another create may have stored the same program meanwhile: either copy is whole.
    tmp.persist(&path).map_err(|e| RuntimeError::io(format!("store {}", path.display()))(e.error))?;
    trim(cache, CACHED_PROFILES);
    Ok(Filter { program, flags })
}

/// How many compiled profiles the cache keeps (Docker's default varies with the capabilities;
/// custom profiles add one each): the oldest go first, and a profile that went is compiled again
/// when it is next used.
const CACHED_PROFILES: usize = 64;

/// Leaves the `keep` newest filters in the cache.
fn trim(cache: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(cache) else { return };
    let mut files: Vec<(std::time::SystemTime, std::path::PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".bpf"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if files.len() <= keep {
        return;
    }
    files.sort();
    for (_, path) in &files[..files.len() - keep] {
        let _ = std::fs::remove_file(path);
    }
}

fn tempfile_in(dir: &Path) -> Result<tempfile::NamedTempFile, RuntimeError> {
    tempfile::Builder::new()
        .prefix(".bpf-")
        .tempfile_in(dir)
        .map_err(RuntimeError::io(format!("create a file in {}", dir.display())))
}

fn key(seccomp: &LinuxSeccomp) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(seccomp).unwrap_or_default());
    if let Ok(v) = libseccomp::ScmpVersion::current() {
        h.update(format!("\0libseccomp {}.{}.{}", v.major, v.minor, v.micro));
    }
    h.update(b"\0");
    h.update(std::fs::read("/proc/sys/kernel/osrelease").unwrap_or_default());
    hex::encode(h.finalize())
}

/// The `seccomp(2)` flags of the profile's `flags`.
fn flags(seccomp: &LinuxSeccomp) -> libc::c_ulong {
    seccomp.flags().iter().flatten().fold(0, |acc, f| {
        acc | match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 1 << 5,
        }
    })
}

/// Installs a filter on the calling thread.
fn install(filter: &Filter) -> std::io::Result<()> {
    let len = u16::try_from(filter.program.len() / std::mem::size_of::<libc::sock_filter>())
        .map_err(|_| std::io::Error::other("the filter has more than 65535 instructions"))?;
    let prog = libc::sock_fprog { len, filter: filter.program.as_ptr() as *mut libc::sock_filter };
    // SAFETY: prog points at `len` sock_filter entries (8 bytes each) owned by `filter`, alive
    // for the call; the kernel copies the program.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            filter.flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Compiles a profile as runc and libcontainer do (rules whose action is the default one are
/// left out, syscalls this libseccomp does not know are skipped, several conditions on one
/// argument become separate rules) and writes the BPF program to `out`.
fn compile(seccomp: &LinuxSeccomp, out: &File) -> Result<(), String> {
    let e = |err: libseccomp::error::SeccompError| err.to_string();
    let default = action(seccomp.default_action(), seccomp.default_errno_ret())?;
    let mut ctx = ScmpFilterContext::new(default).map_err(e)?;
    for &a in seccomp.architectures().iter().flatten() {
        ctx.add_arch(arch(a)).map_err(e)?;
    }
    for rule in seccomp.syscalls().iter().flatten() {
        let act = action(rule.action(), rule.errno_ret())?;
        if act == default {
            continue;
        }
        let conds: Vec<ScmpArgCompare> = rule
            .args()
            .iter()
            .flatten()
            .map(|a| ScmpArgCompare::new(a.index() as u32, op(a.op(), a.value_two()), a.value()))
            .collect();
        let mut seen = HashSet::new();
        let separate = rule.args().iter().flatten().any(|a| !seen.insert(a.index()));
        for name in rule.names() {
            let Ok(sc) = ScmpSyscall::from_name(name) else { continue };
            if separate {
                for c in &conds {
                    ctx.add_rule_conditional(act, sc, std::slice::from_ref(c)).map_err(e)?;
                }
            } else if conds.is_empty() {
                ctx.add_rule(act, sc).map_err(e)?;
            } else {
                ctx.add_rule_conditional(act, sc, &conds).map_err(e)?;
            }
        }
    }
    ctx.export_bpf(out.as_fd()).map_err(e)
}

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction, String> {
    let errno = errno.map(|e| e as i32).unwrap_or(libc::EPERM);
    Ok(match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => ScmpAction::KillThread,
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(errno),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(
            u16::try_from(errno)
                .map_err(|_| format!("the trace action's errnoRet {errno} is out of range"))?,
        ),
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
    })
}

fn op(o: LinuxSeccompOperator, value_two: Option<u64>) -> ScmpCompareOp {
    match o {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(value_two.unwrap_or(0)),
    }
}

fn arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use caps::Capability as C;
    use oci_spec::runtime::{
        Capability as Cap, HookBuilder, HooksBuilder, LinuxBuilder, LinuxCapabilitiesBuilder,
        LinuxSeccompBuilder, LinuxSyscallBuilder, ProcessBuilder, SpecBuilder,
    };

    fn set(caps: &[Cap]) -> HashSet<Cap> {
        caps.iter().copied().collect()
    }

    #[test]
    fn lends_only_what_each_set_lacks() {
        let docker = [Cap::Chown, Cap::Setpcap, Cap::Kill];
        // (bounding, effective) → lent to (bounding, permitted, effective); permitted = effective.
        type Lends = (Vec<C>, Vec<C>, Vec<C>);
        let cases: Vec<(&[Cap], &[Cap], Lends)> = vec![
            (&docker, &docker, (vec![C::CAP_SYS_ADMIN], vec![C::CAP_SYS_ADMIN], vec![C::CAP_SYS_ADMIN])),
            (&[], &[], {
                let both = vec![C::CAP_SYS_ADMIN, C::CAP_SETPCAP];
                (both.clone(), both.clone(), both)
            }),
            (&[Cap::SysAdmin, Cap::Setpcap], &[Cap::SysAdmin, Cap::Setpcap], (vec![], vec![], vec![])),
            // A non-root user's sets: the bounding set holds what the effective one lacks.
            (
                &[Cap::SysAdmin, Cap::Setpcap],
                &[],
                (vec![], vec![C::CAP_SYS_ADMIN, C::CAP_SETPCAP], vec![C::CAP_SYS_ADMIN, C::CAP_SETPCAP]),
            ),
        ];
        for (i, (bounding, effective, want)) in cases.into_iter().enumerate() {
            let caps = LinuxCapabilitiesBuilder::default()
                .bounding(set(bounding))
                .permitted(set(effective))
                .effective(set(effective))
                .inheritable(set(&[]))
                .ambient(set(&[]))
                .build()
                .unwrap();
            let (lent_caps, lent) = lend(caps);
            assert_eq!((lent.bounding, lent.permitted, lent.effective), want, "case {i}");
            for s in [lent_caps.bounding(), lent_caps.permitted(), lent_caps.effective()] {
                let s = s.as_ref().unwrap();
                assert!(s.contains(&Cap::SysAdmin) && s.contains(&Cap::Setpcap), "case {i}: {s:?}");
            }
            assert!(lent_caps.inheritable().as_ref().unwrap().is_empty(), "case {i}: never inheritable");
            assert!(lent_caps.ambient().as_ref().unwrap().is_empty(), "case {i}: never ambient");
        }
    }

    fn spec(seccomp: LinuxSeccomp, hooks: bool) -> Spec {
        let mut b = SpecBuilder::default()
            .process(ProcessBuilder::default().args(vec!["true".to_string()]).build().unwrap())
            .linux(LinuxBuilder::default().seccomp(seccomp).build().unwrap());
        if hooks {
            let hook = HookBuilder::default().path("/bin/true").build().unwrap();
            b = b.hooks(HooksBuilder::default().create_runtime(vec![hook]).build().unwrap());
        }
        b.build().unwrap()
    }

    #[test]
    fn which_profiles_berth_runc_installs() {
        let rule = |action| {
            LinuxSyscallBuilder::default().names(vec!["getpid".to_string()]).action(action).build().unwrap()
        };
        let plain = LinuxSeccompBuilder::default()
            .default_action(LinuxSeccompAction::ScmpActErrno)
            .syscalls(vec![rule(LinuxSeccompAction::ScmpActAllow)])
            .build()
            .unwrap();
        let notify = LinuxSeccompBuilder::default()
            .default_action(LinuxSeccompAction::ScmpActErrno)
            .syscalls(vec![rule(LinuxSeccompAction::ScmpActNotify)])
            .build()
            .unwrap();
        let listener = LinuxSeccompBuilder::default()
            .default_action(LinuxSeccompAction::ScmpActErrno)
            .listener_path("/run/listener.sock")
            .build()
            .unwrap();
        assert!(handled_here(&spec(plain.clone(), false)));
        assert!(!handled_here(&spec(plain, true)), "hooks see the bundle");
        assert!(!handled_here(&spec(notify, false)), "notify needs libcontainer's fd exchange");
        assert!(!handled_here(&spec(listener, false)));
        let mut none = Spec::default();
        none.set_linux(Some(LinuxBuilder::default().build().unwrap()));
        assert!(!handled_here(&none), "no profile, nothing to do");
    }

    #[test]
    fn flags_map_to_seccomp_2() {
        let s = LinuxSeccompBuilder::default()
            .default_action(LinuxSeccompAction::ScmpActErrno)
            .flags(vec![
                LinuxSeccompFilterFlag::SeccompFilterFlagLog,
                LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
            ])
            .build()
            .unwrap();
        assert_eq!(flags(&s), libc::SECCOMP_FILTER_FLAG_LOG | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW);
    }

    #[test]
    fn a_profile_is_compiled_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let s = LinuxSeccompBuilder::default()
            .default_action(LinuxSeccompAction::ScmpActErrno)
            .architectures(vec![Arch::ScmpArchX86_64])
            .syscalls(vec![LinuxSyscallBuilder::default()
                .names(vec!["getpid".to_string(), "no_such_syscall".to_string()])
                .action(LinuxSeccompAction::ScmpActAllow)
                .build()
                .unwrap()])
            .build()
            .unwrap();
        let first = cached(dir.path(), &s).unwrap();
        assert!(!first.program.is_empty() && first.program.len().is_multiple_of(8));
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(files.len(), 1, "one file, no temporary left: {files:?}");
        assert_eq!(cached(dir.path(), &s).unwrap(), first, "read back as written");
        let other =
            LinuxSeccompBuilder::default().default_action(LinuxSeccompAction::ScmpActAllow).build().unwrap();
        assert_ne!(cached(dir.path(), &other).unwrap(), first);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        // The cache keeps the newest.
        let older = dir.path().join(format!("{}.bpf", key(&s)));
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        File::options().write(true).open(&older).unwrap().set_modified(hour_ago).unwrap();
        trim(dir.path(), 1);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.path()).collect();
        assert_eq!(left, [dir.path().join(format!("{}.bpf", key(&other)))]);
    }
}
