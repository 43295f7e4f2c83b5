//! COPY and ADD's `--chmod` (octal, or symbolic as chmod(1) writes it: `u+x,go-w`, `a=rX`)
//! and `--chown` (`user[:group]`, names or numbers, names looked up in the stage's
//! `/etc/passwd` and `/etc/group`, whose text the caller reads); `USER`'s too. Pure.

/// A parsed `--chmod`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chmod {
    Octal(u32),
    Symbolic(Vec<Clause>),
}

/// One `who op perms` clause of a symbolic mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// Mask of the classes it applies to (0o4000|0o700 for u, …); all when none is written.
    who: u32,
    who_given: bool,
    ops: Vec<(char, Perm)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Perm {
    Bits {
        rwx: u32,
        big_x: bool,
        setid: bool,
        sticky: bool,
    },
    /// `u`, `g` or `o`: the permissions that class has now.
    Copy(char),
}

impl Chmod {
    pub fn parse(text: &str) -> Result<Chmod, String> {
        let bad =
            || format!("invalid chmod {text:?}: give octal digits (0755) or a symbolic mode (u+x,go-w)");
        if !text.is_empty() && text.chars().all(|c| c.is_digit(8)) {
            let mode = u32::from_str_radix(text, 8).map_err(|_| bad())?;
            return if mode <= 0o7777 { Ok(Chmod::Octal(mode)) } else { Err(bad()) };
        }
        let mut clauses = Vec::new();
        for part in text.split(',') {
            let mut chars = part.chars().peekable();
            let (mut who, mut who_given) = (0u32, false);
            while let Some(&c) = chars.peek() {
                let mask = match c {
                    'u' => 0o4700,
                    'g' => 0o2070,
                    'o' => 0o1007,
                    'a' => 0o7777,
                    _ => break,
                };
                who |= mask;
                who_given = true;
                chars.next();
            }
            if !who_given {
                who = 0o7777;
            }
            let mut ops = Vec::new();
            while let Some(op) = chars.next() {
                if !matches!(op, '+' | '-' | '=') {
                    return Err(bad());
                }
                let perm = match chars.peek() {
                    Some(&c @ ('u' | 'g' | 'o')) => {
                        chars.next();
                        Perm::Copy(c)
                    }
                    _ => {
                        let (mut rwx, mut big_x, mut setid, mut sticky) = (0, false, false, false);
                        while let Some(&c) = chars.peek() {
                            match c {
                                'r' => rwx |= 4,
                                'w' => rwx |= 2,
                                'x' => rwx |= 1,
                                'X' => big_x = true,
                                's' => setid = true,
                                't' => sticky = true,
                                _ => break,
                            }
                            chars.next();
                        }
                        Perm::Bits { rwx, big_x, setid, sticky }
                    }
                };
                ops.push((op, perm));
            }
            if ops.is_empty() {
                return Err(bad());
            }
            clauses.push(Clause { who, who_given, ops });
        }
        Ok(Chmod::Symbolic(clauses))
    }

    /// The mode a file of mode `mode` (permission bits) gets; `dir` for directories (`X`).
    pub fn apply(&self, mode: u32, dir: bool) -> u32 {
        let clauses = match self {
            Chmod::Octal(m) => return *m,
            Chmod::Symbolic(c) => c,
        };
        let mut mode = mode & 0o7777;
        for clause in clauses {
            for (op, perm) in &clause.ops {
                let bits = match perm {
                    Perm::Copy(c) => {
                        let shift = match c {
                            'u' => 6,
                            'g' => 3,
                            _ => 0,
                        };
                        let rwx = (mode >> shift) & 7;
                        rwx << 6 | rwx << 3 | rwx
                    }
                    Perm::Bits { rwx, big_x, setid, sticky } => {
                        let x = *big_x && (dir || mode & 0o111 != 0);
                        let rwx = rwx | if x { 1 } else { 0 };
                        (rwx << 6 | rwx << 3 | rwx)
                            | if *setid { 0o6000 } else { 0 }
                            | if *sticky { 0o1000 } else { 0 }
                    }
                };
                let mut affected = bits & clause.who;
                if !clause.who_given {
                    // chmod(1) without a class spares the bits of the umask; builds have none.
                    affected = bits;
                }
                match op {
                    '+' => mode |= affected,
                    '-' => mode &= !affected,
                    _ => mode = (mode & !(clause.who & 0o7777)) | affected,
                }
            }
        }
        mode
    }
}

