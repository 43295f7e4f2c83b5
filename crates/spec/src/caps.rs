//! Capabilities: Docker's default set and `--cap-add`/`--cap-drop`/`--privileged`.

use crate::SpecError;

/// Every capability the kernel defines, in kernel order (CAP_CHOWN is 0).
pub const ALL: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Docker's default capabilities, in Docker's order.
pub const DEFAULT: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// `net_admin`, `NET_ADMIN` and `CAP_NET_ADMIN` all name CAP_NET_ADMIN; `all` is `ALL`.
fn normalize(names: &[String]) -> Result<Vec<String>, SpecError> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let up = n.trim().to_ascii_uppercase();
        let name = if up == "ALL" {
            up
        } else {
            let full = if up.starts_with("CAP_") { up } else { format!("CAP_{up}") };
            if !ALL.contains(&full.as_str()) {
                return Err(SpecError::InvalidArgument(format!("unknown capability: {n:?}")));
            }
            full
        };
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// The capability set for a container, as Docker's `TweakCapabilities` computes it, limited to
/// what the host's bounding set holds (a runtime cannot grant more).
pub fn effective_set(
    add: &[String],
    drop: &[String],
    privileged: bool,
    bounding: &[String],
) -> Result<Vec<String>, SpecError> {
    let all_on_host = || ALL.iter().filter(|c| bounding.iter().any(|b| b == *c)).map(|c| c.to_string());
    if privileged {
        return Ok(all_on_host().collect());
    }
    let add = normalize(add)?;
    let drop = normalize(drop)?;
    if add.is_empty() && drop.is_empty() {
        return Ok(DEFAULT.iter().map(|c| c.to_string()).collect());
    }
    let caps: Vec<String> = if add.iter().any(|c| c == "ALL") {
        all_on_host().filter(|c| !drop.contains(c)).collect()
    } else if drop.iter().any(|c| c == "ALL") {
        add
    } else {
        let mut caps: Vec<String> =
            DEFAULT.iter().map(|c| c.to_string()).filter(|c| !drop.contains(c)).collect();
        for c in add {
            if !caps.contains(&c) && !drop.contains(&c) {
                caps.push(c);
            }
        }
        caps
    };
    Ok(caps.into_iter().filter(|c| bounding.contains(c)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    #[allow(clippy::type_complexity)] // the table spells its rows out
    fn docker_rules() {
        let host: Vec<String> = s(ALL).into_iter().filter(|c| c != "CAP_SYS_RESOURCE").collect();
        let cases: &[(&[&str], &[&str], bool, Result<Vec<&str>, ()>)] = &[
            (&[], &[], false, Ok(DEFAULT.to_vec())),
            (&["NET_ADMIN"], &["ALL"], false, Ok(vec!["CAP_NET_ADMIN"])),
            (&[], &["all"], false, Ok(vec![])),
            (
                &["net_admin"],
                &["chown", "CAP_KILL"],
                false,
                Ok({
                    let mut v: Vec<&str> =
                        DEFAULT.iter().copied().filter(|c| *c != "CAP_CHOWN" && *c != "CAP_KILL").collect();
                    v.push("CAP_NET_ADMIN");
                    v
                }),
            ),
            (&["SYS_RESOURCE"], &[], false, Ok(DEFAULT.to_vec())),
            (&["BOGUS"], &[], false, Err(())),
        ];
        for (add, drop, priv_, want) in cases {
            let got = effective_set(&s(add), &s(drop), *priv_, &host).map_err(|_| ());
            assert_eq!(got, want.clone().map(|w| s(&w)), "add={add:?} drop={drop:?}");
        }
        let all = effective_set(&s(&["ALL"]), &s(&["MKNOD"]), false, &host).unwrap();
        assert!(!all.contains(&"CAP_MKNOD".to_string()) && !all.contains(&"CAP_SYS_RESOURCE".to_string()));
        assert_eq!(all.len(), ALL.len() - 2);
        assert_eq!(effective_set(&[], &[], true, &host).unwrap().len(), ALL.len() - 1);
    }
}
