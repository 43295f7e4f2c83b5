//! berth's command line: the docker CLI's commands, flags, output and exit codes, over the
//! Engine API (berth-client). It never touches the data root.
//!
//! [`cmd`] is the command tree; [`container`], [`image`] and [`system`] run the commands;
//! [`opts`] turns `run`/`create` flags into the create request; [`template`] and
//! [`tabwriter`] give Docker's `--format` and tables; [`units`] its sizes and ages;
//! [`terminal`] raw mode and resizing for `-t`; [`progress`] the daemon's progress stream.

mod args;
mod build;
mod build_context;
mod build_view;
pub mod cmd;
mod common;
mod compose;
mod container;
pub mod context;
mod files;
mod help;
mod image;
mod login;
mod manifest;
mod network;
mod opts;
mod progress;
mod registry;
mod system;
pub mod tabwriter;
pub mod template;
pub mod units;
mod volume;
mod watch;

use berth_client::{Client, ClientError, Host};
use clap::error::{ContextKind, ContextValue, ErrorKind as ClapKind};
use clap::Parser;
use cmd::{
    BuilderCmd, Cli, Cmd, ContainerCmd, ContainerOps, ImageCmd, ImageOps, NetworkCmd, SystemCmd, VolumeCmd,
};

/// What ended a command: the exit code, with the message to print (if any) on stderr.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    pub fn new(code: i32, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into() }
    }
    /// A silent exit with `code` (a container's own exit code).
    pub fn exit(code: i32) -> Failure {
        Failure { code, message: String::new() }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        Failure::new(1, e.to_string())
    }
}

pub type Result<T = ()> = std::result::Result<T, Failure>;

/// What every command gets: the daemon and the program's name (for messages).
pub struct Ctx {
    pub client: Client,
    pub prog: String,
}

/// Runs the command line and returns the process's exit code.
pub fn main() -> i32 {
    // Like any Unix tool (and the docker CLI), end quietly when the reader of our output goes
    // away (`berth ps | head`), instead of failing on the write.
    // SAFETY: restoring the default disposition of SIGPIPE touches no Rust state.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args: Vec<String> = std::env::args().collect();
    let prog = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "berth".into());
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => return usage_error(&prog, &args, e),
    };
    if cli.version {
        println!("{prog} version {}, build berth", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    let Some(command) = cli.cmd else {
        let root = <Cli as clap::CommandFactory>::command();
        print!("{}", help::render(&prog, &root, &[], help::width()).unwrap_or_default());
        return 0;
    };
    if let Some(dir) = &cli.config {
        // Set while the process is still single-threaded, before the runtime starts.
        std::env::set_var("DOCKER_CONFIG", dir);
    }
    match command {
        Cmd::Context(c) => return finish(context::run(c, cli.context.as_deref())),
        Cmd::Completion(a) => return completion(&prog, &a.shell),
        Cmd::Registry(r) => return finish(registry::run(r)),
        Cmd::Compose(c) if compose::offline(&c) => return finish(compose::run_offline(&c)),
        // Read from the registry by the CLI itself, as the docker CLI does.
        Cmd::Manifest(m) => {
            return match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => finish(rt.block_on(manifest::run(m))),
                Err(e) => finish(Err(Failure::new(1, format!("cannot start: {e}")))),
            }
        }
        _ => {}
    }
    if cli.host.is_some() && cli.context.is_some() {
        eprintln!("conflicting options: cannot specify both --host and --context");
        return 1;
    }
    // Docker's order: -H, then --context, then DOCKER_HOST, then DOCKER_CONTEXT or the
    // configuration's currentContext. The `default` context takes TLS from the --tls* flags
    // and the environment, a named one from its own material.
    let env_host = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty());
    let named = if cli.host.is_some() || (cli.context.is_none() && env_host.is_some()) {
        None
    } else {
        Some(context::current(cli.context.as_deref())).filter(|c| c != "default")
    };
    let endpoint = match &named {
        None => {
            let flags = context::TlsFlags {
                tls: cli.tls,
                verify: cli.tlsverify,
                ca: cli.tlscacert.clone(),
                cert: cli.tlscert.clone(),
                key: cli.tlskey.clone(),
            };
            let tls = context::default_tls(
                &flags,
                |k| std::env::var(k).ok(),
                &common::config_dir(),
                std::path::Path::exists,
            );
            Ok((cli.host.clone(), tls))
        }
        Some(name) => context::host_of(name).and_then(|h| Ok((h, context::context_tls(name)?))),
    };
    let (flag, tls) = match endpoint {
        Ok(e) => e,
        Err(f) => return finish(Err(f)),
    };
    let host = match Host::from_env(flag.as_deref(), tls.is_some()) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let client = match std::env::var("DOCKER_API_VERSION") {
        Ok(v) if !v.is_empty() => Client::with_version(host, &v),
        _ => Client::new(host),
    };
    // TLS is for TCP only; a Unix socket ignores the flags, as with Docker.
    let client = match tls {
        Some(t) if matches!(client.host(), Host::Tcp(_)) => match client.with_tls(&t.files, t.verify) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{e}");
                return 1;
            }
        },
        _ => client,
    };
    let ctx = Ctx { client, prog };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return 1;
        }
    };
    let result = rt.block_on(dispatch(&ctx, command));
    // Stdin may still be read by a thread of the runtime's; it is not waited for.
    rt.shutdown_background();
    finish(result)
}

