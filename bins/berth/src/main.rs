//! `berth`: the docker-compatible command line (see berth-cli).

fn main() {
    std::process::exit(berth_cli::main());
}
