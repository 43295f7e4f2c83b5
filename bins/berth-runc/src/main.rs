//! `berth-runc`: an OCI runtime with runc's command line, over `berth-runtime`.
//!
//! Each subcommand is a few lines in `commands.rs`; foreground `run` (signal forwarding, pty relay)
//! lives in `foreground.rs`.

mod commands;
mod foreground;
mod log;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use liboci_cli::{CommonCmd, GlobalOpts, StandardCmd};

#[derive(Parser, Debug)]
#[command(name = "berth-runc", version, about = "berth's OCI runtime, with runc's command line")]
struct Cli {
    #[command(flatten)]
    global: GlobalOpts,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    #[command(flatten)]
    Standard(Box<StandardCmd>),
    #[command(flatten)]
    Common(Box<CommonCmd>),
}

fn main() {
    let cli = Cli::parse();
    let logger =
        log::Logger::new(cli.global.log.as_deref(), cli.global.log_format.as_deref(), cli.global.debug);
    let root = cli.global.root.clone().unwrap_or_else(|| PathBuf::from(berth_runtime::DEFAULT_ROOT));
    let rt = berth_runtime::Runtime::new(root, cli.global.systemd_cgroup);
    let code = match commands::dispatch(&rt, cli.cmd) {
        Ok(code) => code,
        Err(e) => {
            logger.error(&format!("{e:#}"));
            1
        }
    };
    std::process::exit(code);
}