/// The exit code of a command's result, its message printed.
fn finish(result: Result) -> i32 {
    match result {
        Ok(()) => 0,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("{}", f.message);
            }
            f.code
        }
    }
}

/// `completion bash|zsh|fish`: the script on stdout.
fn completion(prog: &str, shell: &str) -> i32 {
    use clap_complete::Shell;
    let sh = match shell {
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        "fish" => Shell::Fish,
        other => {
            eprintln!("unsupported shell {other:?}: use bash, zsh or fish");
            return 1;
        }
    };
    let mut cmd = <Cli as clap::CommandFactory>::command();
    clap_complete::generate(sh, &mut cmd, prog, &mut std::io::stdout());
    0
}

async fn dispatch(ctx: &Ctx, command: Cmd) -> Result {
    match command {
        Cmd::Container(c) => match c {
            ContainerCmd::Ls(a) => container::ps(ctx, a).await,
            ContainerCmd::Rm(a) => container::rm(ctx, a).await,
            ContainerCmd::Inspect(a) => {
                system::inspect(ctx, a.format, a.size, Some("container"), a.names).await
            }
            ContainerCmd::Prune(a) => system::prune(ctx, berth_client::system::Prunable::Containers, a).await,
            ContainerCmd::Ops(op) => containers(ctx, op).await,
        },
        Cmd::Containers(op) => containers(ctx, op).await,
        Cmd::Image(c) => match c {
            ImageCmd::Ls(a) => image::images(ctx, a).await,
            ImageCmd::Rm(a) => image::rmi(ctx, a).await,
            ImageCmd::Inspect(a) => system::inspect(ctx, a.format, a.size, Some("image"), a.names).await,
            ImageCmd::Prune(a) => system::prune(ctx, berth_client::system::Prunable::Images, a).await,
            ImageCmd::Ops(op) => images(ctx, op).await,
        },
        Cmd::ImageOps(op) => images(ctx, op).await,
        Cmd::Network(c) => match c {
            NetworkCmd::Create(a) => network::create(ctx, a).await,
            NetworkCmd::Ls(a) => network::ls(ctx, a).await,
            NetworkCmd::Inspect(a) => system::inspect(ctx, a.format, false, Some("network"), a.names).await,
            NetworkCmd::Rm(a) => network::rm(ctx, a).await,
            NetworkCmd::Prune(a) => network::prune(ctx, a).await,
            NetworkCmd::Connect(a) => network::connect(ctx, a).await,
            NetworkCmd::Disconnect(a) => network::disconnect(ctx, a).await,
        },
        Cmd::Builder(BuilderCmd::Build(a)) => build::build(ctx, *a).await,
        Cmd::Builder(BuilderCmd::Prune(a)) => {
            system::prune(ctx, berth_client::system::Prunable::BuildCache, a).await
        }
        Cmd::Volume(c) => match c {
            VolumeCmd::Create(a) => volume::create(ctx, a).await,
            VolumeCmd::Ls(a) => volume::ls(ctx, a).await,
            VolumeCmd::Inspect(a) => system::inspect(ctx, a.format, false, Some("volume"), a.names).await,
            VolumeCmd::Rm(a) => volume::rm(ctx, a).await,
            VolumeCmd::Prune(a) => volume::prune(ctx, a).await,
        },
        Cmd::System(SystemCmd::Info(a)) | Cmd::Info(a) => system::info(ctx, a).await,
        Cmd::System(SystemCmd::Df(a)) => system::df(ctx, a).await,
        Cmd::System(SystemCmd::Prune(a)) => system::system_prune(ctx, a).await,
        Cmd::System(SystemCmd::DialStdio) => system::dial_stdio(ctx).await,
        Cmd::System(SystemCmd::Events(a)) | Cmd::Events(a) => watch::events(ctx, a).await,
        Cmd::Compose(c) => compose::run(ctx, c).await,
        Cmd::Context(_) | Cmd::Completion(_) | Cmd::Registry(_) | Cmd::Manifest(_) => Ok(()),
        Cmd::Ps(a) => container::ps(ctx, a).await,
        Cmd::Rm(a) => container::rm(ctx, a).await,
        Cmd::Inspect(a) => system::inspect(ctx, a.format, a.size, a.kind.as_deref(), a.names).await,
        Cmd::Images(a) => image::images(ctx, a).await,
        Cmd::Rmi(a) => image::rmi(ctx, a).await,
        Cmd::Version(a) => system::version(ctx, a).await,
        Cmd::Login(a) => login::login(ctx, a).await,
        Cmd::Logout(a) => login::logout(ctx, a).await,
        Cmd::Search(a) => image::search(ctx, a).await,
    }
}

