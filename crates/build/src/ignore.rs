//! `.dockerignore` as Docker reads and matches it: one pattern a line (`#` comments, blank
//! lines skipped, surrounding spaces trimmed, paths cleaned and made relative), `!` for an
//! exception; `*` and `?` within a path element, `**` across any number of them, `[…]`
//! classes, `\` escaping; a path is excluded when the last pattern matching it or one of its
//! parent directories is not an exception. Also which ignore file goes with a Dockerfile and
//! which directories a context walk may skip whole. Pure.

use crate::glob::{self, Token};

/// A parsed `.dockerignore`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    /// The cleaned pattern, without its `!`.
    text: String,
    exception: bool,
    tokens: Vec<Token>,
}

impl Ignore {
    /// Reads a `.dockerignore`'s text.
    pub fn parse(text: &str) -> Result<Ignore, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let mut p = line.trim();
            if p.is_empty() {
                continue;
            }
            let exception = p.starts_with('!');
            if exception {
                p = p[1..].trim();
            }
            let mut cleaned = if p.is_empty() { String::new() } else { clean(p) };
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            let tokens =
                compile(&cleaned).map_err(|e| format!("invalid .dockerignore pattern {line:?}: {e}"))?;
            patterns.push(Pattern { text: cleaned, exception, tokens });
        }
        Ok(Ignore { patterns })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out.
    pub fn excludes(&self, path: &str) -> bool {
        let path = clean(path);
        let parents: Vec<&str> = match path.rfind('/') {
            Some(i) => path[..i].split('/').collect(),
            None => Vec::new(),
        };
        let mut excluded = false;
        for p in &self.patterns {
            if p.exception != excluded {
                continue;
            }
            let mut hit = p.matches(&path);
            if !hit {
                hit = (1..=parents.len()).any(|n| p.matches(&parents[..n].join("/")));
            }
            if hit {
                excluded = !p.exception;
            }
        }
        excluded
    }

    /// Whether a walk of the context may skip the excluded directory `dir` whole: no exception
    /// could bring back anything below it.
    pub fn skips_dir(&self, dir: &str) -> bool {
        let dir_slash = format!("{}/", clean(dir));
        !self.patterns.iter().any(|p| p.exception && format!("{}/", p.text).starts_with(&dir_slash))
    }
}

/// Whether `name` matches the wildcard `pattern` (`*`, `?`, `[…]`, `\`; neither crosses a
/// `/`), as COPY matches its sources element by element.
pub fn wildcard_matches(pattern: &str, name: &str) -> Result<bool, String> {
    let tokens = compile(pattern)?;
    let s: Vec<char> = name.chars().collect();
    Ok(glob::matches(&tokens, &s))
}

/// The ignore files a build with the Dockerfile at `dockerfile` (relative to the context)
/// reads, in order of preference: `<Dockerfile>.dockerignore` beside it, then the context's
/// `.dockerignore`.
pub fn ignore_files(dockerfile: &str) -> Vec<String> {
    vec![format!("{dockerfile}.dockerignore"), ".dockerignore".to_string()]
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        let s: Vec<char> = path.chars().collect();
        glob::matches(&self.tokens, &s)
    }
}

fn compile(pattern: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                out.push(if i >= chars.len() { Token::Star { cross: true } } else { Token::AnyDirs });
            }
            '*' => out.push(Token::Star { cross: false }),
            '?' => out.push(Token::One { cross: false }),
            '\\' => match chars.get(i) {
                Some(&n) => {
                    i += 1;
                    out.push(Token::Char(n));
                }
                None => return Err("syntax error in pattern".into()),
            },
            '[' => {
                let negated = chars.get(i) == Some(&'^');
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    let Some(&lo) = chars.get(i) else { return Err("syntax error in pattern".into()) };
                    if lo == ']' && !ranges.is_empty() {
                        i += 1;
                        break;
                    }
                    let lo = if lo == '\\' {
                        i += 1;
                        *chars.get(i).ok_or("syntax error in pattern")?
                    } else {
                        lo
                    };
                    i += 1;
                    let hi = if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&h| h != ']') {
                        i += 2;
                        chars[i - 1]
                    } else {
                        lo
                    };
                    if hi < lo {
                        return Err("syntax error in pattern".into());
                    }
                    ranges.push((lo, hi));
                }
                out.push(Token::Class { negated, ranges });
            }
            c => out.push(Token::Char(c)),
        }
    }
    Ok(out)
}

/// Go's `path.Clean`: one `/` between elements, `.` removed, `..` resolved lexically, no
/// trailing `/`; `.` for nothing.
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

#[cfg(test)]
#[path = "ignore_tests.rs"]
mod tests;
