//! A Dockerfile's text read into instruction nodes as BuildKit's parser reads it: parser
//! directives at the top (`# syntax=`, `# escape=`, `# check=`), comments, line continuations
//! (comment lines inside them skipped, empty ones warned about), `--flag` words after the
//! keyword, each instruction's arguments in its own form (JSON arrays, `key=value` pairs,
//! whitespace-separated words or the rest of the line) and heredocs (`<<EOF`, `<<-EOF`,
//! `<<"EOF"`) for RUN, COPY and ADD. Nothing is expanded here and unknown instructions pass:
//! [`crate::instructions`] types and checks the nodes. Pure.

use crate::lex::Lexer;

/// A parse error, with the line it is on (1-based), as BuildKit prints it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dockerfile parse error on line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl berth_kind::Kinded for ParseError {
    fn kind(&self) -> berth_kind::Kind {
        berth_kind::Kind::InvalidArgument
    }
}

impl ParseError {
    pub(crate) fn new(line: usize, message: impl Into<String>) -> ParseError {
        ParseError { line, message: message.into() }
    }
}

/// The parser directives a Dockerfile starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    pub escape: char,
    pub syntax: Option<String>,
    pub check: Option<String>,
}

/// A here-document of an instruction (`<<EOF` … `EOF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    /// `3<<EOF`: the file descriptor it is fed to.
    pub fd: Option<u32>,
    /// Variables are expanded in it (its delimiter was not quoted).
    pub expand: bool,
    /// `<<-EOF`: leading tabs are removed from its lines.
    pub chomp: bool,
    /// Its lines, each with its newline.
    pub content: String,
}

impl Heredoc {
    /// The content as it is used: without leading tabs when chomped.
    pub fn text(&self) -> String {
        if !self.chomp {
            return self.content.clone();
        }
        self.content.split_inclusive('\n').map(|l| l.trim_start_matches('\t')).collect()
    }
}

/// One instruction as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The instruction's keyword, lower-case (`run`).
    pub keyword: String,
    /// `--name=value` words before the arguments, without their dashes' meaning checked.
    pub flags: Vec<String>,
    /// The arguments in the instruction's form: JSON array items; `key, value` pairs for ENV
    /// and LABEL; words; or the rest of the line. For ONBUILD, the trigger's keyword and its
    /// arguments.
    pub args: Vec<String>,
    /// The arguments were a JSON array (exec form).
    pub json: bool,
    pub heredocs: Vec<Heredoc>,
    /// The instruction's line(s) joined, continuations removed.
    pub original: String,
    pub start_line: usize,
    pub end_line: usize,
    /// ONBUILD's trigger.
    pub trigger: Option<Box<Node>>,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ast {
    pub directives: Directives,
    pub nodes: Vec<Node>,
    pub warnings: Vec<String>,
}

/// Parses a Dockerfile.
pub fn parse(text: &str) -> Result<Ast, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n').peekable();
    let mut d = DirectiveState::default();
    let (mut nodes, mut warnings, mut current) = (Vec::new(), Vec::new(), 0usize);
    while let Some(raw) = lines.next() {
        let token = trim_newline(raw).trim_start();
        d.consider(token).map_err(|m| ParseError::new(current + 1, m))?;
        current += 1;
        let start = current;
        let token = if token.starts_with('#') { "" } else { token };
        let (mut line, mut ended) = d.trim_continuation(token);
        if ended && line.is_empty() {
            continue;
        }
        let mut empty_continuation = false;
        while !ended {
            let Some(raw) = lines.next() else { break };
            let token = trim_newline(raw);
            d.consider(token).map_err(|m| ParseError::new(current + 1, m))?;
            current += 1;
            if token.trim_start().starts_with('#') {
                continue;
            }
            if token.trim_start().is_empty() {
                empty_continuation = true;
                continue;
            }
            let (more, e) = d.trim_continuation(token);
            line.push_str(&more);
            ended = e;
        }
        if empty_continuation {
            warnings.push(format!("[WARNING]: Empty continuation line found in:\n    {line}"));
        }
        let mut node = node_from_line(&line, d.escape).map_err(|m| ParseError::new(start, m))?;
        if node.may_have_heredocs() {
            for mut doc in heredocs_in(&line).map_err(|m| ParseError::new(start, m))? {
                let mut terminated = false;
                for raw in lines.by_ref() {
                    current += 1;
                    let mut candidate = trim_newline(raw);
                    if doc.chomp {
                        candidate = candidate.trim_start_matches('\t');
                    }
                    if candidate == doc.name {
                        terminated = true;
                        break;
                    }
                    doc.content.push_str(raw);
                }
                if !terminated {
                    return Err(ParseError::new(start, "unterminated heredoc"));
                }
                node.heredocs.push(doc);
            }
        }
        node.start_line = start;
        node.end_line = current;
        nodes.push(node);
    }
    if !warnings.is_empty() {
        warnings.push("[WARNING]: Empty continuation lines will become errors in a future release.".into());
    }
    if nodes.is_empty() {
        return Err(ParseError::new(current.max(1), "file with no instructions"));
    }
    Ok(Ast { directives: d.finish(), nodes, warnings })
}

fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

#[derive(Default)]
struct DirectiveState {
    escape: char,
    done: bool,
    seen: Vec<String>,
    syntax: Option<String>,
    check: Option<String>,
}

impl DirectiveState {
    /// Takes `line` as a directive while the file's first lines are directives.
    fn consider(&mut self, line: &str) -> Result<(), String> {
        if self.escape == '\0' {
            self.escape = '\\';
        }
        if self.done {
            return Ok(());
        }
        let Some((key, value)) = directive(line) else {
            self.done = true;
            return Ok(());
        };
        let key = key.to_ascii_lowercase();
        if !matches!(key.as_str(), "escape" | "syntax" | "check") {
            self.done = true;
            return Ok(());
        }
        if self.seen.contains(&key) {
            return Err(format!("only one {key} parser directive can be used"));
        }
        self.seen.push(key.clone());
        match key.as_str() {
            "escape" => match value {
                "\\" => self.escape = '\\',
                "`" => self.escape = '`',
                other => return Err(format!("invalid escape token '{other}' does not match ` or \\")),
            },
            "syntax" => self.syntax = Some(value.to_string()),
            _ => self.check = Some(value.to_string()),
        }
        Ok(())
    }

    /// The line without a trailing continuation (the escape character, then only blanks, not
    /// itself escaped), and whether the instruction ends with it.
    fn trim_continuation(&mut self, line: &str) -> (String, bool) {
        if self.escape == '\0' {
            self.escape = '\\';
        }
        let body = line.trim_end_matches([' ', '\t']);
        match body.strip_suffix(self.escape) {
            Some(rest) if rest.is_empty() || !rest.ends_with(self.escape) => (rest.to_string(), false),
            _ => (line.to_string(), true),
        }
    }

    fn finish(self) -> Directives {
        Directives {
            escape: if self.escape == '\0' { '\\' } else { self.escape },
            syntax: self.syntax,
            check: self.check,
        }
    }
}

/// `# key = value` with a key of letters and digits starting with a letter.
fn directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start();
    let key_len = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
    let key = &rest[..key_len];
    if !key.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let value = rest[key_len..].trim_start().strip_prefix('=')?.trim();
    (!value.is_empty()).then_some((key, value))
}

const BLANKS: [char; 5] = ['\t', '\u{b}', '\u{c}', '\r', ' '];

/// An instruction's line split into keyword, flags and arguments in its form.
fn node_from_line(line: &str, escape: char) -> Result<Node, String> {
    let line_trimmed = line.trim();
    let (word, rest) = match line_trimmed.split_once(BLANKS) {
        Some((w, r)) => (w, r.trim_start_matches(BLANKS)),
        None => (line_trimmed, ""),
    };
    let keyword = word.to_ascii_lowercase();
    let (rest, flags) = if rest.is_empty() { (String::new(), Vec::new()) } else { builder_flags(rest) };
    let rest = rest.trim();
    let mut node = Node {
        keyword: keyword.clone(),
        flags,
        args: Vec::new(),
        json: false,
        heredocs: Vec::new(),
        original: line.to_string(),
        start_line: 0,
        end_line: 0,
        trigger: None,
    };
    match keyword.as_str() {
        "add" | "copy" | "volume" => match json_array(rest)? {
            Some(items) => (node.args, node.json) = (items, true),
            None => node.args = split_blanks(rest),
        },
        "cmd" | "entrypoint" | "run" | "shell" => match json_array(rest)? {
            Some(items) => (node.args, node.json) = (items, true),
            None if rest.is_empty() => {}
            None => node.args = vec![rest.to_string()],
        },
        "arg" => node.args = quoted_words(rest, escape),
        "env" | "label" => node.args = name_values(rest, &keyword.to_ascii_uppercase(), escape)?,
        "expose" | "from" => node.args = split_blanks(rest),
        "maintainer" | "stopsignal" | "user" | "workdir" if !rest.is_empty() => {
            node.args = vec![rest.to_string()]
        }
        "healthcheck" if !rest.is_empty() => {
            let (kind, cmd) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            let cmd = cmd.trim_start();
            node.args.push(kind.to_string());
            match json_array(cmd)? {
                Some(items) => {
                    node.json = true;
                    node.args.extend(items);
                }
                None if cmd.is_empty() => {}
                None => node.args.push(cmd.to_string()),
            }
        }
        "onbuild" if !rest.is_empty() => {
            let trigger = node_from_line(rest, escape)?;
            node.args.push(trigger.keyword.clone());
            node.args.extend(trigger.args.iter().cloned());
            node.json = trigger.json;
            node.trigger = Some(Box::new(trigger));
        }
        _ => {}
    }
    Ok(node)
}

impl Node {
    fn may_have_heredocs(&self) -> bool {
        let node = self.trigger.as_deref().filter(|_| self.keyword == "onbuild").unwrap_or(self);
        matches!(node.keyword.as_str(), "run" | "copy" | "add") && !node.json
    }
}

