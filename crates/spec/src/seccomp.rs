//! Seccomp profiles in Docker's format (`--security-opt seccomp=profile.json`) and their
//! translation into the OCI spec's `linux.seccomp` for one container: the native architecture
//! with its sub-architectures, and only the rule groups whose `includes` (all of the caps, one
//! of the arches, a minimum kernel) hold and whose `excludes` (any of the caps or arches) do not.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::default_seccomp::{self, Cond};
use crate::SpecError;

/// Reads `null` as the type's default: Docker's profiles write `null` for empty lists.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A profile in Docker's JSON format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "nullable")]
    pub arch_map: Vec<ArchMap>,
    /// The older form: a flat list of architectures, used when `archMap` is absent.
    #[serde(default, deserialize_with = "nullable")]
    pub architectures: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub syscalls: Vec<SyscallRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: String,
    #[serde(default, deserialize_with = "nullable")]
    pub sub_architectures: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    #[serde(default, deserialize_with = "nullable")]
    pub names: Vec<String>,
    /// The older single-name form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "nullable")]
    pub args: Vec<Arg>,
    #[serde(default, deserialize_with = "nullable")]
    pub includes: Filter,
    #[serde(default, deserialize_with = "nullable")]
    pub excludes: Filter,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: u32,
    pub value: u64,
    #[serde(default, deserialize_with = "nullable")]
    pub value_two: u64,
    pub op: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default, deserialize_with = "nullable")]
    pub caps: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub arches: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub min_kernel: String,
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn filter(c: &Cond) -> Filter {
    Filter { caps: strings(c.caps), arches: strings(c.arches), min_kernel: c.min_kernel.to_string() }
}

/// Docker's default profile.
pub fn default_profile() -> Profile {
    Profile {
        default_action: default_seccomp::DEFAULT_ACTION.into(),
        default_errno_ret: default_seccomp::DEFAULT_ERRNO_RET,
        arch_map: default_seccomp::ARCH_MAP
            .iter()
            .map(|(a, subs)| ArchMap { architecture: a.to_string(), sub_architectures: strings(subs) })
            .collect(),
        architectures: Vec::new(),
        syscalls: default_seccomp::GROUPS
            .iter()
            .map(|g| SyscallRule {
                names: strings(g.names),
                name: None,
                action: g.act.action.into(),
                errno_ret: g.act.errno_ret,
                args: g
                    .args
                    .iter()
                    .map(|a| Arg { index: a.index, value: a.value, value_two: a.value_two, op: a.op.into() })
                    .collect(),
                includes: filter(&g.includes),
                excludes: filter(&g.excludes),
            })
            .collect(),
    }
}

/// Parses a profile in Docker's format, with a message that names the problem.
pub fn parse_profile(text: &str) -> Result<Profile, SpecError> {
    serde_json::from_str(text)
        .map_err(|e| SpecError::InvalidArgument(format!("decoding seccomp profile failed: {e}")))
}

/// libseccomp's name for a Go architecture name.
fn native_arch(go_arch: &str) -> Option<&'static str> {
    Some(match go_arch {
        "amd64" => "SCMP_ARCH_X86_64",
        "386" => "SCMP_ARCH_X86",
        "arm64" => "SCMP_ARCH_AARCH64",
        "arm" => "SCMP_ARCH_ARM",
        "mips64" => "SCMP_ARCH_MIPS64",
        "mips64le" => "SCMP_ARCH_MIPSEL64",
        "ppc64" => "SCMP_ARCH_PPC64",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "s390x" => "SCMP_ARCH_S390X",
        "loong64" => "SCMP_ARCH_LOONGARCH64",
        _ => return None,
    })
}

fn kernel_at_least(kernel: (u32, u32), min: &str) -> Result<bool, SpecError> {
    if min.is_empty() {
        return Ok(true);
    }
    let mut it = min.split('.').map(|p| p.parse::<u32>());
    match (it.next(), it.next()) {
        (Some(Ok(maj)), Some(Ok(minor))) => Ok(kernel >= (maj, minor)),
        (Some(Ok(maj)), None) => Ok(kernel.0 >= maj),
        _ => Err(SpecError::InvalidArgument(format!("seccomp profile: invalid minKernel {min:?}"))),
    }
}

