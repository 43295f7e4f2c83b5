//! Variable expansion and word splitting as BuildKit's Dockerfile frontend does them (its
//! "shell lexer", a small part of POSIX sh): `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`,
//! `${VAR:+word}`, `${VAR+word}`, `${VAR:?message}`, `${VAR#pattern}` and `##`, `${VAR%pattern}`
//! and `%%`, `${VAR/pattern/replacement}` and `//`; single quotes taken literally, double
//! quotes with `$` expanded and `"`, `$` and the escape character escapable; the escape
//! character (`\` or, by the `escape` directive, a backtick) elsewhere. Words are split on
//! whitespace after expansion, except where quoted or escaped. Pure.

use std::collections::BTreeSet;

use crate::glob::{self, Token};

/// Why a word could not be expanded, in BuildKit's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to process {text:?}: {reason}")]
pub struct LexError {
    pub text: String,
    pub reason: String,
}

/// How words are read: the escape character, and what is kept as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lexer {
    pub escape: char,
    /// Quotes are kept in the result (their meaning still applies).
    pub raw_quotes: bool,
    /// Escape characters are kept in the result (their meaning still applies).
    pub raw_escapes: bool,
    /// An unset variable is left as written instead of expanding to nothing.
    pub skip_unset: bool,
}

/// A word expanded: as one string, split into words, and the variables it named that were not set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expansion {
    pub word: String,
    pub words: Vec<String>,
    pub unmatched: BTreeSet<String>,
}

/// The value of a variable, if set.
pub type Vars<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Lexer {
    pub fn new(escape: char) -> Lexer {
        Lexer { escape, raw_quotes: false, raw_escapes: false, skip_unset: false }
    }

    pub fn expand(&self, text: &str, vars: Vars<'_>) -> Result<Expansion, LexError> {
        let mut run = Run {
            lexer: self,
            chars: text.chars().collect(),
            pos: 0,
            vars,
            raw_escapes: self.raw_escapes,
            unmatched: BTreeSet::new(),
        };
        match run.until(None, self.raw_escapes) {
            Ok((word, words)) => Ok(Expansion { word, words, unmatched: run.unmatched }),
            Err(reason) => Err(LexError { text: text.to_string(), reason }),
        }
    }

    /// `text` expanded as one word (spaces kept).
    pub fn word(&self, text: &str, vars: Vars<'_>) -> Result<String, LexError> {
        self.expand(text, vars).map(|e| e.word)
    }

    /// `text` expanded and split into words.
    pub fn words(&self, text: &str, vars: Vars<'_>) -> Result<Vec<String>, LexError> {
        self.expand(text, vars).map(|e| e.words)
    }
}

/// Words being split: what is quoted or escaped never splits.
#[derive(Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }

    fn add_raw_char(&mut self, ch: char) {
        self.word.push(ch);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(self.word);
        }
        self.words
    }
}

struct Run<'a> {
    lexer: &'a Lexer,
    chars: Vec<char>,
    pos: usize,
    vars: Vars<'a>,
    raw_escapes: bool,
    unmatched: BTreeSet<String>,
}

type Step<T> = Result<T, String>;

