//! `.env` files and `env_file`s, as Compose reads them: `KEY=value` (or `KEY: value`) a line,
//! `export ` before a key allowed, `#` comment lines; an unquoted value ends at the line's end
//! or at ` #`, trimmed; a single-quoted value is taken as it is; a double-quoted one may span
//! lines, has its escapes read (`\n`, `\t`, `\"`, `\\`, `\$`) and its variables substituted; a
//! key alone takes the variable's value from the environment, when it is set. Variables in
//! values are looked up in the environment first, then among the file's earlier keys.

use crate::interpolate::substitute;
use crate::ComposeError;

/// The file's variables in order (a later one of the same name wins). `file` names it in
/// errors; `lookup` is the environment.
pub fn parse(
    text: &str,
    file: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, ComposeError> {
    let mut p = Parser { s: text.as_bytes(), text, i: 0, line: 1, file };
    let mut out: Vec<(String, String)> = Vec::new();
    while p.statement() {
        let line = p.line;
        let (key, inherited) = p.key()?;
        if inherited {
            if let Some(v) = lookup(&key) {
                out.push((key, v));
            }
            continue;
        }
        let (raw, expand) = p.value()?;
        let value = if expand {
            let earlier = |name: &str| {
                lookup(name).or_else(|| out.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
            };
            substitute(&raw, &earlier).map_err(|e| p.error_at(line, e.to_string()))?.text
        } else {
            raw
        };
        out.push((key, value));
    }
    Ok(out)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    line: usize,
    file: &'a str,
}

impl Parser<'_> {
    fn error_at(&self, line: usize, why: impl Into<String>) -> ComposeError {
        ComposeError::EnvFile { file: self.file.to_string(), line, why: why.into() }
    }

    fn error(&self, why: impl Into<String>) -> ComposeError {
        self.error_at(self.line, why)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        if c == b'\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c')) {
            self.i += 1;
        }
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.bump() {
            if c == b'\n' {
                break;
            }
        }
    }

    /// Moves to the next statement, past blank lines and comments; false at the end.
    fn statement(&mut self) -> bool {
        loop {
            match self.peek() {
                None => return false,
                Some(c) if c.is_ascii_whitespace() => {
                    self.bump();
                }
                Some(b'#') => self.skip_line(),
                Some(_) => return true,
            }
        }
    }

    /// A key, and whether it stands alone (its value inherited from the environment).
    fn key(&mut self) -> Result<(String, bool), ComposeError> {
        if self.text[self.i..].starts_with("export") && matches!(self.s.get(self.i + 6), Some(b' ' | b'\t')) {
            self.i += 6;
            self.skip_blanks();
        }
        let start = self.i;
        loop {
            match self.peek() {
                None | Some(b'\n') => {
                    let key = self.text[start..self.i].trim_end().to_string();
                    return self.checked(key).map(|k| (k, true));
                }
                Some(b'=' | b':') => {
                    let key = self.text[start..self.i].trim_end().to_string();
                    self.i += 1;
                    self.skip_blanks();
                    return self.checked(key).map(|k| (k, false));
                }
                Some(c)
                    if c.is_ascii_alphanumeric()
                        || matches!(c, b'_' | b'.' | b'-' | b' ' | b'\t')
                        || c >= 0x80 =>
                {
                    self.i += 1;
                }
                Some(c) => {
                    return Err(self.error(format!("unexpected character {:?} in variable name", c as char)));
                }
            }
        }
    }

    fn checked(&self, key: String) -> Result<String, ComposeError> {
        if key.contains([' ', '\t']) {
            return Err(self.error(format!("key {key:?} cannot contain a space")));
        }
        if key.is_empty() {
            return Err(self.error("a variable has no name"));
        }
        Ok(key)
    }

    /// A value as written, and whether its variables are substituted.
    fn value(&mut self) -> Result<(String, bool), ComposeError> {
        let quote = match self.peek() {
            Some(q @ (b'"' | b'\'')) => q,
            _ => {
                let start = self.i;
                while !matches!(self.peek(), None | Some(b'\n')) {
                    self.i += 1;
                }
                let line = &self.text[start..self.i];
                let line = line.split_once(" #").map_or(line, |(v, _)| v);
                return Ok((line.trim_end().to_string(), true));
            }
        };
        let line = self.line;
        self.i += 1;
        let mut raw = Vec::new();
        let mut escaped = false;
        loop {
            let Some(c) = self.bump() else {
                return Err(self.error_at(line, "unterminated quoted value"));
            };
            if escaped {
                escaped = false;
                if c != quote {
                    raw.push(b'\\');
                }
                raw.push(c);
            } else if c == b'\\' {
                escaped = true;
            } else if c == quote {
                break;
            } else {
                raw.push(c);
            }
        }
        // After the closing quote: blanks and a comment at most.
        self.skip_blanks();
        match self.peek() {
            None | Some(b'\n') => {}
            Some(b'#') => self.skip_line(),
            Some(_) => return Err(self.error("unexpected text after a quoted value")),
        }
        let raw = String::from_utf8_lossy(&raw).into_owned();
        if quote == b'\'' {
            return Ok((raw, false));
        }
        Ok((unescape(&raw), true))
    }
}

