//! Go's `path.Match` for the `reference` filter (pure): `*` and `?` stop at `/`, `[...]` classes.

pub fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    m(&p, &n)
}

fn m(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).take_while(|&i| i == 0 || n[i - 1] != '/').any(|i| m(&p[1..], &n[i..])),
        Some('?') => !n.is_empty() && n[0] != '/' && m(&p[1..], &n[1..]),
        Some('[') => {
            let Some(end) = p.iter().position(|&c| c == ']') else { return false };
            let Some(&c) = n.first() else { return false };
            let class = &p[1..end];
            let (negate, class) = match class.first() {
                Some('^') | Some('!') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && m(&p[end + 1..], &n[1..])
        }
        Some('\\') if p.len() > 1 => !n.is_empty() && n[0] == p[1] && m(&p[2..], &n[1..]),
        Some(&c) => !n.is_empty() && n[0] == c && m(&p[1..], &n[1..]),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn table() {
        for (p, n, want) in [
            ("busybox", "busybox", true),
            ("busy*", "busybox", true),
            ("*", "user/app", false),
            ("*/*", "user/app", true),
            ("b?sybox", "busybox", true),
            ("b[a-v]sybox", "busybox", true),
            ("b[^u]sybox", "busybox", false),
            ("busybox:*", "busybox:latest", true),
            ("*:1.*", "busybox:1.36", true),
            ("app", "application", false),
        ] {
            assert_eq!(super::matches(p, n), want, "{p} {n}");
        }
    }
}
