//! What an image's history says each step did (`created_by`) and the command a shell-form
//! CMD or ENTRYPOINT becomes, written as Docker's classic builder writes them, so that
//! `docker history` of a berth build reads as Docker's: metadata steps as
//! `<shell> #(nop)  ENV A=1` (one space before WORKDIR, COPY and ADD), RUN steps as their
//! command, prefixed `|N K=V …` with the build args they saw, values in Go's formatting where
//! Docker prints Go values. Pure.

use std::time::Duration;

use crate::instructions::{Health, Instruction};

/// The history line of `instruction` (expanded), run under `shell` (the stage's SHELL), with
/// `args` the declared build args with values (`K=V`); `sources` names COPY and ADD's
/// content (`file:<hex>`, `dir:<hex>`, `multi:<hex>`).
pub fn created_by(instruction: &Instruction, shell: &[String], args: &[String], sources: &str) -> String {
    let nop = |text: String| format!("{} #(nop) {text}", shell.join(" "));
    match instruction {
        Instruction::Run(r) => {
            let command = command(&r.command.args, r.command.shell, shell).join(" ");
            if args.is_empty() {
                command
            } else {
                format!("|{} {} {command}", args.len(), args.join(" "))
            }
        }
        Instruction::Workdir(w) => nop(format!("WORKDIR {w}")),
        // With --chown, Docker writes the flag and the source's name without a space between.
        Instruction::Copy(t) | Instruction::Add(t) => {
            let word = if matches!(instruction, Instruction::Copy(_)) { "COPY" } else { "ADD" };
            let chown = t.chown.as_ref().map(|c| format!("--chown={c}")).unwrap_or_default();
            nop(format!("{word} {chown}{sources} in {} ", t.dest))
        }
        other => nop(format!(" {}", metadata(other))),
    }
}

/// A metadata instruction as Docker's history prints it (without the `#(nop)`).
fn metadata(instruction: &Instruction) -> String {
    let pairs =
        |p: &[(String, String)]| p.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
    match instruction {
        Instruction::Env(p) => format!("ENV {}", pairs(p)),
        Instruction::Label(p) => format!("LABEL {}", pairs(p)),
        Instruction::Maintainer(m) => format!("MAINTAINER {m}"),
        Instruction::Arg(defs) => {
            let defs: Vec<String> = defs
                .iter()
                .map(|d| match &d.default {
                    Some(v) => format!("{}={v}", d.name),
                    None => d.name.clone(),
                })
                .collect();
            format!("ARG {}", defs.join(" "))
        }
        Instruction::Expose(ports) => format!("EXPOSE {}", ports.join(" ")),
        Instruction::User(u) => format!("USER {u}"),
        Instruction::Volume(v) => format!("VOLUME [{}]", v.join(" ")),
        Instruction::StopSignal(s) => format!("STOPSIGNAL {s}"),
        Instruction::Shell(s) => format!("SHELL [{}]", s.join(" ")),
        Instruction::Onbuild(e) => format!("ONBUILD {e}"),
        Instruction::Healthcheck(h) => format!("HEALTHCHECK {}", go_health(h)),
        Instruction::Cmd(c) | Instruction::Entrypoint(c) => {
            let word = if matches!(instruction, Instruction::Cmd(_)) { "CMD" } else { "ENTRYPOINT" };
            format!("{word} {}", go_strings(&c.args))
        }
        Instruction::Run(_) | Instruction::Workdir(_) | Instruction::Copy(_) | Instruction::Add(_) => {
            String::new()
        }
    }
}

/// A command as the config keeps it: exec form as written, shell form after the shell.
pub fn command(args: &[String], shell_form: bool, shell: &[String]) -> Vec<String> {
    if shell_form && !args.is_empty() {
        shell.iter().cloned().chain(args.iter().cloned()).collect()
    } else {
        args.to_vec()
    }
}