fn split_blanks(s: &str) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    s.split(BLANKS).filter(|w| !w.is_empty()).map(str::to_string).collect()
}

/// A JSON array of strings at the start of `s` (what follows it is ignored, as Go's decoder
/// ignores it); `None` when `s` is not one.
fn json_array(s: &str) -> Result<Option<Vec<String>>, String> {
    if !s.starts_with('[') {
        return Ok(None);
    }
    let mut values = serde_json::Deserializer::from_str(s).into_iter::<serde_json::Value>();
    let Some(Ok(serde_json::Value::Array(items))) = values.next() else { return Ok(None) };
    items
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err("when using JSON array syntax, arrays must be comprised of strings only".to_string()),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `--name=value` words leading the arguments (quotes and `\` understood, `--` ends them);
/// the rest of the line and the flags.
fn builder_flags(line: &str) -> (String, Vec<String>) {
    let mut flags = Vec::new();
    let mut rest = line;
    loop {
        rest = rest.trim_start_matches(char::is_whitespace);
        if !rest.starts_with("--") {
            return (rest.to_string(), flags);
        }
        let (mut word, mut quote, mut end) = (String::new(), None::<char>, rest.len());
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match quote {
                None if c.is_whitespace() => {
                    end = i;
                    break;
                }
                None if c == '\'' || c == '"' => quote = Some(c),
                Some(q) if c == q => quote = None,
                _ if c == '\\' && quote != Some('\'') => word.extend(chars.next().map(|(_, n)| n)),
                _ => word.push(c),
            }
        }
        rest = &rest[end..];
        if word == "--" {
            return (rest.to_string(), flags);
        }
        flags.push(word);
    }
}

/// Words split on blanks, quotes kept (they are removed when the words are expanded).
fn quoted_words(rest: &str, escape: char) -> Vec<String> {
    let (mut words, mut word, mut quote, mut blank_ok) = (Vec::new(), String::new(), None, false);
    let mut chars = rest.chars().peekable();
    while let Some(ch) = chars.next() {
        match quote {
            None if ch.is_whitespace() => {
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                blank_ok = false;
                continue;
            }
            None if ch == '\'' || ch == '"' => {
                quote = Some(ch);
                blank_ok = true;
            }
            Some(q) if ch == q => quote = None,
            _ => {}
        }
        if ch == escape && quote != Some('\'') {
            match chars.next() {
                None => continue,
                Some(n) => {
                    word.push(ch);
                    word.push(n);
                    continue;
                }
            }
        }
        word.push(ch);
    }
    if blank_ok || !word.is_empty() {
        words.push(word);
    }
    words
}

/// ENV and LABEL: `key=value …` or the legacy `KEY value with spaces`; key, value pairs.
fn name_values(rest: &str, keyword: &str, escape: char) -> Result<Vec<String>, String> {
    let words = quoted_words(rest, escape);
    if words.is_empty() {
        return Ok(Vec::new());
    }
    if !words[0].contains('=') {
        let Some((k, v)) = rest.split_once(BLANKS) else {
            return Err(format!("{keyword} must have two arguments"));
        };
        return Ok(vec![k.to_string(), v.trim_start_matches(BLANKS).to_string()]);
    }
    let mut out = Vec::new();
    for w in words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(format!("Syntax error - can't find = in {w:?}. Must be of the form: name=value"));
        };
        out.push(k.to_string());
        out.push(v.to_string());
    }
    Ok(out)
}

/// The heredocs a RUN, COPY or ADD line opens, in order.
fn heredocs_in(line: &str) -> Result<Vec<Heredoc>, String> {
    let raw = Lexer { raw_quotes: true, raw_escapes: true, skip_unset: true, ..Lexer::new('\\') };
    let words = raw.words(line, &|_| None).unwrap_or_default();
    let mut out = Vec::new();
    for w in words {
        if let Some(doc) = heredoc_word(&w)? {
            out.push(doc);
        }
    }
    Ok(out)
}

/// `[n]<<[-]NAME` as one word: the heredoc it opens.
pub fn heredoc_word(word: &str) -> Result<Option<Heredoc>, String> {
    let digits = word.find(|c: char| !c.is_ascii_digit()).unwrap_or(word.len());
    let Some(after) = word[digits..].strip_prefix("<<") else { return Ok(None) };
    let (chomp, rest) = match after.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, after),
    };
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let plain = Lexer { skip_unset: true, ..Lexer::new('\\') };
    let words = plain.words(rest, &|_| None).map_err(|e| e.to_string())?;
    let [name] = words.as_slice() else { return Ok(None) };
    let raw = Lexer { raw_quotes: true, ..plain };
    let raw_words = raw.words(rest, &|_| None).map_err(|e| e.to_string())?;
    let quotes = |s: &str| s.matches(['\'', '"']).count();
    let expand = raw_words.first().is_some_and(|r| quotes(r) == quotes(name));
    Ok(Some(Heredoc {
        name: name.clone(),
        fd: word[..digits].parse().ok(),
        expand,
        chomp,
        content: String::new(),
    }))
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
