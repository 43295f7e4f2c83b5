//! `--help` in the docker CLI's layout (cobra's template and pflag's flag table), drawn from
//! the clap command tree: the usage line, the description, the other forms of the command
//! (`Aliases:`), the flags sorted by name with Docker's value types and defaults, wrapped as
//! pflag wraps them, and for a group its commands.

use clap::builder::ValueParser;
use clap::{Arg, ArgAction, Command};

/// Top-level commands that are another name for a management command (the rest share it).
const SHORT_FORMS: [(&str, &str); 3] = [("ps", "container ls"), ("images", "image ls"), ("rmi", "image rm")];
/// Docker's `Common Commands:`, in its order, of those berth has.
const COMMON: [&str; 10] =
    ["run", "exec", "ps", "pull", "push", "images", "login", "logout", "version", "info"];

/// The width help wraps to: the terminal's less one, else 79 (pflag's, as the docker CLI calls it).
pub fn width() -> usize {
    berth_client::terminal::columns().filter(|c| *c > 0 && berth_client::terminal::is_tty(1)).unwrap_or(80)
        - 1
}

/// Docker's value type for a flag berth declares without one.
fn value_type(arg: &Arg) -> Option<String> {
    if matches!(
        arg.get_action(),
        ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count | ArgAction::Help
    ) {
        return None;
    }
    let long = arg.get_long().unwrap_or("");
    let by_name = match long {
        "memory" | "memory-reservation" | "memory-swap" | "shm-size" => Some("bytes"),
        "cpus" => Some("decimal"),
        "cpu-period" | "cpu-quota" | "cpu-shares" | "memory-swappiness" | "oom-score-adj" | "pids-limit"
        | "blkio-weight" | "stop-timeout" | "health-retries" => Some("int"),
        "health-interval" | "health-timeout" | "health-start-period" | "health-start-interval" => {
            Some("duration")
        }
        "mount" => Some("mount"),
        "network" => Some("network"),
        "sysctl" => Some("map"),
        "ulimit" => Some("ulimit"),
        "filter" => Some("filter"),
        _ => None,
    };
    if let Some(t) = by_name {
        return Some(t.into());
    }
    // A boolean that takes a value (`--sig-proxy=false`) reads as a plain flag.
    let boolean: ValueParser = clap::value_parser!(bool);
    if arg.get_value_parser().type_id() == boolean.type_id() {
        return None;
    }
    // A name given in lower case is Docker's type already (`string`, `list`, …).
    if let Some(name) = arg.get_value_names().and_then(|n| n.first()) {
        if name.chars().all(|c| c.is_ascii_lowercase()) {
            return Some(name.to_string());
        }
    }
    if matches!(arg.get_action(), ArgAction::Append) {
        return Some("list".into());
    }
    let parser: &ValueParser = arg.get_value_parser();
    let id = parser.type_id();
    let ints: [ValueParser; 6] = [
        clap::value_parser!(i64).into(),
        clap::value_parser!(i32).into(),
        clap::value_parser!(u64).into(),
        clap::value_parser!(u32).into(),
        clap::value_parser!(u16).into(),
        clap::value_parser!(usize).into(),
    ];
    Some(if ints.iter().any(|p| p.type_id() == id) { "int" } else { "string" }.into())
}

