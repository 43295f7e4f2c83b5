use std::str::FromStr;

use nix::sys::signal::Signal;

use crate::RuntimeError;

/// Parses a signal the way runc does: `TERM`, `SIGTERM`, `sigterm` or `15`.
pub fn parse_signal(s: &str) -> Result<Signal, RuntimeError> {
    let invalid = || RuntimeError::InvalidArgument(format!("unknown signal {s:?}"));
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| invalid());
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    Signal::from_str(&name).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal::*;

    #[test]
    fn parses_runc_spellings() {
        for (s, want) in [
            ("TERM", Some(SIGTERM)),
            ("SIGKILL", Some(SIGKILL)),
            ("9", Some(SIGKILL)),
            ("hup", Some(SIGHUP)),
            ("SIGUSR1", Some(SIGUSR1)),
            ("WINCH", Some(SIGWINCH)),
            ("NOPE", None),
            ("0x9", None),
            ("999", None),
        ] {
            assert_eq!(parse_signal(s).ok(), want, "{s}");
        }
    }
}
