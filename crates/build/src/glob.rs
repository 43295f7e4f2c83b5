//! Wildcard patterns matched in linear time (a set of positions in the pattern carried along
//! the text, as a regular expression engine would), for `.dockerignore` and the shell lexer's
//! `${…#…}` patterns: no input can make a match take exponential time. Pure.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Char(char),
    /// One character (`/` too when `cross`).
    One {
        cross: bool,
    },
    /// Any run of characters (`/` too when `cross`).
    Star {
        cross: bool,
    },
    /// `**/` inside a path pattern: nothing, or anything ending with `/`.
    AnyDirs,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// `ends[k]`: whether the pattern matches `s[..k]`.
pub(crate) fn match_ends(p: &[Token], s: &[char]) -> Vec<bool> {
    let n = p.len();
    let mut at = vec![false; n + 1];
    // Inside an `AnyDirs`, waiting for the `/` that ends it.
    let mut inside = vec![false; n + 1];
    at[0] = true;
    close(p, &mut at);
    let mut ends = Vec::with_capacity(s.len() + 1);
    ends.push(at[n]);
    for &c in s {
        let (mut next, mut next_inside) = (vec![false; n + 1], vec![false; n + 1]);
        for i in 0..n {
            if inside[i] {
                next_inside[i] = true;
                next[i + 1] |= c == '/';
            }
            if !at[i] {
                continue;
            }
            match &p[i] {
                Token::Char(x) => next[i + 1] |= *x == c,
                Token::One { cross } => next[i + 1] |= *cross || c != '/',
                Token::Star { cross } => next[i] |= *cross || c != '/',
                Token::AnyDirs => {
                    next_inside[i] = true;
                    next[i + 1] |= c == '/';
                }
                Token::Class { negated, ranges } => {
                    next[i + 1] |= ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated;
                }
            }
        }
        close(p, &mut next);
        (at, inside) = (next, next_inside);
        ends.push(at[n]);
    }
    ends
}

/// Whether the pattern matches the whole of `s`.
pub(crate) fn matches(p: &[Token], s: &[char]) -> bool {
    match_ends(p, s).last().copied().unwrap_or(false)
}

/// Steps that consume nothing: past a `*` or a `**/`.
fn close(p: &[Token], at: &mut [bool]) {
    for i in 0..p.len() {
        if at[i] && matches!(p[i], Token::Star { .. } | Token::AnyDirs) {
            at[i + 1] = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_stars_match_in_linear_time() {
        let p: Vec<Token> = std::iter::repeat_n([Token::Star { cross: true }, Token::Char('a')], 40)
            .flatten()
            .chain([Token::Char('b')])
            .collect();
        let s: Vec<char> = std::iter::repeat_n('a', 20_000).collect();
        let t = std::time::Instant::now();
        assert!(!matches(&p, &s));
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
    }
}