/// pflag's flag table (`FlagUsagesWrapped`): `  -a, --all` or `      --name type`, the
/// descriptions in one column, wrapped to `width`.
/// `tables`: the command prints a table (its `--format` takes `table`).
pub fn flag_table(args: &[&Arg], width: usize, tables: bool) -> String {
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut sorted: Vec<&&Arg> = args.iter().collect();
    sorted.sort_by_key(|a| a.get_long().unwrap_or(""));
    for arg in sorted {
        let Some(long) = arg.get_long() else { continue };
        let mut left = match arg.get_short() {
            Some(s) => format!("  -{s}, --{long}"),
            None => format!("      --{long}"),
        };
        let ty = value_type(arg);
        if let Some(t) = &ty {
            left.push(' ');
            left.push_str(t);
        }
        let mut help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        if long == "format" && help.starts_with("Format output using a custom template") {
            help = format_help(tables);
        }
        let defaults: Vec<String> =
            arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
        // Defaults Docker shows that berth's flags leave unset.
        let shown = match (long, ty.as_deref()) {
            (_, Some("duration")) => Some("0s"),
            ("sysctl", _) => Some("map[]"),
            ("ulimit", _) => Some("[]"),
            ("restart", _) => Some("\"no\""),
            _ => None,
        };
        if let (Some(d), true) = (shown, defaults.is_empty()) {
            help += &format!(" (default {d})");
        }
        match (&ty, defaults.as_slice()) {
            (Some(t), [d]) if !d.is_empty() && d != "0" => {
                help += &if t == "string" { format!(" (default {d:?})") } else { format!(" (default {d})") };
            }
            (None, [d]) if d == "true" => help += " (default true)",
            _ => {}
        }
        rows.push((left, help));
    }
    // The description column: the widest left side, plus the one-off slack pflag leaves.
    let column = rows.iter().map(|(l, _)| l.len() + 1).max().unwrap_or(0) + 2;
    let mut out = String::new();
    for (left, help) in rows {
        let pad = column - 2 - left.len();
        out += &format!("{left} {} {}\n", " ".repeat(pad), wrap(column, width, &help));
    }
    out
}

/// pflag's `wrap`: `text` in lines of `width - indent`, the first line already indented; a
/// column too narrow moves the text to a line of its own, indented 16.
fn wrap(indent: usize, width: usize, text: &str) -> String {
    let mut indent = indent;
    let mut out = String::new();
    let mut room = width.saturating_sub(indent);
    if room < 24 {
        indent = 16;
        room = width.saturating_sub(indent);
        out = format!("\n{}", " ".repeat(indent));
    }
    if room < 24 {
        return text.replace('\n', &out);
    }
    const SLOP: usize = 5;
    let room = room - SLOP;
    let newline = format!("\n{}", " ".repeat(indent));
    let (first, mut rest) = wrap_n(room, SLOP, text);
    out += &first.replace('\n', &newline);
    while !rest.is_empty() {
        let (line, more) = wrap_n(room, SLOP, rest);
        out += &newline;
        out += &line.replace('\n', &newline);
        rest = more;
    }
    out
}

/// pflag's `wrapN`: up to `room` bytes, broken at the last space (or an earlier newline), or
/// all of it if it fits within `slop` more.
fn wrap_n(room: usize, slop: usize, s: &str) -> (&str, &str) {
    if room + slop > s.len() {
        return (s, "");
    }
    let head = &s[..s.floor_char_boundary(room)];
    let Some(w) = head.rfind([' ', '\t', '\n']).filter(|w| *w > 0) else { return (s, "") };
    match head.rfind('\n') {
        Some(nl) if nl > 0 && nl < w => (&s[..nl], &s[nl + 1..]),
        _ => (&s[..w], &s[w + 1..]),
    }
}

/// Docker's text for `--format`: with the `table` forms for commands that print tables.
fn format_help(tables: bool) -> String {
    let mut text = String::from("Format output using a custom template:\n");
    if tables {
        text += "'table':            Print output in table format with column headers (default)\n";
        text += "'table TEMPLATE':   Print output in table format using the given Go template\n";
    }
    text += "'json':             Print in JSON format\n";
    text += "'TEMPLATE':         Print output using the given Go template.\n";
    text += "Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";
    text
}