/// A container command, in either of its forms.
async fn containers(ctx: &Ctx, op: ContainerOps) -> Result {
    match op {
        ContainerOps::Run(a) => container::run(ctx, a, true).await,
        ContainerOps::Create(a) => container::run(ctx, a, false).await,
        ContainerOps::Start(a) => container::start(ctx, a).await,
        ContainerOps::Stop(a) => container::stop(ctx, a, false).await,
        ContainerOps::Restart(a) => container::stop(ctx, a, true).await,
        ContainerOps::Kill(a) => container::kill(ctx, a).await,
        ContainerOps::Logs(a) => container::logs(ctx, a).await,
        ContainerOps::Exec(a) => container::exec(ctx, a).await,
        ContainerOps::Wait(a) => container::wait(ctx, a).await,
        ContainerOps::Pause(a) => container::pause(ctx, a, false).await,
        ContainerOps::Unpause(a) => container::pause(ctx, a, true).await,
        ContainerOps::Rename(a) => container::rename(ctx, a).await,
        ContainerOps::Top(a) => container::top(ctx, a).await,
        ContainerOps::Port(a) => container::port(ctx, a).await,
        ContainerOps::Diff(a) => files::diff(ctx, a).await,
        ContainerOps::Commit(a) => files::commit(ctx, a).await,
        ContainerOps::Export(a) => files::export(ctx, a).await,
        ContainerOps::Cp(a) => files::cp(ctx, a).await,
        ContainerOps::Attach(a) => container::attach(ctx, a).await,
        ContainerOps::Update(a) => container::update(ctx, a).await,
        ContainerOps::Stats(a) => watch::stats(ctx, a).await,
    }
}

/// An image command, in either of its forms.
async fn images(ctx: &Ctx, op: ImageOps) -> Result {
    match op {
        ImageOps::Build(a) => build::build(ctx, *a).await,
        ImageOps::Pull(a) => image::pull(ctx, a).await,
        ImageOps::Push(a) => image::push(ctx, a).await,
        ImageOps::Tag(a) => image::tag(ctx, a).await,
        ImageOps::History(a) => image::history(ctx, a).await,
        ImageOps::Save(a) => files::save(ctx, a).await,
        ImageOps::Load(a) => files::load(ctx, a).await,
        ImageOps::Import(a) => files::import(ctx, a).await,
    }
}

/// The words after the program that name the command (`container ls`, `run`).
fn command_path(args: &[String]) -> Vec<String> {
    const GROUPS: [&str; 7] = ["container", "image", "system", "volume", "network", "context", "compose"];
    // `compose`'s own flags that take a value.
    const COMPOSE_VALUED: [&str; 12] = [
        "-f",
        "--file",
        "-p",
        "--project-name",
        "--profile",
        "--env-file",
        "--project-directory",
        "--parallel",
        "--ansi",
        "--progress",
        "-c",
        "-l",
    ];
    let mut path = Vec::new();
    let mut skip = false;
    for a in args.iter().skip(1) {
        if skip {
            skip = false;
            continue;
        }
        if a.starts_with('-') && path.first().is_some_and(|p| p == "compose") {
            skip = COMPOSE_VALUED.contains(&a.as_str());
            continue;
        }
        if a.starts_with('-') {
            skip = matches!(
                a.as_str(),
                "-H" | "--host"
                    | "--config"
                    | "-l"
                    | "--log-level"
                    | "-c"
                    | "--context"
                    | "--tlscacert"
                    | "--tlscert"
                    | "--tlskey"
            );
            continue;
        }
        path.push(a.clone());
        if path.len() == 2 || !GROUPS.contains(&a.as_str()) {
            break;
        }
    }
    path
}