impl Run<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += c.is_some() as usize;
        c
    }

    fn get(&mut self, name: &str) -> Option<String> {
        let v = (self.vars)(name);
        if v.is_none() {
            self.unmatched.insert(name.to_string());
        }
        v
    }

    /// Reads up to `stop` (consumed) or the end when `stop` is `None`.
    fn until(&mut self, stop: Option<char>, raw_escapes: bool) -> Step<(String, Vec<String>)> {
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let out = self.until_inner(stop);
        self.raw_escapes = saved;
        out
    }

    fn until_inner(&mut self, stop: Option<char>) -> Step<(String, Vec<String>)> {
        let (mut result, mut words) = (String::new(), Words::default());
        let escape = self.lexer.escape;
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.next();
                return Ok((result, words.finish()));
            }
            match ch {
                '$' => {
                    let v = self.dollar()?;
                    result.push_str(&v);
                    words.add_string(&v);
                }
                '\'' => {
                    let v = self.single_quoted()?;
                    result.push_str(&v);
                    words.add_raw_string(&v);
                }
                '"' => {
                    let v = self.double_quoted()?;
                    result.push_str(&v);
                    words.add_raw_string(&v);
                }
                _ => {
                    self.next();
                    if ch == escape {
                        if self.raw_escapes {
                            words.add_raw_char(ch);
                            result.push(ch);
                        }
                        let Some(c) = self.next() else { break };
                        words.add_raw_char(c);
                        result.push(c);
                    } else {
                        words.add_char(ch);
                        result.push(ch);
                    }
                }
            }
        }
        match stop {
            Some(c) => Err(format!("unexpected end of statement while looking for matching {c}")),
            None => Ok((result, words.finish())),
        }
    }

    fn single_quoted(&mut self) -> Step<String> {
        let mut out = String::new();
        let quote = self.next();
        if self.lexer.raw_quotes {
            out.extend(quote);
        }
        loop {
            match self.next() {
                None => {
                    return Err("unexpected end of statement while looking for matching single-quote".into())
                }
                Some('\'') => {
                    if self.lexer.raw_quotes {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Step<String> {
        let mut out = String::new();
        let quote = self.next();
        if self.lexer.raw_quotes {
            out.extend(quote);
        }
        let escape = self.lexer.escape;
        loop {
            match self.peek() {
                None => {
                    return Err("unexpected end of statement while looking for matching double-quote".into())
                }
                Some('"') => {
                    self.next();
                    if self.lexer.raw_quotes {
                        out.push('"');
                    }
                    return Ok(out);
                }
                Some('$') => {
                    let v = self.dollar()?;
                    out.push_str(&v);
                }
                Some(_) => {
                    let mut ch = self.next().unwrap_or_default();
                    if ch == escape {
                        if self.raw_escapes {
                            out.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(c) if c == '"' || c == '$' || c == escape => {
                                ch = self.next().unwrap_or_default();
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    self.next();
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!') {
                self.next();
                return ch.to_string();
            }
            if !(ch.is_alphanumeric() || ch == '_') {
                break;
            }
            self.next();
            name.push(ch);
        }
        name
    }

    fn dollar(&mut self) -> Step<String> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match self.get(&name) {
                Some(v) => v,
                None if self.lexer.skip_unset => format!("${name}"),
                None => String::new(),
            });
        }
        self.next();
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        let Some(mut ch) = self.next() else { return Err("syntax error: missing '}'".into()) };
        let mut modifier = ch.to_string();
        let mut null_is_unset = false;
        match ch {
            '}' => {
                return Ok(match self.get(&name) {
                    Some(v) => v,
                    None if self.lexer.skip_unset => format!("${{{name}}}"),
                    None => String::new(),
                })
            }
            '/' => return self.replace(&name),
            ':' => {
                null_is_unset = true;
                ch = self.next().ok_or("syntax error: missing '}'")?;
                modifier.push(ch);
            }
            '+' | '-' | '?' | '#' | '%' => {}
            _ => return Err(format!("unsupported modifier ({modifier}) in substitution")),
        }
        let (mut word, _) =
            self.until(Some('}'), ch == '#' || ch == '%').map_err(|e| self.missing('}', e))?;
        let value = self.get(&name);
        if self.lexer.skip_unset && value.is_none() {
            return Ok(format!("${{{name}{modifier}{word}}}"));
        }
        let set = value.is_some();
        let value = value.unwrap_or_default();
        let unset = !set || (null_is_unset && value.is_empty());
        match ch {
            '-' => Ok(if unset { word } else { value }),
            '+' => Ok(if unset { String::new() } else { word }),
            '?' if unset => Err(match (word.is_empty(), set) {
                (false, _) => format!("{name}: {word}"),
                (true, false) => format!("{name}: is not allowed to be unset"),
                (true, true) => format!("{name}: is not allowed to be empty"),
            }),
            '?' => Ok(value),
            '#' | '%' => {
                let greedy = word.starts_with(ch);
                if greedy {
                    word.remove(0);
                }
                let pattern = Pattern::parse(&word)?;
                Ok(if ch == '#' {
                    pattern.trim_prefix(&value, greedy)
                } else {
                    pattern.trim_suffix(&value, greedy)
                })
            }
            _ => Err(format!("unsupported modifier ({modifier}) in substitution")),
        }
    }

    /// `${name/pattern/replacement}` and `${name//pattern/replacement}`, after the first `/`.
    fn replace(&mut self, name: &str) -> Step<String> {
        let all = self.peek() == Some('/');
        if all {
            self.next();
        }
        let (pattern, _) = self.until(Some('/'), true).map_err(|e| self.missing_slash(e))?;
        let (replacement, _) = self.until(Some('}'), true).map_err(|e| self.missing('}', e))?;
        let value = self.get(name);
        let Some(value) = value else {
            if self.lexer.skip_unset {
                return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
            }
            return Ok(String::new());
        };
        Ok(Pattern::parse(&pattern)?.replace(&value, &replacement, all))
    }

    fn missing(&self, c: char, e: String) -> String {
        if self.peek().is_none() {
            format!("syntax error: missing '{c}'")
        } else {
            e
        }
    }

    fn missing_slash(&self, e: String) -> String {
        if self.peek().is_none() {
            "syntax error: missing '/' in ${}".into()
        } else {
            e
        }
    }
}

/// A shell pattern of `${…#…}`, `${…%…}` and `${…/…/…}`: `*`, `?` (both crossing `/`) and
/// literal characters (`\*`, `\?`, `\\` escaped; a `\` before `}` or `/` only protects it from
/// the braces).
struct Pattern(Vec<Token>);

impl Pattern {
    fn parse(text: &str) -> Step<Pattern> {
        let mut out = Vec::new();
        let mut it = text.chars().peekable();
        while let Some(c) = it.next() {
            out.push(match c {
                '*' => Token::Star { cross: true },
                '?' => Token::One { cross: true },
                '\\' => match it.peek().copied() {
                    Some('}' | '/') => continue,
                    Some(n @ ('*' | '?' | '\\')) => {
                        it.next();
                        Token::Char(n)
                    }
                    other => {
                        let shown = other.map(String::from).unwrap_or_default();
                        return Err(format!(
                            "invalid pattern ({text}) in substitution: invalid escape '\\{shown}'"
                        ));
                    }
                },
                c => Token::Char(c),
            });
        }
        Ok(Pattern(out))
    }

    fn reversed(&self) -> Pattern {
        Pattern(self.0.iter().rev().cloned().collect())
    }

    fn trim_prefix(&self, value: &str, longest: bool) -> String {
        let s: Vec<char> = value.chars().collect();
        let ends = glob::match_ends(&self.0, &s);
        let end = if longest { ends.iter().rposition(|&m| m) } else { ends.iter().position(|&m| m) };
        match end {
            Some(e) => s[e..].iter().collect(),
            None => value.to_string(),
        }
    }

    fn trim_suffix(&self, value: &str, longest: bool) -> String {
        let reversed: String = value.chars().rev().collect();
        let kept: String = self.reversed().trim_prefix(&reversed, longest);
        kept.chars().rev().collect()
    }

    /// The longest match starting at `at`, if any.
    fn match_at(&self, s: &[char], at: usize) -> Option<usize> {
        glob::match_ends(&self.0, &s[at..]).iter().rposition(|&m| m)
    }

    fn replace(&self, value: &str, with: &str, all: bool) -> String {
        let s: Vec<char> = value.chars().collect();
        let (mut out, mut i) = (String::new(), 0);
        while i <= s.len() {
            match self.match_at(&s, i) {
                Some(n) => {
                    out.push_str(with);
                    if !all {
                        out.extend(&s[i + n..]);
                        return out;
                    }
                    if n == 0 {
                        out.extend(s.get(i));
                        i += 1;
                    } else {
                        i += n;
                    }
                }
                None => {
                    out.extend(s.get(i));
                    i += 1;
                }
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "lex_tests.rs"]
mod tests;
