use super::*;

fn strs_of(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn one(text: &str) -> Node {
    let ast = parse(text).unwrap();
    assert_eq!(ast.nodes.len(), 1, "{text:?}: {:?}", ast.nodes);
    ast.nodes.into_iter().next().unwrap()
}

#[test]
fn each_instruction_gets_its_arguments_in_its_form() {
    for (text, keyword, args, json) in [
        ("FROM busybox AS base", "from", &["busybox", "AS", "base"][..], false),
        ("from\tbusybox", "from", &["busybox"], false),
        ("RUN echo hi  there", "run", &["echo hi  there"], false),
        ("RUN [\"echo\", \"hi\"]", "run", &["echo", "hi"], true),
        ("RUN [\"echo\"] ignored", "run", &["echo"], true),
        ("RUN [echo]", "run", &["[echo]"], false),
        ("CMD [ ]", "cmd", &[], true),
        ("ENTRYPOINT", "entrypoint", &[], false),
        ("COPY a b /c/", "copy", &["a", "b", "/c/"], false),
        ("COPY [\"a b\", \"/c\"]", "copy", &["a b", "/c"], true),
        ("VOLUME /a /b", "volume", &["/a", "/b"], false),
        ("ENV A=1 B=\"2 3\"", "env", &["A", "1", "B", "\"2 3\""], false),
        ("ENV A 1 2  3", "env", &["A", "1 2  3"], false),
        ("LABEL a.b=c \"d e\"=f", "label", &["a.b", "c", "\"d e\"", "f"], false),
        ("ARG A B=2 C=\"x y\"", "arg", &["A", "B=2", "C=\"x y\""], false),
        ("EXPOSE 80/tcp  443", "expose", &["80/tcp", "443"], false),
        ("WORKDIR /a b", "workdir", &["/a b"], false),
        ("USER 1:2", "user", &["1:2"], false),
        ("STOPSIGNAL SIGKILL", "stopsignal", &["SIGKILL"], false),
        ("MAINTAINER Me <me@x>", "maintainer", &["Me <me@x>"], false),
        ("HEALTHCHECK NONE", "healthcheck", &["NONE"], false),
        ("HEALTHCHECK CMD curl -f x", "healthcheck", &["CMD", "curl -f x"], false),
        ("HEALTHCHECK CMD [\"true\"]", "healthcheck", &["CMD", "true"], true),
        ("SHELL [\"/bin/bash\", \"-c\"]", "shell", &["/bin/bash", "-c"], true),
        ("ONBUILD RUN make", "onbuild", &["run", "make"], false),
        ("ECHO hi", "echo", &[], false),
    ] {
        let n = one(text);
        let got: Vec<&str> = n.args.iter().map(String::as_str).collect();
        assert_eq!((n.keyword.as_str(), got.as_slice(), n.json), (keyword, args, json), "{text}");
    }
}

#[test]
fn flags_lead_the_arguments() {
    for (text, flags, args) in [
        ("COPY --from=build --chown=1:2 a b", &["--from=build", "--chown=1:2"][..], &["a", "b"][..]),
        ("COPY --link a b", &["--link"], &["a", "b"]),
        (
            "RUN --mount=type=cache,target=/c --network=none make",
            &["--mount=type=cache,target=/c", "--network=none"],
            &["make"],
        ),
        ("RUN --mount=\"type=bind,source=a b\" ls", &["--mount=type=bind,source=a b"], &["ls"]),
        ("RUN -- --not-a-flag", &[], &["--not-a-flag"]),
        ("FROM --platform=$BUILDPLATFORM x", &["--platform=$BUILDPLATFORM"], &["x"]),
        ("RUN echo --x", &[], &["echo --x"]),
    ] {
        let n = one(text);
        let strs = |v: &[String]| v.iter().map(String::clone).collect::<Vec<_>>();
        assert_eq!((strs(&n.flags), strs(&n.args)), (strs_of(flags), strs_of(args)), "{text}");
    }
}

#[test]
fn lines_continue_and_comments_vanish() {
    let ast = parse(
        "# a comment\n\nFROM busybox\nRUN echo a \\\n  # not part\n  b \\  \n\n    c\n  # indented comment\nRUN x\\\\\nCMD y\n",
    )
    .unwrap();
    let got: Vec<_> =
        ast.nodes.iter().map(|n| (n.keyword.as_str(), n.args.clone(), n.start_line, n.end_line)).collect();
    assert_eq!(
        got,
        [
            ("from", vec!["busybox".to_string()], 3, 3),
            ("run", vec!["echo a   b     c".to_string()], 4, 8),
            ("run", vec!["x\\\\".to_string()], 10, 10),
            ("cmd", vec!["y".to_string()], 11, 11),
        ]
    );
    assert_eq!(ast.warnings.len(), 2, "{:?}", ast.warnings);
    assert!(ast.warnings[0].starts_with("[WARNING]: Empty continuation line found in:\n    RUN echo a"));
}

#[test]
fn directives_come_first_and_once() {
    let ast =
        parse("# syntax=docker/dockerfile:1\n#escape=`\n# check=skip=all\nFROM x\nRUN a `\n  b\n").unwrap();
    assert_eq!(ast.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(ast.directives.check.as_deref(), Some("skip=all"));
    assert_eq!(ast.directives.escape, '`');
    assert_eq!(ast.nodes[1].args, ["a   b"]);
    // After a comment or instruction, a directive is a comment.
    let ast = parse("# hello\n# escape=`\nFROM x\nRUN a \\\n b\n").unwrap();
    assert_eq!(ast.directives.escape, '\\');
    assert_eq!(ast.nodes[1].args, ["a  b"]);
    // Unknown directives end the directives.
    let ast = parse("# foo=bar\n# escape=`\nFROM x\n").unwrap();
    assert_eq!(ast.directives.escape, '\\');
    for (text, message) in [
        ("# escape=`\n# escape=\\\nFROM x", "dockerfile parse error on line 2: only one escape parser directive can be used"),
        ("# escape=x\nFROM x", "dockerfile parse error on line 1: invalid escape token 'x' does not match ` or \\"),
        ("", "dockerfile parse error on line 1: file with no instructions"),
        ("# only\n\n", "dockerfile parse error on line 2: file with no instructions"),
        (
            "FROM x\nENV A=1 B",
            "dockerfile parse error on line 2: Syntax error - can't find = in \"B\". Must be of the form: name=value",
        ),
        ("FROM x\n\nENV A", "dockerfile parse error on line 3: ENV must have two arguments"),
        (
            "FROM x\nCMD [\"a\", 1]",
            "dockerfile parse error on line 2: when using JSON array syntax, arrays must be comprised of strings only",
        ),
        ("FROM x\nRUN <<EOF\nnever ends\n", "dockerfile parse error on line 2: unterminated heredoc"),
    ] {
        assert_eq!(parse(text).unwrap_err().to_string(), message, "{text:?}");
    }
}

#[test]
fn heredocs_are_read_after_their_line() {
    let ast = parse(
        "FROM x\nRUN <<EOF\necho $HOME\n  EOF\nEOF\nCOPY <<-\"A\" 3<<B /dst/\n\tone\n\tA\ntwo\nB\nRUN [\"<<EOF\"]\nRUN cat <<EOF >/x && echo <<EOF2\n",
    );
    let e = ast.unwrap_err();
    assert_eq!(e.to_string(), "dockerfile parse error on line 12: unterminated heredoc");
    let ast = parse(
        "FROM x\nRUN <<EOF\necho $HOME\n  EOF\nEOF\nCOPY <<-\"A\" 3<<B /dst/\n\tone\n\tA\ntwo\nB\nRUN [\"<<EOF\"]\nCMD x\n",
    )
    .unwrap();
    let run = &ast.nodes[1];
    assert_eq!(run.args, ["<<EOF"]);
    assert_eq!(
        run.heredocs,
        [Heredoc {
            name: "EOF".into(),
            fd: None,
            expand: true,
            chomp: false,
            content: "echo $HOME\n  EOF\n".into()
        }]
    );
    assert_eq!((run.start_line, run.end_line), (2, 5));
    let copy = &ast.nodes[2];
    assert_eq!(copy.args, ["<<-\"A\"", "3<<B", "/dst/"]);
    assert_eq!(copy.heredocs.len(), 2);
    assert_eq!(
        (copy.heredocs[0].name.as_str(), copy.heredocs[0].expand, copy.heredocs[0].chomp),
        ("A", false, true)
    );
    assert_eq!(copy.heredocs[0].text(), "one\n");
    assert_eq!(
        (copy.heredocs[1].name.as_str(), copy.heredocs[1].fd, copy.heredocs[1].content.as_str()),
        ("B", Some(3), "two\n")
    );
    assert!(ast.nodes[3].heredocs.is_empty(), "exec form has no heredocs");
    assert_eq!(ast.nodes[4].keyword, "cmd");
}

#[test]
fn heredoc_words_are_recognised_as_buildkit_does() {
    for (word, want) in [
        ("<<EOF", Some(("EOF", true, false, None))),
        ("<<-EOF", Some(("EOF", true, true, None))),
        ("<<'EOF'", Some(("EOF", false, false, None))),
        ("<<E\"O\"F", Some(("EOF", false, false, None))),
        ("2<<EOF", Some(("EOF", true, false, Some(2)))),
        ("<<", None),
        ("<<<EOF", None),
        ("a<<EOF", None),
        ("<<'a b'", Some(("a b", false, false, None))),
    ] {
        let got = heredoc_word(word).unwrap();
        let got = got.as_ref().map(|h| (h.name.as_str(), h.expand, h.chomp, h.fd));
        assert_eq!(got, want, "{word}");
    }
}

#[test]
fn a_byte_order_mark_and_crlf_endings_are_read_through() {
    let ast = parse("\u{feff}FROM x\r\nRUN a \\\r\n b\r\n").unwrap();
    assert_eq!(ast.nodes[0].args, ["x"]);
    assert_eq!(ast.nodes[1].args, ["a  b"]);
}