/// Translates `profile` for a container on `arch` (Go name) with capabilities `caps`, on a
/// kernel of version `kernel`, into the JSON of the spec's `linux.seccomp`.
pub fn translate(
    profile: &Profile,
    arch: &str,
    caps: &[String],
    kernel: (u32, u32),
) -> Result<Value, SpecError> {
    let mut arches: Vec<String> = Vec::new();
    if profile.arch_map.is_empty() {
        arches.extend(profile.architectures.iter().cloned());
    } else if let Some(native) = native_arch(arch) {
        for m in profile.arch_map.iter().filter(|m| m.architecture == native) {
            arches.push(m.architecture.clone());
            arches.extend(m.sub_architectures.iter().cloned());
        }
    }
    let mut syscalls = Vec::new();
    for rule in &profile.syscalls {
        let inc = &rule.includes;
        let exc = &rule.excludes;
        let included = (inc.arches.is_empty() || inc.arches.iter().any(|a| a == arch))
            && inc.caps.iter().all(|c| caps.contains(c))
            && kernel_at_least(kernel, &inc.min_kernel)?;
        let excluded = exc.arches.iter().any(|a| a == arch) || exc.caps.iter().any(|c| caps.contains(c));
        if !included || excluded {
            continue;
        }
        let mut names = rule.names.clone();
        if let Some(n) = &rule.name {
            names.push(n.clone());
        }
        if names.is_empty() {
            return Err(SpecError::InvalidArgument("seccomp profile: a rule names no syscall".into()));
        }
        let mut entry = json!({"names": names, "action": rule.action});
        if let Some(e) = rule.errno_ret {
            entry["errnoRet"] = json!(e);
        }
        if !rule.args.is_empty() {
            entry["args"] = json!(rule
                .args
                .iter()
                .map(|a| {
                    let mut v = json!({"index": a.index, "value": a.value, "op": a.op});
                    if a.value_two != 0 {
                        v["valueTwo"] = json!(a.value_two);
                    }
                    v
                })
                .collect::<Vec<_>>());
        }
        syscalls.push(entry);
    }
    let mut out =
        json!({"defaultAction": profile.default_action, "architectures": arches, "syscalls": syscalls});
    if let Some(e) = profile.default_errno_ret {
        out["defaultErrnoRet"] = json!(e);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> Option<String> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/reference/seccomp-default.json");
        std::fs::read_to_string(p).ok()
    }

    #[test]
    fn equals_docker_reference() {
        let Some(text) = reference() else {
            eprintln!("shared/reference/seccomp-default.json not found beside the repo: skipped");
            return;
        };
        assert_eq!(default_profile(), parse_profile(&text).unwrap());
    }

    fn names_of(v: &Value) -> Vec<String> {
        v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()))
            .collect()
    }

    #[test]
    fn includes_and_excludes() {
        let caps: Vec<String> = crate::caps::DEFAULT.iter().map(|s| s.to_string()).collect();
        let p = default_profile();
        let out = translate(&p, "amd64", &caps, (6, 1)).unwrap();
        assert_eq!(out["architectures"], json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]));
        assert_eq!(out["defaultAction"], "SCMP_ACT_ERRNO");
        let names = names_of(&out);
        for allowed in ["read", "arch_prctl", "chroot", "ptrace", "clone"] {
            assert!(names.iter().any(|n| n == allowed), "{allowed} allowed");
        }
        for blocked in ["mount", "unshare", "keyctl", "reboot", "s390_runtime_instr", "bpf", "setns"] {
            assert!(!names.iter().any(|n| n == blocked), "{blocked} blocked");
        }
        // clone3 gets ENOSYS without CAP_SYS_ADMIN so that libc falls back to clone.
        let clone3 =
            out["syscalls"].as_array().unwrap().iter().find(|s| s["names"] == json!(["clone3"])).unwrap();
        assert_eq!(clone3["errnoRet"], 38);

        let mut admin = caps.clone();
        admin.push("CAP_SYS_ADMIN".into());
        let names = names_of(&translate(&p, "amd64", &admin, (6, 1)).unwrap());
        for allowed in ["mount", "unshare", "setns", "umount2"] {
            assert!(names.iter().any(|n| n == allowed), "{allowed} allowed with CAP_SYS_ADMIN");
        }
        // ptrace needs kernel 4.8.
        assert!(!names_of(&translate(&p, "amd64", &caps, (4, 4)).unwrap()).iter().any(|n| n == "ptrace"));
        let arm = translate(&p, "arm64", &caps, (6, 1)).unwrap();
        assert_eq!(arm["architectures"], json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]));
        assert!(!names_of(&arm).iter().any(|n| n == "arch_prctl"));
    }

    #[test]
    fn bad_profiles_are_named() {
        assert!(parse_profile("{").unwrap_err().to_string().starts_with("decoding seccomp profile failed"));
        let p = parse_profile(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ERRNO","includes":{"minKernel":"a.b"}}]}"#).unwrap();
        assert!(translate(&p, "amd64", &[], (6, 1)).is_err());
    }
}
