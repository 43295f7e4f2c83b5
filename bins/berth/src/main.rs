//! `berth`: the docker-compatible command line. For now it knows `version`; the commands that
//! talk to berthd come with the daemon (see docs/ARCHITECTURE.md).

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "berth",
    about = "A container engine that does what Docker does",
    disable_version_flag = true
)]
struct Cli {
    /// Print version information and quit
    #[arg(short = 'v', long = "version")]
    version: bool,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Show the berth version information
    Version,
}

fn main() {
    let cli = Cli::parse();
    match (cli.version, cli.cmd) {
        (true, _) => println!("berth version {}", env!("CARGO_PKG_VERSION")),
        (false, Some(Cmd::Version)) => {
            println!(
                "Client:\n Version:    {}\n OS/Arch:    linux/{}",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::ARCH
            )
        }
        (false, None) => {
            eprintln!("berth: no command given; the engine commands arrive with berthd (see `berth --help`)");
            std::process::exit(125);
        }
    }
}