/// A CMD or ENTRYPOINT line as it is saved: `CMD ["/bin/sh" "-c" "echo hi"]` (Go's `%q` of a
/// string slice), with the shell form already turned into its command by the caller.
fn go_strings(v: &[String]) -> String {
    format!("[{}]", v.iter().map(|s| go_quote(s)).collect::<Vec<_>>().join(" "))
}

/// Go's `%q` of the health config: `&{["CMD-SHELL" "x"] "5s" "2s" "0s" '\x03'}`.
fn go_health(h: &Health) -> String {
    match h {
        Health::None => "&{[\"NONE\"] \"0s\" \"0s\" \"0s\" '\\x00'}".to_string(),
        Health::Check { test, interval, timeout, start_period, start_interval, retries } => {
            let d = |d: &Option<Duration>| go_quote(&go_duration(d.unwrap_or_default()));
            let mut fields = vec![go_strings(test), d(interval), d(timeout), d(start_period)];
            if start_interval.is_some() {
                fields.push(d(start_interval));
            }
            fields.push(go_rune(retries.unwrap_or(0)));
            format!("&{{{}}}", fields.join(" "))
        }
    }
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%q` of an integer: a quoted character.
fn go_rune(n: u32) -> String {
    match char::from_u32(n) {
        Some(c) if !c.is_control() && c != '\'' && c != '\\' => format!("'{c}'"),
        Some('\'') => "'\\''".into(),
        Some('\\') => "'\\\\'".into(),
        _ if n < 0x80 => format!("'\\x{n:02x}'"),
        _ => format!("'\\u{n:04x}'"),
    }
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5s`, `100ms`, `0s`.
pub fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000_000_000 {
        let (unit, scale) = match nanos {
            n if n < 1_000 => ("ns", 1u128),
            n if n < 1_000_000 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        return format!("{}{unit}", fraction(nanos, scale));
    }
    let (h, rest) = (nanos / 3_600_000_000_000, nanos % 3_600_000_000_000);
    let (m, s) = (rest / 60_000_000_000, rest % 60_000_000_000);
    let secs = format!("{}s", fraction(s, 1_000_000_000));
    match (h, m) {
        (0, 0) => secs,
        (0, m) => format!("{m}m{secs}"),
        (h, m) => format!("{h}h{m}m{secs}"),
    }
}

/// `n / scale` with the fraction's trailing zeros dropped.
fn fraction(n: u128, scale: u128) -> String {
    let (whole, part) = (n / scale, n % scale);
    if part == 0 {
        return whole.to_string();
    }
    let width = scale.to_string().len() - 1;
    let digits = format!("{part:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh() -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into()]
    }

    fn line(text: &str, shell: &[String], args: &[&str]) -> String {
        let df = crate::parse(&format!("FROM x\n{text}")).unwrap();
        let mut scope = crate::scope::Scope::new(&Default::default(), &[]);
        let lexer = crate::lex::Lexer::new('\\');
        let i = scope.expand(&df.stages[0].commands[0].instruction, &lexer, &Default::default()).unwrap();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        created_by(&i, shell, &args, "file:abc")
    }

    /// The lines the reference dockerd (20.10, classic builder) wrote for these instructions.
    #[test]
    fn history_reads_as_dockers_classic_builder_writes_it() {
        let ec = vec!["/bin/sh".to_string(), "-ec".to_string()];
        for (text, shell, args, want) in [
            ("MAINTAINER Some One <one@example.com>", sh(), &[][..], "/bin/sh -c #(nop)  MAINTAINER Some One <one@example.com>"),
            ("ARG VERSION=1.0", sh(), &[], "/bin/sh -c #(nop)  ARG VERSION=1.0"),
            ("ARG NOVAL", sh(), &[], "/bin/sh -c #(nop)  ARG NOVAL"),
            ("ENV A=1 B=\"two words\"", sh(), &[], "/bin/sh -c #(nop)  ENV A=1 B=two words"),
            ("ENV LEGACY value with spaces", sh(), &[], "/bin/sh -c #(nop)  ENV LEGACY=value with spaces"),
            ("LABEL org.label=x \"other label\"=y", sh(), &[], "/bin/sh -c #(nop)  LABEL org.label=x other label=y"),
            ("EXPOSE 8080 53/udp", sh(), &[], "/bin/sh -c #(nop)  EXPOSE 53/udp 8080"),
            ("WORKDIR /app", sh(), &[], "/bin/sh -c #(nop) WORKDIR /app"),
            ("COPY a.txt .", sh(), &[], "/bin/sh -c #(nop) COPY file:abc in . "),
            ("ADD a.txt /added", sh(), &[], "/bin/sh -c #(nop) ADD file:abc in /added "),
            ("COPY --chown=1000:1000 a.txt /owned", sh(), &[], "/bin/sh -c #(nop) COPY --chown=1000:1000file:abc in /owned "),
            ("RUN echo \"version $VERSION\" > /v", sh(), &["VERSION=1.0"], "|1 VERSION=1.0 /bin/sh -c echo \"version $VERSION\" > /v"),
            ("RUN [\"sh\", \"-c\", \"echo exec > /e\"]", sh(), &["VERSION=1.0"], "|1 VERSION=1.0 sh -c echo exec > /e"),
            ("RUN make", sh(), &[], "/bin/sh -c make"),
            ("USER app:app", sh(), &[], "/bin/sh -c #(nop)  USER app:app"),
            ("VOLUME /data /cache", sh(), &[], "/bin/sh -c #(nop)  VOLUME [/data /cache]"),
            ("STOPSIGNAL SIGINT", sh(), &[], "/bin/sh -c #(nop)  STOPSIGNAL SIGINT"),
            (
                "HEALTHCHECK --interval=5s --timeout=2s --retries=3 CMD wget -q localhost || exit 1",
                sh(),
                &[],
                "/bin/sh -c #(nop)  HEALTHCHECK &{[\"CMD-SHELL\" \"wget -q localhost || exit 1\"] \"5s\" \"2s\" \"0s\" '\\x03'}",
            ),
            ("SHELL [\"/bin/sh\", \"-ec\"]", ec.clone(), &[], "/bin/sh -ec #(nop)  SHELL [/bin/sh -ec]"),
            ("ONBUILD RUN echo onbuild", ec.clone(), &[], "/bin/sh -ec #(nop)  ONBUILD RUN echo onbuild"),
            ("ENTRYPOINT [\"/bin/sh\", \"-c\"]", ec.clone(), &[], "/bin/sh -ec #(nop)  ENTRYPOINT [\"/bin/sh\" \"-c\"]"),
        ] {
            assert_eq!(line(text, &shell, args), want, "{text}");
        }
        // A shell-form CMD is saved after the stage's shell.
        let cmd = Instruction::Cmd(crate::instructions::CommandLine {
            args: command(&["echo hi".to_string()], true, &ec),
            shell: false,
            files: vec![],
        });
        assert_eq!(
            created_by(&cmd, &ec, &[], ""),
            "/bin/sh -ec #(nop)  CMD [\"/bin/sh\" \"-ec\" \"echo hi\"]"
        );
    }

    #[test]
    fn go_formats() {
        for (ms, want) in [
            (0, "0s"),
            (5000, "5s"),
            (1500, "1.5s"),
            (90_000, "1m30s"),
            (3_600_000, "1h0m0s"),
            (100, "100ms"),
            (1, "1ms"),
        ] {
            assert_eq!(go_duration(Duration::from_millis(ms)), want);
        }
        assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(go_quote("a\"b\\c\nd\u{1}é"), "\"a\\\"b\\\\c\\nd\\x01é\"");
        assert_eq!(go_rune(3), "'\\x03'");
        assert_eq!(go_rune(65), "'A'");
    }
}
