//! Docker's detach keys: the `--detach-keys`/`detachKeys` format (`ctrl-p,ctrl-q` by default:
//! comma-separated, each `ctrl-<a-z @ [ \ ] ^ _>` or one character), and the matcher that
//! finds the sequence in a stream of input, holding back bytes that may start it, as Docker's
//! escape proxy does. Pure.

use crate::ApiError;

/// Docker's default sequence.
pub const DEFAULT: &str = "ctrl-p,ctrl-q";

/// The sequence `keys` names, as bytes.
pub fn parse(keys: &str) -> Result<Vec<u8>, ApiError> {
    let bad = || {
        ApiError::invalid(format!("Invalid detach keys ({keys}) provided: use keys such as ctrl-p,ctrl-q"))
    };
    let mut out = Vec::new();
    for k in keys.split(',') {
        let b = match k.strip_prefix("ctrl-") {
            Some(c) if c.len() == 1 => match c.as_bytes()[0].to_ascii_lowercase() {
                b @ b'a'..=b'z' => b - b'a' + 1,
                b'@' => 0,
                b'[' => 27,
                b'\\' => 28,
                b']' => 29,
                b'^' => 30,
                b'_' => 31,
                _ => return Err(bad()),
            },
            None if k.len() == 1 => k.as_bytes()[0],
            _ => return Err(bad()),
        };
        out.push(b);
    }
    Ok(out)
}

/// What a chunk of input comes to.
#[derive(Debug, PartialEq, Eq)]
pub enum Scan {
    /// Bytes to pass on (possibly none: a prefix of the sequence is held back).
    Pass(Vec<u8>),
    /// The sequence was typed: pass on these bytes that came before it, then detach.
    Detach(Vec<u8>),
}

/// Finds a detach sequence in input that arrives in chunks.
#[derive(Debug, Clone)]
pub struct Matcher {
    keys: Vec<u8>,
    matched: usize,
}

impl Matcher {
    /// An empty sequence never matches.
    pub fn new(keys: Vec<u8>) -> Matcher {
        Matcher { keys, matched: 0 }
    }

    pub fn scan(&mut self, input: &[u8]) -> Scan {
        if self.keys.is_empty() {
            return Scan::Pass(input.to_vec());
        }
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Scan::Detach(out);
                }
                continue;
            }
            // The held-back prefix was input after all; this byte may start a new match.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return Scan::Detach(out);
                }
            } else {
                out.push(b);
            }
        }
        Scan::Pass(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_as_docker_spells_them() {
        assert_eq!(parse(DEFAULT).unwrap(), [16, 17]);
        assert_eq!(parse("ctrl-a,x").unwrap(), [1, b'x']);
        assert_eq!(parse("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_").unwrap(), [0, 27, 28, 29, 30, 31]);
        assert_eq!(parse("ctrl-X").unwrap(), [24]);
        for bad in ["", "ctrl-", "ctrl-1", "ab", "ctrl-p,,ctrl-q", "ctrl-pp"] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.status(), 400, "{bad}");
            assert!(e.message.contains("Invalid detach keys"), "{bad}");
        }
    }

    #[test]
    fn the_sequence_is_found_across_chunks_and_false_starts_pass_through() {
        let pass = |b: &[u8]| Scan::Pass(b.to_vec());
        // (keys, the input's chunks, what each chunk comes to)
        type Row<'a> = (&'a [u8], &'a [&'a [u8]], &'a [Scan]);
        let table: &[Row] = &[
            (&[16, 17], &[b"ab"], &[pass(b"ab")]),
            (&[16, 17], &[b"a\x10\x11b"], &[Scan::Detach(b"a".to_vec())]),
            (&[16, 17], &[b"a\x10", b"\x11"], &[pass(b"a"), Scan::Detach(vec![])]),
            (&[16, 17], &[b"a\x10", b"b"], &[pass(b"a"), pass(b"\x10b")]),
            (&[16, 17], &[b"\x10\x10\x11"], &[Scan::Detach(vec![16])]),
            (b"x", &[b"abxc"], &[Scan::Detach(b"ab".to_vec())]),
            (&[], &[b"\x10\x11"], &[pass(b"\x10\x11")]),
        ];
        for (keys, chunks, want) in table {
            let mut m = Matcher::new(keys.to_vec());
            let got: Vec<Scan> = chunks.iter().map(|c| m.scan(c)).collect();
            assert_eq!(&got, want, "{keys:?} {chunks:?}");
        }
    }
}