/// `user[:group]` resolved to numbers: numbers are taken as they are; names are looked up
/// in `passwd` and `group` (the files' text). A user without a group gets the user's primary
/// group (or 0 when the user is a bare number, as Docker's COPY does).
pub fn resolve_chown(spec: &str, passwd: &str, group: &str) -> Result<(u32, u32), String> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entries = |text: &str| -> Vec<Vec<String>> {
        text.lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| l.split(':').map(str::to_string).collect())
            .collect()
    };
    let users = entries(passwd);
    let (uid, primary) = match user.parse::<u32>() {
        Ok(n) => (
            n,
            users
                .iter()
                .find(|e| e.get(2).map(String::as_str) == Some(user))
                .and_then(|e| e.get(3)?.parse().ok()),
        ),
        Err(_) => {
            let e = users
                .iter()
                .find(|e| e.first().map(String::as_str) == Some(user))
                .ok_or_else(|| format!("unable to find user {user}: no matching entries in passwd file"))?;
            let num = |i: usize| e.get(i).and_then(|v| v.parse::<u32>().ok());
            (num(2).ok_or_else(|| format!("invalid passwd entry for user {user}"))?, num(3))
        }
    };
    let gid = match grp {
        None => primary.unwrap_or(if user.parse::<u32>().is_ok() { 0 } else { uid }),
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => entries(group)
                .iter()
                .find(|e| e.first().map(String::as_str) == Some(g))
                .and_then(|e| e.get(2)?.parse().ok())
                .ok_or_else(|| format!("unable to find group {g}: no matching entries in group file"))?,
        },
    };
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_change_as_chmod_changes_them() {
        for (spec, mode, dir, want) in [
            ("755", 0o644, false, 0o755),
            ("0600", 0o777, true, 0o600),
            ("u+x", 0o644, false, 0o744),
            ("go-w", 0o666, false, 0o644),
            ("a=r", 0o777, false, 0o444),
            ("u=rwx,g=rx,o=", 0o000, false, 0o750),
            ("+x", 0o644, false, 0o755),
            ("a+X", 0o644, false, 0o644),
            ("a+X", 0o744, false, 0o755),
            ("a+X", 0o644, true, 0o755),
            ("g=u", 0o740, false, 0o770),
            ("u+s", 0o755, false, 0o4755),
            ("+t", 0o777, true, 0o1777),
            ("o-rwx,u+w", 0o555, false, 0o750),
        ] {
            assert_eq!(Chmod::parse(spec).unwrap().apply(mode, dir), want, "{spec} on {mode:o}");
        }
        for bad in ["", "9", "77777", "u", "q+x", "u+x,", "u*x"] {
            assert!(Chmod::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn owners_resolve_from_the_stages_files() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
        let group = "root:x:0:\nstaff:x:50:\napp:x:1001:\n";
        for (spec, want) in [
            ("0", (0, 0)),
            ("1000", (1000, 1001)),
            ("2000", (2000, 0)),
            ("app", (1000, 1001)),
            ("app:staff", (1000, 50)),
            ("app:7", (1000, 7)),
            ("5:5", (5, 5)),
        ] {
            assert_eq!(resolve_chown(spec, passwd, group), Ok(want), "{spec}");
        }
        assert_eq!(
            resolve_chown("nobody", passwd, group).unwrap_err(),
            "unable to find user nobody: no matching entries in passwd file"
        );
        assert_eq!(
            resolve_chown("app:wheel", passwd, group).unwrap_err(),
            "unable to find group wheel: no matching entries in group file"
        );
    }
}
