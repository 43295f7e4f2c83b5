//! `berthd`: the daemon serving the Docker Engine API. This is its entry point only: the engine,
//! image store and API arrive with their issues (see docs/ARCHITECTURE.md). Until then it says so
//! and exits, rather than pretending to serve.

use clap::Parser;

#[derive(Parser)]
#[command(name = "berthd", version, about = "The berth daemon: the Docker Engine API on a Unix socket")]
struct Cli {}

fn main() {
    let _ = Cli::parse();
    eprintln!("berthd: the Engine API is not served yet in this build; containers run through berth-shim and berth-runc");
    std::process::exit(1);
}