/// Docker's usage line after the command's path.
fn usage_tail(path: &str, cmd: &Command) -> String {
    let name = path.rsplit(' ').next().unwrap_or("");
    // The fixed lines are the container and image commands' (`network create` is not `create`).
    let core = !path.contains(' ') || matches!(path.split(' ').next(), Some("container" | "image"));
    let fixed = match name {
        _ if !core => None,
        "run" | "create" => Some("[OPTIONS] IMAGE [COMMAND] [ARG...]"),
        "exec" => Some("[OPTIONS] CONTAINER COMMAND [ARG...]"),
        "rename" => Some("CONTAINER NEW_NAME"),
        "tag" => Some("SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]"),
        "top" => Some("CONTAINER [ps OPTIONS]"),
        "cp" => Some(
            "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdocker cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
        ),
        "images" => Some("[OPTIONS] [REPOSITORY[:TAG]]"),
        "port" => Some("CONTAINER [PRIVATE_PORT[/PROTO]]"),
        "commit" => Some("[OPTIONS] CONTAINER [REPOSITORY[:TAG]]"),
        "import" => Some("[OPTIONS] file|URL|- [REPOSITORY[:TAG]]"),
        _ => None,
    };
    if let Some(f) = fixed {
        return f.to_string();
    }
    if name == "ls" && path.starts_with("image") {
        return "[OPTIONS] [REPOSITORY[:TAG]]".into();
    }
    if cmd.has_subcommands() {
        return "COMMAND".into();
    }
    let has_flags = cmd.get_arguments().any(|a| listed(cmd, a));
    let mut parts = Vec::new();
    if has_flags {
        parts.push("[OPTIONS]".to_string());
    }
    for a in cmd.get_positionals().filter(|a| !a.is_hide_set()) {
        // A value name that is a pattern (`NAME[:TAG|@DIGEST]`) is shown as it is.
        let pattern =
            a.get_value_names().and_then(|v| v.first()).map(|v| v.to_string()).filter(|v| v.contains('['));
        let noun = match a.get_id().as_str() {
            _ if pattern.is_some() => pattern.clone().unwrap_or_default(),
            "containers" | "container" => "CONTAINER".to_string(),
            "images" | "image" => "IMAGE".to_string(),
            "volumes" | "volume" | "names" | "name" => match path.split(' ').next() {
                Some("volume") => "VOLUME",
                Some("network") => "NETWORK",
                Some("context") => "CONTEXT",
                Some("container") => "CONTAINER",
                Some("image") => "IMAGE",
                _ => "NAME|ID",
            }
            .to_string(),
            "networks" | "network" => "NETWORK".to_string(),
            other => other.to_uppercase(),
        };
        let many = matches!(a.get_action(), ArgAction::Append)
            || a.get_num_args().is_some_and(|n| n.max_values() > 1);
        let required = a.is_required_set();
        parts.push(match (required, many) {
            (true, true) => format!("{noun} [{noun}...]"),
            (true, false) => noun.to_string(),
            (false, true) => format!("[{noun}...]"),
            (false, false) => format!("[{noun}]"),
        });
    }
    parts.join(" ")
}

/// Whether a flag shows under `Options:`: not clap's own `--help`, but a command's own (`run`
/// declares `--help` itself, since `-h` is its hostname), as Docker lists it.
fn listed(cmd: &Command, a: &Arg) -> bool {
    !a.is_positional() && !a.is_hide_set() && (a.get_long() != Some("help") || cmd.is_disable_help_flag_set())
}

/// The command at `path` (names or aliases), from the root.
fn find<'a>(root: &'a Command, path: &[String]) -> Option<&'a Command> {
    let mut cmd = root;
    for name in path {
        cmd =
            cmd.get_subcommands().find(|c| c.get_name() == name || c.get_all_aliases().any(|a| a == name))?;
    }
    Some(cmd)
}

