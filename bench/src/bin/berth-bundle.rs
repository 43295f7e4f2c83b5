//! `berth-bundle DIR [--id ID] [--tty] [--init] [--read-only] [--memory BYTES] [--cpus N]
//! [--pids-limit N] [--user U] [--hostname H] [--privileged] [--cgroup-parent P] -- CMD [ARGS…]`
//!
//! Writes `DIR/config.json` for the rootfs in `DIR/rootfs`, with Docker's defaults (berth-spec),
//! as `docker run` would for those flags. A developer tool for benchmarks and the demo until
//! berthd creates containers from images.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use berth_spec::{ContainerOptions, ImageConfig, RootfsFiles};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let split =
        args.iter().position(|a| a == "--").context("usage: berth-bundle DIR [flags] -- CMD [ARGS...]")?;
    let (flags, cmd) = (&args[..split], &args[split + 1..]);
    let dir = PathBuf::from(flags.first().context("berth-bundle: name the bundle directory")?);
    let mut o = ContainerOptions {
        id: "berth-bundle".into(),
        rootfs: dir.join("rootfs").canonicalize().context("the bundle has no rootfs directory")?,
        image: ImageConfig { env: vec![format!("PATH={}", berth_spec::DEFAULT_PATH)], ..Default::default() },
        cmd: Some(cmd.to_vec()),
        ..Default::default()
    };
    let mut it = flags[1..].iter();
    while let Some(f) = it.next() {
        let mut val = || it.next().cloned().with_context(|| format!("{f} needs a value"));
        match f.as_str() {
            "--id" => o.id = val()?,
            "--tty" | "-t" => o.tty = true,
            "--init" => o.init = true,
            "--read-only" => o.readonly_rootfs = true,
            "--privileged" => o.privileged = true,
            "--memory" => o.memory = val()?.parse()?,
            "--cpus" => o.nano_cpus = (val()?.parse::<f64>()? * 1e9) as i64,
            "--pids-limit" => o.pids_limit = Some(val()?.parse()?),
            "--user" => o.user = Some(val()?),
            "--hostname" => o.hostname = Some(val()?),
            "--cgroup-parent" => o.cgroup_parent = Some(val()?),
            other => bail!("berth-bundle: unknown flag {other:?}"),
        }
    }
    let exe_dir = std::env::current_exe()?.parent().map(PathBuf::from).unwrap_or_default();
    let init = std::env::var("BERTH_INIT").map(PathBuf::from).unwrap_or_else(|_| exe_dir.join("berth-init"));
    let host = berth_spec::host::detect(init, false);
    let files = RootfsFiles {
        passwd: std::fs::read_to_string(o.rootfs.join("etc/passwd")).unwrap_or_default(),
        group: std::fs::read_to_string(o.rootfs.join("etc/group")).unwrap_or_default(),
    };
    let spec = berth_spec::generate(&o, &host, &files)?;
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&spec)?)?;
    Ok(())
}