/// Docker's usage line of a command (the first line of its `--help`).
fn usage(prog: &str, path: &str) -> String {
    let root = <Cli as clap::CommandFactory>::command();
    let path: Vec<String> = path.split(' ').filter(|p| !p.is_empty()).map(String::from).collect();
    help::usage_line(prog, &root, &path)
}

/// A flag or argument error, in the docker CLI's words, with its exit code 125.
fn usage_error(prog: &str, args: &[String], e: clap::Error) -> i32 {
    match e.kind() {
        ClapKind::DisplayHelp | ClapKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let root = <Cli as clap::CommandFactory>::command();
            match help::render(prog, &root, &command_path(args), help::width()) {
                Some(text) => print!("{text}"),
                None => {
                    let _ = e.print();
                }
            }
            return 0;
        }
        ClapKind::DisplayVersion => {
            let _ = e.print();
            return 0;
        }
        _ => {}
    }
    let path = command_path(args).join(" ");
    let arg = || match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let first = match e.kind() {
        ClapKind::UnknownArgument => {
            let a = arg();
            let a = a.split('=').next().unwrap_or("").to_string();
            match a.strip_prefix('-') {
                Some(short) if !short.starts_with('-') && !short.is_empty() => {
                    format!("unknown shorthand flag: '{}' in {a}", short.chars().next().unwrap_or('?'))
                }
                _ => format!("unknown flag: {a}"),
            }
        }
        ClapKind::InvalidSubcommand => {
            let a = match e.get(ContextKind::InvalidSubcommand) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            eprintln!("{prog}: unknown command: {prog} {a}\n\nRun '{prog} --help' for more information");
            return 1;
        }
        ClapKind::MissingRequiredArgument | ClapKind::TooFewValues | ClapKind::MissingSubcommand => {
            // Cobra's words: "requires N arguments … Run" for exact counts, "at least … See"
            // otherwise.
            let (n, verb) = match path.rsplit(' ').next() {
                Some("rename" | "tag") => ("2 arguments", "Run"),
                Some("exec") => ("at least 2 arguments", "See"),
                Some("logs" | "port" | "history" | "top") => ("1 argument", "Run"),
                _ => ("at least 1 argument", "See"),
            };
            eprintln!(
                "{prog}: '{prog} {path}' requires {n}\n\n{}\n\n{verb} '{prog} {path} --help' for more information",
                usage(prog, &path)
            );
            return 1;
        }
        ClapKind::ValueValidation | ClapKind::InvalidValue => {
            let value = match e.get(ContextKind::InvalidValue) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            format!("invalid argument \"{value}\" for \"{}\" flag", arg())
        }
        _ => e.to_string().trim().trim_start_matches("error: ").to_string(),
    };
    eprintln!("{first}\n\n{}\n\nRun '{prog} {path} --help' for more information", usage(prog, &path));
    125
}

/// A flag value the CLI checks itself, refused in Docker's words (exit 125).
pub fn invalid_flag(prog: &str, path: &str, value: &str, flag: &str, why: &str) -> Failure {
    if flag.is_empty() {
        return Failure::new(
            125,
            format!("{prog}: {why}\n\nRun '{prog} {path} --help' for more information"),
        );
    }
    Failure::new(
        125,
        format!(
            "invalid argument \"{value}\" for \"{flag}\" flag: {why}\n\n{}\n\nRun '{prog} {path} --help' for more information",
            usage(prog, path)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_tree_is_consistent() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn command_paths() {
        let v = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(command_path(&v("berth run -d busybox")), ["run"]);
        assert_eq!(command_path(&v("berth -H unix:///x container ls -a")), ["container", "ls"]);
        assert_eq!(command_path(&v("berth compose -f a.yml -p x up --help")), ["compose", "up"]);
        for (path, want) in [
            ("run", "Usage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]"),
            ("ps", "Usage:  berth ps [OPTIONS]"),
            ("logs", "Usage:  berth logs [OPTIONS] CONTAINER"),
            ("rm", "Usage:  berth rm [OPTIONS] CONTAINER [CONTAINER...]"),
            ("rmi", "Usage:  berth rmi [OPTIONS] IMAGE [IMAGE...]"),
            ("image rm", "Usage:  berth image rm [OPTIONS] IMAGE [IMAGE...]"),
            ("history", "Usage:  berth history [OPTIONS] IMAGE"),
            ("inspect", "Usage:  berth inspect [OPTIONS] NAME|ID [NAME|ID...]"),
            ("rename", "Usage:  berth rename CONTAINER NEW_NAME"),
            ("volume rm", "Usage:  berth volume rm [OPTIONS] VOLUME [VOLUME...]"),
            ("container", "Usage:  berth container COMMAND"),
        ] {
            assert_eq!(usage("berth", path), want, "{path}");
        }
    }
}