/// The names a command goes by: `container ls`, its aliases, then the top-level short form.
fn forms(root: &Command, path: &[String]) -> Vec<String> {
    let split = |p: &str| p.split(' ').map(String::from).collect::<Vec<_>>();
    let (canonical, short) = match path {
        [top] => {
            let mapped = SHORT_FORMS.iter().find(|(s, _)| s == top).map(|(_, m)| split(m));
            let canonical = mapped.or_else(|| {
                ["container", "image", "system"]
                    .into_iter()
                    .map(|g| vec![g.to_string(), top.clone()])
                    .find(|p| top != "inspect" && find(root, p).is_some())
            });
            match canonical {
                Some(c) => (c, top.clone()),
                None => return Vec::new(),
            }
        }
        [group, _] => {
            let Some(cmd) = find(root, path) else { return Vec::new() };
            let full = format!("{group} {}", cmd.get_name());
            let short = match SHORT_FORMS.iter().find(|(_, m)| *m == full) {
                Some((s, _)) => s.to_string(),
                None => cmd.get_name().to_string(),
            };
            let exists = root.get_subcommands().any(|c| c.get_name() == short && !c.has_subcommands());
            if !["container", "image", "system"].contains(&group.as_str()) || short == "inspect" || !exists {
                return aliases_only(root, path);
            }
            (path.to_vec(), short)
        }
        _ => return Vec::new(),
    };
    let mut all = aliases_only(root, &canonical);
    if all.is_empty() {
        all.push(canonical.join(" "));
    }
    all.push(short);
    all
}

/// A management command's own name and aliases (`volume ls, volume list`), if it has aliases.
fn aliases_only(root: &Command, path: &[String]) -> Vec<String> {
    let Some(cmd) = find(root, path) else { return Vec::new() };
    let group = &path[0];
    let mut all = vec![format!("{group} {}", cmd.get_name())];
    all.extend(cmd.get_visible_aliases().map(|a| format!("{group} {a}")));
    if all.len() < 2 {
        return Vec::new();
    }
    all
}

/// `Usage:  berth <path> …`: the first line of the command's help (and of usage errors).
pub fn usage_line(prog: &str, root: &Command, path: &[String]) -> String {
    match find(root, path) {
        Some(cmd) if !path.is_empty() => {
            let joined = path.join(" ");
            let tail = usage_tail(&joined, cmd).replace("docker cp", &format!("{prog} cp"));
            format!("Usage:  {prog} {joined} {tail}")
        }
        _ => format!("Usage:  {prog} [OPTIONS] COMMAND"),
    }
}

