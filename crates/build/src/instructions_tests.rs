use super::*;

fn only(text: &str) -> Instruction {
    let df = parse(&format!("FROM x\n{text}")).unwrap();
    df.stages[0].commands[0].instruction.clone()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn stages_and_meta_args() {
    let df = parse(
        "ARG BASE=busybox\nARG TAG\nFROM --platform=$BUILDPLATFORM ${BASE}:${TAG} AS Build\nRUN make\nFROM scratch\nCOPY --from=build /out /\n",
    )
    .unwrap();
    assert_eq!(
        df.meta_args,
        [
            ArgDef { name: "BASE".into(), default: Some("busybox".into()) },
            ArgDef { name: "TAG".into(), default: None }
        ]
    );
    assert_eq!(df.stages.len(), 2);
    let s = &df.stages[0];
    assert_eq!(
        (s.base.as_str(), s.name.as_deref(), s.platform.as_deref(), s.line, s.commands.len()),
        ("${BASE}:${TAG}", Some("build"), Some("$BUILDPLATFORM"), 3, 1)
    );
    assert_eq!(df.stages[1].name, None);
    assert_eq!(df.stages[1].commands[0].line, 6);
}

#[test]
fn instructions_are_typed() {
    assert_eq!(
        only("ENV A=1 B=\"x y\""),
        Instruction::Env(vec![("A".into(), "1".into()), ("B".into(), "\"x y\"".into())])
    );
    assert_eq!(only("LABEL a=b"), Instruction::Label(vec![("a".into(), "b".into())]));
    assert_eq!(only("MAINTAINER me"), Instruction::Maintainer("me".into()));
    assert_eq!(only("WORKDIR /app"), Instruction::Workdir("/app".into()));
    assert_eq!(only("USER nobody"), Instruction::User("nobody".into()));
    assert_eq!(only("STOPSIGNAL SIGTERM"), Instruction::StopSignal("SIGTERM".into()));
    assert_eq!(only("EXPOSE 8080 443/tcp 80"), Instruction::Expose(strings(&["443/tcp", "80", "8080"])));
    assert_eq!(only("VOLUME [\"/a\", \"/b\"]"), Instruction::Volume(strings(&["/a", "/b"])));
    assert_eq!(only("SHELL [\"/bin/bash\", \"-c\"]"), Instruction::Shell(strings(&["/bin/bash", "-c"])));
    assert_eq!(only("ONBUILD  RUN make all"), Instruction::Onbuild("RUN make all".into()));
    assert_eq!(
        only("CMD echo  hi"),
        Instruction::Cmd(CommandLine { args: strings(&["echo  hi"]), shell: true, files: vec![] })
    );
    assert_eq!(
        only("ENTRYPOINT [\"/bin/app\", \"--flag\"]"),
        Instruction::Entrypoint(CommandLine {
            args: strings(&["/bin/app", "--flag"]),
            shell: false,
            files: vec![]
        })
    );
    let Instruction::Run(run) =
        only("RUN --mount=type=cache,target=/c --network=none --mount=type=tmpfs,target=/t make")
    else {
        panic!("a run")
    };
    assert_eq!(run.mounts, ["type=cache,target=/c", "type=tmpfs,target=/t"]);
    assert_eq!(run.network.as_deref(), Some("none"));
    assert_eq!(run.command.args, ["make"]);
    let Instruction::Copy(c) =
        only("COPY --from=build --chown=1:2 --chmod=u+x --link --exclude=*.md a b /dst/")
    else {
        panic!("a copy")
    };
    assert_eq!(
        c,
        Transfer {
            sources: strings(&["a", "b"]),
            dest: "/dst/".into(),
            from: Some("build".into()),
            chown: Some("1:2".into()),
            chmod: Some("u+x".into()),
            link: true,
            exclude: strings(&["*.md"]),
            ..Transfer::default()
        }
    );
    let Instruction::Add(a) = only("ADD --checksum=sha256:abc --keep-git-dir https://x/y.tgz /y") else {
        panic!("an add")
    };
    assert_eq!((a.checksum.as_deref(), a.keep_git_dir), (Some("sha256:abc"), true));
}

#[test]
fn args_keep_their_optional_defaults() {
    assert_eq!(
        only("ARG A B= C=1"),
        Instruction::Arg(vec![
            ArgDef { name: "A".into(), default: None },
            ArgDef { name: "B".into(), default: Some(String::new()) },
            ArgDef { name: "C".into(), default: Some("1".into()) },
        ])
    );
}

#[test]
fn heredocs_become_scripts_and_inline_files() {
    let df =
        parse("FROM x\nRUN <<EOF\necho hi\nEOF\nCOPY <<-one <<'two' /etc/\n\tfirst\n\tone\n$HOME\ntwo\n")
            .unwrap();
    let Instruction::Run(run) = &df.stages[0].commands[0].instruction else { panic!("a run") };
    assert_eq!(run.command.args, ["<<EOF"]);
    assert_eq!(run.command.files[0].content, "echo hi\n");
    let Instruction::Copy(c) = &df.stages[0].commands[1].instruction else { panic!("a copy") };
    assert!(c.sources.is_empty());
    assert_eq!(
        c.inline,
        [
            InlineFile { name: "one".into(), data: "first\n".into(), expand: true },
            InlineFile { name: "two".into(), data: "$HOME\n".into(), expand: false },
        ]
    );
}

#[test]
fn healthchecks_as_docker_stores_them() {
    assert_eq!(only("HEALTHCHECK NONE"), Instruction::Healthcheck(Health::None));
    assert_eq!(
        only("HEALTHCHECK --interval=5s --timeout=1.5s --start-period=1m --retries=3 CMD curl -f http://x/ || exit 1"),
        Instruction::Healthcheck(Health::Check {
            test: strings(&["CMD-SHELL", "curl -f http://x/ || exit 1"]),
            interval: Some(Duration::from_secs(5)),
            timeout: Some(Duration::from_millis(1500)),
            start_period: Some(Duration::from_secs(60)),
            start_interval: None,
            retries: Some(3),
        })
    );
    let Instruction::Healthcheck(Health::Check { test, .. }) =
        only("HEALTHCHECK CMD [\"/bin/check\", \"-q\"]")
    else {
        panic!("a check")
    };
    assert_eq!(test, ["CMD", "/bin/check", "-q"]);
}

#[test]
fn mistakes_are_told_with_buildkits_words_and_the_line() {
    for (text, message) in [
        ("FROM x\nECHO hi", "dockerfile parse error on line 2: unknown instruction: ECHO"),
        ("RUN x", "dockerfile parse error on line 1: no build stage in current context: start with FROM (ARG may come before it)"),
        ("ARG A", "dockerfile parse error on line 1: no build stage in current context: the Dockerfile has no FROM"),
        ("FROM", "dockerfile parse error on line 1: FROM requires either one or three arguments"),
        ("FROM a b", "dockerfile parse error on line 1: FROM requires either one or three arguments"),
        ("FROM a AS 1x", "dockerfile parse error on line 1: invalid name for build stage: \"1x\", name can't start with a number or contain symbols"),
        ("FROM a AS b\nFROM c AS B", "dockerfile parse error on line 2: duplicate stage name \"b\""),
        ("FROM --plat=x a", "dockerfile parse error on line 1: unknown flag: plat"),
        ("FROM a\nCOPY onlyone", "dockerfile parse error on line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined"),
        ("FROM a\nCOPY a <<EOF\nx\nEOF", "dockerfile parse error on line 2: COPY cannot accept a heredoc as a destination"),
        ("FROM a\nCOPY --checksum=x a b", "dockerfile parse error on line 2: unknown flag: checksum"),
        ("FROM a\nADD --link=maybe a b", "dockerfile parse error on line 2: expecting boolean value for flag link, not: maybe"),
        ("FROM a\nRUN --network=bridge x", "dockerfile parse error on line 2: unsupported network mode \"bridge\": use none, host or default"),
        ("FROM a\nWORKDIR", "dockerfile parse error on line 2: WORKDIR requires exactly one argument"),
        ("FROM a\nUSER", "dockerfile parse error on line 2: USER requires exactly one argument"),
        ("FROM a\nEXPOSE", "dockerfile parse error on line 2: EXPOSE requires at least one argument"),
        ("FROM a\nENV", "dockerfile parse error on line 2: ENV requires at least one argument"),
        ("FROM a\nENV =x", "dockerfile parse error on line 2: ENV names can not be blank"),
        ("FROM a\nARG =x", "dockerfile parse error on line 2: ARG names can not be blank"),
        ("FROM a\nSHELL /bin/sh -c", "dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form"),
        ("FROM a\nONBUILD ONBUILD RUN x", "dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("FROM a\nONBUILD FROM x", "dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger"),
        ("FROM a\nHEALTHCHECK NONE x", "dockerfile parse error on line 2: HEALTHCHECK NONE takes no arguments"),
        ("FROM a\nHEALTHCHECK RUN x", "dockerfile parse error on line 2: Unknown type \"RUN\" in HEALTHCHECK (try CMD)"),
        ("FROM a\nHEALTHCHECK CMD", "dockerfile parse error on line 2: Missing command after HEALTHCHECK CMD"),
        ("FROM a\nHEALTHCHECK --interval=0s CMD x", "dockerfile parse error on line 2: Interval \"interval\" cannot be less than 1ms"),
        ("FROM a\nHEALTHCHECK --retries=0 CMD x", "dockerfile parse error on line 2: --retries must be at least 1 (not 0)"),
        ("FROM a\nHEALTHCHECK --timeout=5 CMD x", "dockerfile parse error on line 2: time: missing unit in duration \"5\""),
        ("FROM a\nVOLUME [\"\"]", "dockerfile parse error on line 2: VOLUME specified can not be an empty string"),
        ("FROM a\nWORKDIR --x=1 /a", "dockerfile parse error on line 2: unknown flag: x"),
    ] {
        assert_eq!(parse(text).unwrap_err().to_string(), message, "{text:?}");
    }
}

#[test]
fn onbuild_triggers_read_as_the_instructions_they_run() {
    let table: &[(&str, Result<&str, &str>)] = &[
        ("RUN echo hi", Ok("Run")),
        ("COPY a /b", Ok("Copy")),
        ("ENV A=1", Ok("Env")),
        ("FROM busybox", Err("FROM isn't allowed as an ONBUILD trigger")),
        ("ONBUILD RUN x", Err("ONBUILD isn't allowed as an ONBUILD trigger")),
        ("MAINTAINER me", Err("MAINTAINER isn't allowed as an ONBUILD trigger")),
        ("RUN a\nRUN b", Err("invalid ONBUILD trigger \"RUN a\\nRUN b\": it must be one instruction")),
    ];
    for (text, want) in table {
        let got = trigger(text).map(|i| format!("{i:?}").split('(').next().unwrap_or_default().to_string());
        assert_eq!(got.as_deref().map_err(String::as_str), *want, "{text}");
    }
}
