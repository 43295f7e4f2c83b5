//! `--user` resolution against the image's `/etc/passwd` and `/etc/group`, with Docker's rules:
//! `name`, `uid`, `name:group`, `uid:gid`; a numeric uid missing from passwd is used as is with
//! gid 0; the additional gids are the primary gid, then (when no group was given) every group
//! that lists the user as a member, then `--group-add`.

use crate::SpecError;

/// The process identity for the OCI spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        Some(PasswdEntry { name: f.first()?, uid: f.get(2)?.parse().ok()?, gid: f.get(3)?.parse().ok()? })
    })
}

fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        Some(GroupEntry {
            name: f.first()?,
            gid: f.get(2)?.parse().ok()?,
            members: f.get(3).map(|m| m.split(',').filter(|s| !s.is_empty()).collect()).unwrap_or_default(),
        })
    })
}

fn find_group(group: &str, spec: &str) -> Result<u32, SpecError> {
    if let Some(g) = group_entries(group).find(|g| g.name == spec) {
        return Ok(g.gid);
    }
    spec.parse::<u32>().map_err(|_| {
        SpecError::InvalidArgument(format!("unable to find group {spec}: no matching entries in group file"))
    })
}

/// Resolves `user` (empty for root) and `group_add` against the image's files (missing files
/// are empty).
pub fn resolve(
    user: &str,
    group_add: &[String],
    passwd: &str,
    group: &str,
) -> Result<ResolvedUser, SpecError> {
    let (user_part, group_part) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let found = passwd_entries(passwd).find(|e| e.name == user_part || e.uid.to_string() == user_part);
    let (uid, mut gid, name) = match (found, user_part.parse::<u32>()) {
        // A name wins over a uid, as with runc's lookup: match by name first.
        (Some(e), _) => (e.uid, e.gid, Some(e.name)),
        (None, Ok(uid)) => (uid, 0, None),
        (None, Err(_)) => {
            return Err(SpecError::InvalidArgument(format!(
                "unable to find user {user_part}: no matching entries in passwd file"
            )))
        }
    };
    if let Some(g) = group_part.filter(|g| !g.is_empty()) {
        gid = find_group(group, g)?;
    }
    let mut additional = vec![gid];
    if group_part.is_none() {
        if let Some(name) = name {
            additional.extend(group_entries(group).filter(|g| g.members.contains(&name)).map(|g| g.gid));
        }
    }
    for g in group_add {
        additional.push(find_group(group, g)?);
    }
    Ok(ResolvedUser { uid, gid, additional_gids: additional })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nmail:x:8:8:mail:/var/mail:/bin/false\nwww-data:x:33:33:www:/var/www:/bin/false\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:root\nmail:x:12:\naudio:x:29:\nwww-data:x:33:\nstaff:x:50:\n";

    #[test]
    #[allow(clippy::type_complexity)] // the table spells its rows out
    fn docker_rules() {
        let cases: &[(&str, &[&str], Result<(u32, u32, &[u32]), &str>)] = &[
            ("", &[], Ok((0, 0, &[0, 10]))),
            ("root", &[], Ok((0, 0, &[0, 10]))),
            ("www-data", &[], Ok((33, 33, &[33]))),
            ("33", &[], Ok((33, 33, &[33]))),
            ("1000:1000", &[], Ok((1000, 1000, &[1000]))),
            ("1000", &[], Ok((1000, 0, &[0]))),
            ("mail:audio", &[], Ok((8, 29, &[29]))),
            ("", &["50", "audio"], Ok((0, 0, &[0, 10, 50, 29]))),
            ("nobody", &[], Err("unable to find user nobody: no matching entries in passwd file")),
            ("root:nogroup", &[], Err("unable to find group nogroup: no matching entries in group file")),
        ];
        for (user, add, want) in cases {
            let add: Vec<String> = add.iter().map(|s| s.to_string()).collect();
            let got = resolve(user, &add, PASSWD, GROUP)
                .map(|r| (r.uid, r.gid, r.additional_gids))
                .map_err(|e| e.to_string());
            let want = want.map(|(u, g, a)| (u, g, a.to_vec())).map_err(|e| e.to_string());
            assert_eq!(got, want, "user {user:?}");
        }
    }
}
