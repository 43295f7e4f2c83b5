//! `berthd`: the daemon serving the Docker Engine API. Flags and `daemon.json` settle the
//! configuration; the engine opens the data root (locked: one daemon per data root), finds its
//! running containers again, and the server answers on the `-H` sockets until SIGTERM or
//! SIGINT. SIGHUP reloads what Docker reloads.

use std::path::PathBuf;

use anyhow::Context;
use berth_daemon::config::{self, Flags};
use berth_engine::Engine;
use clap::Parser;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Parser)]
#[command(
    name = "berthd",
    version,
    about = "The berth daemon: the Docker Engine API on Unix sockets (and TCP, behind mutual TLS)"
)]
struct Cli {
    /// Where images, containers and their metadata live.
    #[arg(long)]
    data_root: Option<PathBuf>,
    /// Where runtime state (bundles, shim sockets) lives.
    #[arg(long)]
    exec_root: Option<PathBuf>,
    /// An address to serve on (repeatable): unix:///path, tcp://address:port with
    /// --tlsverify, or fd:// for the sockets systemd passes (berthd.socket).
    #[arg(short = 'H', long = "host")]
    hosts: Vec<String>,
    /// Use TLS (implied by --tlsverify).
    #[arg(long)]
    tls: bool,
    /// Use TLS and require client certificates signed by --tlscacert (required for tcp://).
    #[arg(long)]
    tlsverify: bool,
    /// The CA that client certificates must be signed by [default: ~/.docker/ca.pem].
    #[arg(long, value_name = "PATH")]
    tlscacert: Option<PathBuf>,
    /// The daemon's TLS certificate [default: ~/.docker/cert.pem].
    #[arg(long, value_name = "PATH")]
    tlscert: Option<PathBuf>,
    /// The daemon's TLS key [default: ~/.docker/key.pem].
    #[arg(long, value_name = "PATH")]
    tlskey: Option<PathBuf>,
    /// The daemon configuration file.
    #[arg(long, default_value = config::DEFAULT_CONFIG_FILE)]
    config_file: PathBuf,
    /// The default OCI runtime: berth-runc (built in), runc, crun, a name from daemon.json's
    /// runtimes, or a runtime binary's absolute path.
    #[arg(long = "runtime", alias = "default-runtime")]
    runtime: Option<String>,
    /// Keep containers running when the daemon stops.
    #[arg(long)]
    live_restore: bool,
    /// The snapshotter: overlayfs or native (chosen by a test mount when not given).
    #[arg(short = 's', long)]
    storage_driver: Option<String>,
    /// Debug logging.
    #[arg(short = 'D', long)]
    debug: bool,
    /// Log format on stderr: text or json.
    #[arg(long, default_value = "text")]
    log_format: String,
}

fn init_logging(debug: bool, format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BERTHD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(if debug { "debug" } else { "info" }));
    use std::io::IsTerminal;
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}

fn main() -> anyhow::Result<()> {
    berth_sys::tame_allocator();
    // The sockets systemd passed (-H fd://), taken while berthd has one thread.
    berth_daemon::server::systemd::passed();
    let cli = Cli::parse();
    let flags = Flags {
        data_root: cli.data_root,
        exec_root: cli.exec_root,
        hosts: cli.hosts,
        runtime: cli.runtime,
        debug: cli.debug,
        live_restore: cli.live_restore,
        storage_driver: cli.storage_driver,
        config_file: Some(cli.config_file.clone()),
        tls: cli.tls,
        tlsverify: cli.tlsverify,
        tlscacert: cli.tlscacert,
        tlscert: cli.tlscert,
        tlskey: cli.tlskey,
    };
    let required = cli.config_file.as_path() != std::path::Path::new(config::DEFAULT_CONFIG_FILE);
    let file = config::read_file(&cli.config_file, required).map_err(anyhow::Error::msg)?;
    let cfg = config::merge(&flags, file).map_err(anyhow::Error::msg)?;
    init_logging(cfg.debug, &cli.log_format);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(128)
        .enable_all()
        .build()
        .context("start the async runtime")?;
    rt.block_on(async move {
        let hosts = cfg.hosts.clone();
        tracing::info!(data_root = %cfg.data_root.display(), exec_root = %cfg.exec_root.display(), runtime = %cfg.default_runtime, "starting");
        // An fd:// host with nothing passed fails the start before the data root is touched.
        for h in hosts.iter().filter(|h| h.starts_with("fd://")) {
            berth_daemon::server::systemd::select(h, berth_daemon::server::systemd::passed())
                .map_err(anyhow::Error::msg)?;
        }
        let engine = Engine::open(cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
        engine.restore().await;
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        let reloader = engine.clone();
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                // The file named at start, read again; what may change is the daemon's rule.
                let changed = config::read_file(&cli.config_file, false)
                    .and_then(|file| reloader.reconfigure(|cfg| config::reload(cfg, &flags, file)));
                match changed {
                    Ok(changed) => tracing::info!(?changed, "configuration reloaded"),
                    Err(e) => tracing::error!(error = %e, "configuration not reloaded"),
                }
            }
        });
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            tracing::info!("shutting down");
        };
        tracing::info!("ready");
        berth_daemon::server::serve(engine.clone(), &hosts, shutdown).await.map_err(anyhow::Error::msg)?;
        engine.shutdown().await;
        tracing::info!("stopped");
        Ok(())
    })
}
