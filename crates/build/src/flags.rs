//! An instruction's `--name=value` flags checked against what it accepts, as BuildKit's
//! `BFlags` checks them; and Go's duration syntax, which HEALTHCHECK's flags are written in.
//! Pure.

use std::time::Duration;

/// How a flag takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--name=value`, once.
    Text,
    /// `--name`, `--name=true` or `--name=false`, once.
    Bool,
    /// `--name=value`, any number of times.
    List,
}

/// The flags given to one instruction, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    given: Vec<(String, String)>,
}

impl Flags {
    /// Checks `words` (`--name[=value]`) against `accepted`.
    pub fn parse(words: &[String], accepted: &[(&str, Kind)]) -> Result<Flags, String> {
        let mut given: Vec<(String, String)> = Vec::new();
        for word in words {
            let Some(body) = word.strip_prefix("--") else {
                return Err(format!("arguments must start with --: {word}"));
            };
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let Some(&(_, kind)) = accepted.iter().find(|(n, _)| *n == name) else {
                return Err(format!("unknown flag: {name}"));
            };
            if kind != Kind::List && given.iter().any(|(n, _)| n == name) {
                return Err(format!("duplicate flag specified: {name}"));
            }
            let value = match (kind, value) {
                (Kind::Bool, None) => "true".to_string(),
                (Kind::Bool, Some(v))
                    if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") =>
                {
                    v.to_ascii_lowercase()
                }
                (Kind::Bool, Some(v)) => {
                    return Err(format!("expecting boolean value for flag {name}, not: {v}"))
                }
                (_, None) => return Err(format!("missing a value on flag: {name}")),
                (_, Some(v)) => v.to_string(),
            };
            given.push((name.to_string(), value));
        }
        Ok(Flags { given })
    }

    pub fn text(&self, name: &str) -> Option<String> {
        self.given.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }

    pub fn bool(&self, name: &str) -> bool {
        self.text(name).as_deref() == Some("true")
    }

    pub fn list(&self, name: &str) -> Vec<String> {
        self.given.iter().filter(|(n, _)| n == name).map(|(_, v)| v.clone()).collect()
    }
}

/// A Go duration (`300ms`, `1.5h`, `2h45m`, `0`): units ns, us (µs), ms, s, m, h; fractions
/// allowed.
pub fn go_duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() || s.starts_with('-') {
        return Err(invalid());
    }
    let s2 = s.strip_prefix('+').unwrap_or(s);
    let mut rest = s2;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..num_len];
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            u => return Err(format!("time: unknown unit {u:?} in duration {s:?}")),
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCEPTED: &[(&str, Kind)] = &[("from", Kind::Text), ("link", Kind::Bool), ("exclude", Kind::List)];

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_are_checked_as_buildkit_checks_them() {
        let f =
            Flags::parse(&words(&["--from=a", "--link", "--exclude=x", "--exclude=y"]), ACCEPTED).unwrap();
        assert_eq!(f.text("from").as_deref(), Some("a"));
        assert!(f.bool("link"));
        assert_eq!(f.list("exclude"), ["x", "y"]);
        assert!(!Flags::parse(&words(&["--link=FALSE"]), ACCEPTED).unwrap().bool("link"));
        for (given, message) in [
            (&["--chown=1"][..], "unknown flag: chown"),
            (&["--from=a", "--from=b"], "duplicate flag specified: from"),
            (&["--from"], "missing a value on flag: from"),
            (&["--link=yes"], "expecting boolean value for flag link, not: yes"),
        ] {
            assert_eq!(Flags::parse(&words(given), ACCEPTED).unwrap_err(), message);
        }
    }

    #[test]
    fn go_durations_read_as_go_reads_them() {
        for (s, ms) in [
            ("0", 0),
            ("30s", 30_000),
            ("1.5s", 1500),
            ("2h45m", 9_900_000),
            ("100ms", 100),
            ("1m0.5s", 60_500),
        ] {
            assert_eq!(go_duration(s), Ok(Duration::from_millis(ms)), "{s}");
        }
        assert_eq!(go_duration("10").unwrap_err(), "time: missing unit in duration \"10\"");
        assert_eq!(go_duration("5x").unwrap_err(), "time: unknown unit \"x\" in duration \"5x\"");
        for bad in ["", "s", "-1s", ".s"] {
            assert!(go_duration(bad).is_err(), "{bad}");
        }
    }
}