/// A double-quoted value's escapes: `\n`, `\r`, `\t` and `\\`; `\$` stays a `$` through
/// substitution (`$$`); any other `\x` is kept as it is.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('$') => out.push_str("$$"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "HOME_DIR" || name == "INHERITED").then(|| "/home/me".to_string())
    }

    fn read(text: &str) -> Result<Vec<(String, String)>, ComposeError> {
        parse(text, ".env", &env)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn reads_what_compose_reads() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("A=1\nB = two words \n", &[("A", "1"), ("B", "two words")]),
            ("# comment\n\n  export C=3\nD: yaml style\n", &[("C", "3"), ("D", "yaml style")]),
            ("E=value # comment\nF=a#b\n", &[("E", "value"), ("F", "a#b")]),
            ("G='single $HOME_DIR \\n'\n", &[("G", "single $HOME_DIR \\n")]),
            ("H=\"line\\nnext\\t$HOME_DIR \\$x \\\"q\\\"\"\n", &[("H", "line\nnext\t/home/me $x \"q\"")]),
            ("I=\"two\nlines\" # after\nJ=j\n", &[("I", "two\nlines"), ("J", "j")]),
            (
                "K=$HOME_DIR/x\nL=${K}/y\nM=${UNSET:-dflt}\n",
                &[("K", "/home/me/x"), ("L", "/home/me/x/y"), ("M", "dflt")],
            ),
            ("INHERITED\nMISSING\nN=\n", &[("INHERITED", "/home/me"), ("N", "")]),
            ("dotted.key-1=x\r\nO=\"\"\n", &[("dotted.key-1", "x"), ("O", "")]),
            ("P=1\nP=2\n", &[("P", "1"), ("P", "2")]),
        ];
        for (text, want) in cases {
            assert_eq!(read(text), Ok(pairs(want)), "{text:?}");
        }
    }

    #[test]
    fn says_where_a_file_is_wrong() {
        let cases = [
            ("A=1\nB=\"open\nstill\n", 2, "unterminated quoted value"),
            ("A=1\n\nKEY WITH SPACE=1\n", 3, "key \"KEY WITH SPACE\" cannot contain a space"),
            ("A$=1\n", 1, "unexpected character '$' in variable name"),
            ("A=\"x\" y\n", 1, "unexpected text after a quoted value"),
            ("A=1\nB=${NEEDED:?set it}\n", 2, "required variable NEEDED is missing a value: set it"),
        ];
        for (text, line, why) in cases {
            assert_eq!(
                read(text),
                Err(ComposeError::EnvFile { file: ".env".into(), line, why: why.into() }),
                "{text:?}"
            );
        }
    }
}
