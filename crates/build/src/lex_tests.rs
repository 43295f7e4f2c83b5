use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "PWD" => Some("/home".into()),
        "SHELL" => Some("bash".into()),
        "EMPTY" => Some(String::new()),
        "PATH" => Some("/usr/local/bin:/usr/bin:/bin".into()),
        "FILE" => Some("archive.tar.gz".into()),
        "SPACED" => Some("a  b c".into()),
        _ => None,
    }
}

#[test]
fn words_expand_as_buildkit_expands_them() {
    let lx = Lexer::new('\\');
    for (input, want) in [
        ("hello", "hello"),
        ("he'll'o", "hello"),
        ("he\"ll\"o", "hello"),
        ("'$PWD'", "$PWD"),
        ("\"$PWD\"", "/home"),
        ("$PWD", "/home"),
        ("${PWD}", "/home"),
        ("${PWD}x", "/homex"),
        ("$PWDx", ""),
        ("\\$PWD", "$PWD"),
        ("\"\\$PWD\"", "$PWD"),
        ("\"\\x\"", "\\x"),
        ("\"a\\\"b\"", "a\"b"),
        ("a\\ b", "a b"),
        ("$", "$"),
        ("$.", "$."),
        ("${UNSET}", ""),
        ("${UNSET:-x y}", "x y"),
        ("${UNSET-x}", "x"),
        ("${EMPTY-x}", ""),
        ("${EMPTY:-x}", "x"),
        ("${PWD:-x}", "/home"),
        ("${PWD:+x}", "x"),
        ("${PWD+x}", "x"),
        ("${EMPTY+x}", "x"),
        ("${EMPTY:+x}", ""),
        ("${UNSET:+x}", ""),
        ("${UNSET:-$PWD}", "/home"),
        ("${UNSET:-'$PWD'}", "$PWD"),
        ("${PWD:?oops}", "/home"),
        ("${FILE#*.}", "tar.gz"),
        ("${FILE##*.}", "gz"),
        ("${FILE%.*}", "archive.tar"),
        ("${FILE%%.*}", "archive"),
        ("${FILE#nothing}", "archive.tar.gz"),
        ("${FILE#a?c}", "hive.tar.gz"),
        ("${PATH/bin/sbin}", "/usr/local/sbin:/usr/bin:/bin"),
        ("${PATH//bin/sbin}", "/usr/local/sbin:/usr/sbin:/sbin"),
        ("${PATH//\\/usr/}", "/local/bin:/bin:/bin"),
        ("${UNSET/a/b}", ""),
        ("${SHELL/#b/z}", "bash"),
        ("$1", ""),
        ("$12x", "x"),
        ("x\\", "x"),
    ] {
        assert_eq!(lx.word(input, &env).as_deref(), Ok(want), "{input}");
    }
}

#[test]
fn a_backtick_escape_leaves_backslashes_alone() {
    let lx = Lexer::new('`');
    for (input, want) in [("C:\\dir", "C:\\dir"), ("a` b", "a b"), ("`$PWD", "$PWD"), ("\"`\"\"", "\"")] {
        assert_eq!(lx.word(input, &env).as_deref(), Ok(want), "{input}");
    }
}

#[test]
fn words_split_after_expansion_except_where_quoted() {
    let lx = Lexer::new('\\');
    for (input, want) in [
        ("a b  c", &["a", "b", "c"][..]),
        ("$SPACED", &["a", "b", "c"]),
        ("\"$SPACED\"", &["a  b c"]),
        ("x$SPACED", &["xa", "b", "c"]),
        ("'a b' c", &["a b", "c"]),
        ("a\\ b c", &["a b", "c"]),
        ("  ", &[]),
        ("\"\"", &[]),
        ("${UNSET:-1 2}", &["1", "2"]),
    ] {
        assert_eq!(lx.words(input, &env).unwrap(), want, "{input}");
    }
}

#[test]
fn bad_words_fail_with_buildkits_messages() {
    let lx = Lexer::new('\\');
    for (input, reason) in [
        ("'abc", "unexpected end of statement while looking for matching single-quote"),
        ("\"abc", "unexpected end of statement while looking for matching double-quote"),
        ("${", "syntax error: missing '}'"),
        ("${PWD", "syntax error: missing '}'"),
        ("${PWD:-x", "syntax error: missing '}'"),
        ("${}", "syntax error: bad substitution"),
        ("${:x}", "syntax error: bad substitution"),
        ("${PWD!x}", "unsupported modifier (!) in substitution"),
        ("${PWD:=x}", "unsupported modifier (:=) in substitution"),
        ("${UNSET?}", "UNSET: is not allowed to be unset"),
        ("${UNSET:?must be set}", "UNSET: must be set"),
        ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
        ("${PATH/x}", "syntax error: missing '/' in ${}"),
        ("${PATH#\\x}", "invalid pattern (\\x) in substitution: invalid escape '\\x'"),
    ] {
        let e = lx.word(input, &env).unwrap_err();
        assert_eq!(e.reason, reason, "{input}");
        assert_eq!(e.to_string(), format!("failed to process {input:?}: {reason}"));
    }
}

#[test]
fn unset_variables_are_reported_and_can_be_kept_as_written() {
    let lx = Lexer::new('\\');
    let e = lx.expand("$PWD $NOPE ${ALSO:-x}", &env).unwrap();
    assert_eq!(e.unmatched, ["ALSO", "NOPE"].iter().map(|s| s.to_string()).collect());
    let keep = Lexer { skip_unset: true, ..Lexer::new('\\') };
    for (input, want) in
        [("$NOPE", "$NOPE"), ("${NOPE}", "${NOPE}"), ("${NOPE:-x}", "${NOPE:-x}"), ("$PWD", "/home")]
    {
        assert_eq!(keep.word(input, &env).as_deref(), Ok(want), "{input}");
    }
}

#[test]
fn raw_quotes_and_escapes_are_kept_when_asked() {
    let raw = Lexer { raw_quotes: true, raw_escapes: true, ..Lexer::new('\\') };
    assert_eq!(raw.words("a 'b c' \"d\" e\\ f", &env).unwrap(), ["a", "'b c'", "\"d\"", "e\\ f"]);
}