/// The help of the command at `path` (empty for the root), as the docker CLI prints it.
pub fn render(prog: &str, root: &Command, path: &[String], width: usize) -> Option<String> {
    let cmd = find(root, path)?;
    let joined = path.join(" ");
    let mut about = cmd.get_long_about().or(cmd.get_about()).map(|a| a.to_string()).unwrap_or_default();
    if about.is_empty() {
        // The management form's variant may carry no text: the top-level form's then.
        if let Some(top) = path.last().and_then(|n| find(root, std::slice::from_ref(n))) {
            about = top.get_about().map(|a| a.to_string()).unwrap_or_default();
        }
    }
    let mut out = String::new();
    if path.is_empty() {
        out += &format!("Usage:  {prog} [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n");
        let listed = |names: &mut dyn Iterator<Item = &Command>| -> String {
            names
                .map(|c| {
                    format!(
                        "  {:<11} {}\n",
                        c.get_name(),
                        c.get_about().map(|a| a.to_string()).unwrap_or_default()
                    )
                })
                .collect()
        };
        let subs: Vec<&Command> = root.get_subcommands().filter(|c| !c.is_hide_set()).collect();
        let common: Vec<&Command> =
            COMMON.iter().filter_map(|n| subs.iter().find(|c| c.get_name() == *n).copied()).collect();
        let mut groups: Vec<&Command> = subs.iter().filter(|c| c.has_subcommands()).copied().collect();
        groups.sort_by_key(|c| c.get_name());
        let mut rest: Vec<&Command> = subs
            .iter()
            .filter(|c| !c.has_subcommands() && !COMMON.contains(&c.get_name()))
            .copied()
            .collect();
        rest.sort_by_key(|c| c.get_name());
        out += &format!("\nCommon Commands:\n{}", listed(&mut common.into_iter()));
        out += &format!("\nManagement Commands:\n{}", listed(&mut groups.into_iter()));
        out += &format!("\nCommands:\n{}", listed(&mut rest.into_iter()));
        let globals: Vec<&Arg> =
            root.get_arguments().filter(|a| !a.is_positional() && !a.is_hide_set()).collect();
        out += &format!("\nGlobal Options:\n{}", flag_table(&globals, width, false));
        out += &format!("\nRun '{prog} COMMAND --help' for more information on a command.\n");
        return Some(out);
    }
    out += &format!("{}\n\n{about}\n", usage_line(prog, root, path));
    let forms = forms(root, path);
    if !forms.is_empty() {
        let named: Vec<String> = forms.iter().map(|f| format!("{prog} {f}")).collect();
        out += &format!("\nAliases:\n  {}\n", named.join(", "));
    }
    let flags: Vec<&Arg> = cmd.get_arguments().filter(|a| listed(cmd, a)).collect();
    if !flags.is_empty() {
        let tables = ["ls", "ps", "images", "stats", "history", "df"].contains(&cmd.get_name());
        out += &format!("\nOptions:\n{}", flag_table(&flags, width, tables));
    }
    if cmd.has_subcommands() {
        let mut subs: Vec<&Command> = cmd.get_subcommands().filter(|c| !c.is_hide_set()).collect();
        subs.sort_by_key(|c| c.get_name());
        let pad = subs.iter().map(|c| c.get_name().len()).max().unwrap_or(0).max(11);
        out += "\nCommands:\n";
        for c in subs {
            let mut about = c.get_about().map(|a| a.to_string()).unwrap_or_default();
            if about.is_empty() {
                if let Some(top) = find(root, &[c.get_name().to_string()]) {
                    about = top.get_about().map(|a| a.to_string()).unwrap_or_default();
                }
            }
            out += &format!("  {:<pad$} {about}\n", c.get_name());
        }
        out += &format!("\nRun '{prog} {joined} COMMAND --help' for more information on a command.\n");
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_laid_out_as_pflag_does() {
        let cmd = Command::new("ps")
            .arg(
                Arg::new("all")
                    .short('a')
                    .long("all")
                    .action(ArgAction::SetTrue)
                    .help("Show all containers (default shows just running)"),
            )
            .arg(Arg::new("format").long("format").help("Format output using a custom template"))
            .arg(
                Arg::new("last")
                    .short('n')
                    .long("last")
                    .value_parser(clap::value_parser!(i64))
                    .default_value("-1")
                    .help("Show n last created containers (includes all states)"),
            )
            .arg(
                Arg::new("filter")
                    .short('f')
                    .long("filter")
                    .action(ArgAction::Append)
                    .help("Filter output based on conditions provided"),
            );
        let args: Vec<&Arg> = cmd.get_arguments().collect();
        let want = concat!(
            "  -a, --all             Show all containers (default shows just running)\n",
            "  -f, --filter filter   Filter output based on conditions provided\n",
            "      --format string   Format output using a custom template:\n",
            "                        'table':            Print output in table format\n",
            "                        with column headers (default)\n",
            "                        'table TEMPLATE':   Print output in table format\n",
            "                        using the given Go template\n",
            "                        'json':             Print in JSON format\n",
            "                        'TEMPLATE':         Print output using the given\n",
            "                        Go template.\n",
            "                        Refer to https://docs.docker.com/go/formatting/\n",
            "                        for more information about formatting output with\n",
            "                        templates\n",
            "  -n, --last int        Show n last created containers (includes all\n",
            "                        states) (default -1)\n",
        );
        assert_eq!(flag_table(&args, 79, true), want);
    }

    #[test]
    fn wrapping_follows_pflag() {
        assert_eq!(wrap(24, 79, "short"), "short");
        let text = "Location of client config files (default \"/root/.docker\")";
        assert_eq!(
            wrap(27, 79, text),
            "Location of client config files (default\n                           \"/root/.docker\")"
        );
        // Too narrow a column: the text goes to a line of its own, indented 16.
        assert_eq!(wrap(70, 79, "a b"), "\n                a b");
        // Newlines in the text start lines of their own.
        assert_eq!(wrap(24, 79, "one:\n'two':  three"), "one:\n                        'two':  three");
    }
}
