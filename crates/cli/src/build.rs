//! `berth build`: the context (a directory, `-` or a tar on stdin) sent to `POST /build` with
//! the flags users type to docker and buildx, the build's classic output shown as it comes,
//! then the image ID where asked (`-q`, `--iidfile`) and the result exported (`--output`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use berth_client::images::BuildQuery;
use berth_client::Body;
use clap::Args;

use crate::build_context::{self, DirContext};
use crate::{Ctx, Failure, Result};

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Add a custom host-to-IP mapping ("host:ip")
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Set build-time variables
    #[arg(long = "build-arg")]
    pub build_arg: Vec<String>,
    /// Images to consider as cache sources
    #[arg(long = "cache-from", value_name = "strings")]
    pub cache_from: Vec<String>,
    /// Compress the build context using gzip
    #[arg(long)]
    pub compress: bool,
    /// Say why each step that is not taken from the cache was rebuilt
    #[arg(long)]
    pub explain: bool,
    /// Name of the Dockerfile (Default is "PATH/Dockerfile")
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// Always remove intermediate containers
    #[arg(long = "force-rm")]
    pub force_rm: bool,
    /// Write the image ID to the file
    #[arg(long)]
    pub iidfile: Option<String>,
    /// Set metadata for an image
    #[arg(long = "label")]
    pub label: Vec<String>,
    /// Load the result into the image store (the default)
    #[arg(long)]
    pub load: bool,
    /// Set the networking mode for the "RUN" instructions during build
    #[arg(long)]
    pub network: Option<String>,
    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Do not cache specified stages
    #[arg(long = "no-cache-filter", value_name = "stringArray")]
    pub no_cache_filter: Vec<String>,
    /// Output destination (format: "type=local,dest=path")
    #[arg(short = 'o', long = "output", value_name = "stringArray")]
    pub output: Vec<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    /// Type of progress output ("auto", "plain", "tty", "quiet")
    #[arg(long, default_value = "auto")]
    pub progress: String,
    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pub pull: bool,
    /// Suppress the build output and print image ID on success
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Remove intermediate containers after a successful build
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub rm: bool,
    /// Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")
    #[arg(long = "secret", value_name = "stringArray")]
    pub secret: Vec<String>,
    /// Size of "/dev/shm"
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// SSH agent socket or keys to expose to the build
    #[arg(long = "ssh", value_name = "stringArray")]
    pub ssh: Vec<String>,
    /// Name and optionally a tag in the "name:tag" format
    #[arg(short = 't', long = "tag")]
    pub tag: Vec<String>,
    /// Set the target build stage to build.
    #[arg(long)]
    pub target: Option<String>,
    /// Ulimit options
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// The build context: a directory, or `-` for a tar (or a Dockerfile) on stdin
    #[arg(value_name = "PATH | URL | -")]
    pub context: String,
}

/// Where `--output` sends the result.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Output {
    /// The image store (`type=docker`, `type=image`), and with `dest` a `docker save` tar.
    Docker { dest: Option<String> },
    /// The final filesystem into a directory.
    Local { dest: String },
    /// The final filesystem as a tar (`-` for stdout).
    Tar { dest: String },
}

/// `--output`'s forms: `type=…,dest=…`, a bare directory, or `-` (a tar on stdout).
fn output(v: &str) -> std::result::Result<Output, String> {
    if v == "-" {
        return Ok(Output::Tar { dest: "-".into() });
    }
    if !v.contains('=') {
        return Ok(Output::Local { dest: v.into() });
    }
    let mut fields = BTreeMap::new();
    for part in v.split(',') {
        let (k, val) = part.split_once('=').ok_or_else(|| format!("invalid value {part}"))?;
        fields.insert(k.trim().to_ascii_lowercase(), val.trim().to_string());
    }
    let dest = fields.get("dest").cloned();
    match fields.get("type").map(String::as_str) {
        Some("docker" | "image") => Ok(Output::Docker { dest }),
        Some("local") => Ok(Output::Local { dest: dest.ok_or("dest is required for local output")? }),
        Some("tar") => Ok(Output::Tar { dest: dest.ok_or("dest is required for tar output")? }),
        Some(t) => Err(format!("output type {t:?} is not supported: use docker, local or tar")),
        None => Err("type is required for output".into()),
    }
}

/// `--build-arg NAME=value`, or `NAME` for the variable's value here (none when unset).
fn build_args(items: &[String]) -> BTreeMap<String, Option<String>> {
    items
        .iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (a.clone(), std::env::var(a).ok()),
        })
        .collect()
}

fn labels(items: &[String]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

fn bad(ctx: &Ctx, value: &str, flag: &str, why: &str) -> Failure {
    crate::invalid_flag(&ctx.prog, "build", value, flag, why)
}

/// The request's parameters from the flags (the Dockerfile's name set apart).
fn query(ctx: &Ctx, a: &BuildArgs) -> Result<BuildQuery> {
    let mut ulimits = Vec::new();
    for u in &a.ulimit {
        ulimits.push(crate::opts::ulimit(u).map_err(|b| bad(ctx, &b.value, b.flag, &b.why))?);
    }
    let shm_size = match &a.shm_size {
        Some(s) => Some(crate::opts::size(s, "--shm-size").map_err(|b| bad(ctx, &b.value, b.flag, &b.why))?),
        None => None,
    };
    let mut args = build_args(&a.build_arg);
    // As buildx does: the environment's SOURCE_DATE_EPOCH makes the build reproducible.
    if let Ok(epoch) = std::env::var("SOURCE_DATE_EPOCH") {
        args.entry("SOURCE_DATE_EPOCH".into()).or_insert(Some(epoch));
    }
    Ok(BuildQuery {
        tags: a.tag.clone(),
        dockerfile: None,
        build_args: args,
        labels: labels(&a.label),
        target: a.target.clone(),
        no_cache: a.no_cache,
        pull: a.pull,
        quiet: a.quiet || a.progress == "quiet",
        rm: a.rm,
        force_rm: a.force_rm,
        network: a.network.clone(),
        extra_hosts: a.add_host.iter().map(|h| h.replacen('=', ":", 1)).collect(),
        shm_size,
        ulimits,
        cache_from: cache_sources(&a.cache_from).map_err(|why| bad(ctx, &why.0, "--cache-from", &why.1))?,
        no_cache_filter: a.no_cache_filter.iter().flat_map(|f| f.split(',')).map(String::from).collect(),
        platform: a.platform.clone(),
        explain: a.explain,
        live: false,
        remote: None,
    })
}

/// `--cache-from`'s images: names (the docker CLI's comma-separated list) or buildx's
/// `type=registry,ref=NAME`. Other cache types are refused: the value and why.
fn cache_sources(values: &[String]) -> std::result::Result<Vec<String>, (String, String)> {
    let mut names = Vec::new();
    for v in values {
        if !v.contains('=') {
            names.extend(v.split(',').map(str::trim).filter(|n| !n.is_empty()).map(String::from));
            continue;
        }
        let fields: BTreeMap<&str, &str> = v.split(',').filter_map(|f| f.split_once('=')).collect();
        match (fields.get("type").copied().unwrap_or("registry"), fields.get("ref")) {
            ("registry", Some(r)) => names.push(r.to_string()),
            ("registry", None) => return Err((v.clone(), "a registry cache needs ref=<image>".into())),
            (other, _) => {
                return Err((
                    v.clone(),
                    format!(
                    "cache type {other:?} is not supported: give an image (NAME or type=registry,ref=NAME)"
                ),
                ))
            }
        }
    }
    Ok(names)
}

/// The thread writing a context's tar: the bytes it wrote, or why it stopped.
type Sender = std::thread::JoinHandle<std::io::Result<u64>>;

/// The context's body, the Dockerfile's name in it, and the thread writing it.
fn context_body(a: &BuildArgs) -> Result<(Body, Option<String>, Option<Sender>)> {
    let stdin_dockerfile = a.file.as_deref() == Some("-");
    if a.context == "-" {
        if stdin_dockerfile {
            return Err(Failure::new(
                1,
                "invalid argument: can't use stdin for both build context and dockerfile",
            ));
        }
        let mut stdin = std::io::stdin();
        let first = build_context::read_up_to(&mut stdin, 512).map_err(|e| Failure::new(1, e.to_string()))?;
        if build_context::stdin_is_archive(&first) {
            return Ok((Body::read_from(first, stdin), a.file.clone(), None));
        }
        // A lone Dockerfile: the whole of stdin.
        let mut text = first;
        std::io::Read::read_to_end(&mut stdin, &mut text).map_err(|e| Failure::new(1, e.to_string()))?;
        let name = a.file.clone().unwrap_or_else(|| "Dockerfile".into());
        let n = name.clone();
        let (body, handle) = Body::write_with(move |out| build_context::dockerfile_only(&n, &text, out));
        return Ok((body, Some(name), Some(handle)));
    }
    if is_remote(&a.context) {
        // The daemon fetches it, as it does for the docker CLI's remote contexts.
        return Ok((Body::Empty, a.file.clone(), None));
    }
    let root = std::fs::canonicalize(&a.context).map_err(|e| {
        Failure::new(
            1,
            format!("unable to prepare context: path {:?} not found", a.context)
                .replace("not found", &format!("not found ({})", crate::common::io_text(&e))),
        )
    })?;
    if !root.is_dir() {
        return Err(Failure::new(
            1,
            format!("unable to prepare context: context must be a directory: {}", root.display()),
        ));
    }
    let (dockerfile_path, text) = match a.file.as_deref() {
        Some("-") => {
            let mut text = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut text)
                .map_err(|e| Failure::new(1, e.to_string()))?;
            (None, Some(text))
        }
        Some(f) => (Some(absolute(Path::new(f))), None),
        None => (Some(root.join("Dockerfile")), None),
    };
    let mut inside = None;
    let mut added = text.map(|t| (build_context::random_dockerfile_name(), t));
    if let Some(p) = &dockerfile_path {
        let p = std::fs::canonicalize(p).map_err(|_| {
            Failure::new(1, format!("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {}: no such file or directory", p.display()))
        })?;
        match p.strip_prefix(&root) {
            Ok(rel) => inside = Some(rel.to_string_lossy().into_owned()),
            Err(_) => {
                let t = std::fs::read(&p).map_err(|e| {
                    Failure::new(1, format!("unable to read {}: {}", p.display(), crate::common::io_text(&e)))
                })?;
                added = Some((build_context::random_dockerfile_name(), t));
            }
        }
    }
    let ignore = read_ignore(&root, dockerfile_path.as_deref())?;
    let name = inside.clone().or_else(|| added.as_ref().map(|(n, _)| n.clone()));
    let ctx = DirContext { root, ignore, dockerfile_inside: inside, added };
    let compress = a.compress;
    let (body, handle) = Body::write_with(move |out| {
        if compress {
            let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
            ctx.write(&mut gz)?;
            gz.finish().map(drop)
        } else {
            ctx.write(out)
        }
    });
    Ok((body, name, Some(handle)))
}

/// A context named by URL: a git repository (`git@…`, `github.com/…`, `….git`) or http(s).
fn is_remote(context: &str) -> bool {
    context.contains("://") || context.starts_with("git@") || context.starts_with("github.com/")
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.into()
    } else {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.into())
    }
}

/// The ignore file: `<Dockerfile>.dockerignore` beside the Dockerfile, else the context's.
fn read_ignore(root: &Path, dockerfile: Option<&Path>) -> Result<berth_build::ignore::Ignore> {
    let mut candidates = Vec::new();
    if let Some(name) = dockerfile.and_then(|d| d.file_name()) {
        let beside = dockerfile.and_then(Path::parent).unwrap_or(root);
        candidates.push(beside.join(format!("{}.dockerignore", name.to_string_lossy())));
    }
    candidates.push(root.join(".dockerignore"));
    for c in candidates {
        match std::fs::read_to_string(&c) {
            Ok(text) => {
                return berth_build::ignore::Ignore::parse(&text)
                    .map_err(|e| Failure::new(1, format!("{}: {e}", c.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Failure::new(
                    1,
                    format!("reading {}: {}", c.display(), crate::common::io_text(&e)),
                ))
            }
        }
    }
    Ok(berth_build::ignore::Ignore::default())
}

/// `--secret id=x[,src=path|,env=VAR]`, as buildx reads it: the id and the value (from the
/// variable named as the id when neither is given).
fn secret(v: &str) -> std::result::Result<(String, Vec<u8>), String> {
    let (mut id, mut src, mut env) = (None, None, None);
    for part in v.split(',') {
        let (k, val) =
            part.split_once('=').ok_or_else(|| format!("invalid field '{part}': give key=value"))?;
        match k.trim().to_ascii_lowercase().as_str() {
            "id" => id = Some(val.to_string()),
            "src" | "source" => src = Some(val.to_string()),
            "env" => env = Some(val.to_string()),
            "type" if matches!(val, "file" | "env") => {}
            other => return Err(format!("unexpected key '{other}' in '{part}'")),
        }
    }
    let id = id
        .or_else(|| {
            src.as_deref().and_then(|s| Path::new(s).file_name()).map(|n| n.to_string_lossy().into_owned())
        })
        .ok_or("a secret needs an id: give id=…")?;
    if let Some(path) = src {
        let value = std::fs::read(&path)
            .map_err(|e| format!("reading secret {id} from {path}: {}", crate::common::io_text(&e)))?;
        return Ok((id, value));
    }
    let var = env.unwrap_or_else(|| id.clone());
    let value = std::env::var_os(&var).ok_or_else(|| {
        format!("secret {id}: the variable {var} is not set: give src=<file> or env=<variable>")
    })?;
    Ok((id, std::os::unix::ffi::OsStrExt::as_bytes(value.as_os_str()).to_vec()))
}

/// `--ssh default|id[=socket]`: the agent socket for each id (`$SSH_AUTH_SOCK` by default).
fn ssh(items: &[String]) -> std::result::Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for item in items {
        let (id, socket) = match item.split_once('=') {
            Some((id, path)) => (id.to_string(), path.to_string()),
            None => {
                let sock = std::env::var("SSH_AUTH_SOCK").map_err(|_| {
                    format!("--ssh {item}: SSH_AUTH_SOCK is not set: give {item}=<agent socket>")
                })?;
                (item.clone(), sock)
            }
        };
        let socket = absolute(Path::new(&socket)).to_string_lossy().into_owned();
        out.insert(id, socket);
    }
    Ok(out)
}

/// Secrets and SSH sockets, as berth's headers carry them to the daemon.
fn session_headers(ctx: &Ctx, a: &BuildArgs) -> Result<Vec<(&'static str, String)>> {
    use base64::Engine as _;
    let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE.encode(v.to_string());
    let mut headers = Vec::new();
    if !a.secret.is_empty() {
        let mut all = serde_json::Map::new();
        for s in &a.secret {
            let (id, value) = secret(s).map_err(|e| bad(ctx, s, "--secret", &e))?;
            all.insert(id, base64::engine::general_purpose::STANDARD.encode(value).into());
        }
        headers.push(("X-Berth-Build-Secrets", b64(&serde_json::Value::Object(all))));
    }
    if !a.ssh.is_empty() {
        // The daemon binds the socket itself: it must run on this machine.
        if !matches!(ctx.client.host(), berth_client::Host::Unix(_)) {
            return Err(Failure::new(
                1,
                "--ssh needs a daemon on this machine (a unix socket): the agent socket is bound from here",
            ));
        }
        let sockets = ssh(&a.ssh).map_err(|e| Failure::new(1, e))?;
        headers.push(("X-Berth-Build-Ssh", b64(&serde_json::json!(sockets))));
    }
    Ok(headers)
}

pub async fn build(ctx: &Ctx, a: BuildArgs) -> Result {
    if !["auto", "plain", "tty", "quiet"].contains(&a.progress.as_str()) {
        return Err(bad(ctx, &a.progress, "--progress", "use auto, plain, tty or quiet"));
    }
    let outputs = a
        .output
        .iter()
        .map(|o| output(o).map_err(|e| bad(ctx, o, "-o, --output", &e)))
        .collect::<Result<Vec<_>>>()?;
    if outputs.len() > 1 {
        return Err(Failure::new(1, "multiple outputs are not supported: give one --output"));
    }
    let mut q = query(ctx, &a)?;
    // BuildKit's view on a terminal (stderr): asked with `tty`, or by `auto` when it is one.
    let tty = berth_client::terminal::is_tty(2);
    q.live = !q.quiet && (a.progress == "tty" || (a.progress == "auto" && tty));
    let view = q.live.then(|| {
        let width = berth_client::terminal::columns_of(2).filter(|w| *w > 0).unwrap_or(80);
        crate::build_view::View::new(std::io::stderr(), width)
    });
    let (body, dockerfile, sender) = context_body(&a)?;
    q.dockerfile = dockerfile;
    q.remote = is_remote(&a.context).then(|| a.context.clone());
    let config = berth_client::config::Config::load(&crate::common::config_dir())
        .map(|c| c.all_credentials())
        .unwrap_or_default();
    let registry_config = berth_client::config::registry_config(&config);
    let extra = session_headers(ctx, &a)?;
    let sent = ctx.client.images().build(&q, &registry_config, &extra, body).await;
    // A context that could not be read is the error to tell, before the daemon's.
    let size = match sender.map(|h| h.join()) {
        Some(Ok(Err(e))) => return Err(Failure::new(1, e.to_string())),
        Some(Ok(Ok(n))) => Some(n),
        _ => None,
    };
    let r = sent?;
    let to_stdout = matches!(outputs.first(), Some(Output::Tar { dest }) if dest == "-");
    let (id, text) = show(r, q.quiet || to_stdout, size, view).await?;
    if q.quiet {
        print!("{text}");
    }
    let Some(id) = id else { return Err(Failure::new(1, "the build ended without an image ID")) };
    if let Some(f) = &a.iidfile {
        std::fs::write(f, &id).map_err(|e| {
            Failure::new(1, format!("writing image ID to {f}: {}", crate::common::io_text(&e)))
        })?;
    }
    match outputs.into_iter().next() {
        None | Some(Output::Docker { dest: None }) => Ok(()),
        Some(Output::Docker { dest: Some(d) }) => {
            let r = ctx.client.images().save(&[id]).await?;
            write_to(r, &d).await
        }
        Some(Output::Local { dest }) => export(ctx, &id, |r| unpack(r, &dest)).await,
        Some(Output::Tar { dest }) => export(ctx, &id, |r| async move { write_to(r, &dest).await }).await,
    }
}

/// Shows the build's stream (kept instead when `quiet`, drawn as BuildKit draws it with a
/// `view`): the image ID and the text kept.
async fn show(
    r: berth_client::Response,
    quiet: bool,
    size: Option<u64>,
    mut view: Option<crate::build_view::View<std::io::Stderr>>,
) -> Result<(Option<String>, String)> {
    let mut out = std::io::stdout();
    if let (false, None, Some(n)) = (quiet, &view, size) {
        let _ =
            writeln!(out, "Sending build context to Docker daemon  {}", crate::units::human_size(n as f64));
    }
    let mut messages = berth_client::Messages::new(r);
    let (mut id, mut kept) = (None, String::new());
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
    loop {
        let next = match view.as_mut() {
            Some(v) => tokio::select! {
                m = messages.next() => m?,
                _ = tick.tick() => {
                    v.draw(false);
                    continue;
                }
            },
            None => messages.next().await?,
        };
        let Some(m) = next else { break };
        if let Some(e) = m.error_message() {
            // A failed command ends the CLI with its exit code, as the docker CLI does.
            let code = m.error_detail.as_ref().map(|d| d.code).filter(|c| *c > 0).unwrap_or(1);
            if quiet && !kept.is_empty() {
                eprint!("{kept}");
            }
            if let Some(v) = view.as_mut() {
                v.draw(true);
                if let Some((step, logs)) = v.failed_logs() {
                    eprintln!("------\n > {step}:");
                    for l in logs {
                        eprintln!("{l}");
                    }
                    eprintln!("------");
                }
            }
            return Err(Failure::new(code as i32, e.to_string()));
        }
        if let (Some(v), Some(aux)) = (view.as_mut(), m.aux.as_ref()) {
            match m.id.as_str() {
                "berth.build.step" => {
                    if let Ok(e) = serde_json::from_value(aux.clone()) {
                        v.step(e);
                        v.draw(false);
                    }
                    continue;
                }
                "berth.build.log" => {
                    if let Ok(e) = serde_json::from_value(aux.clone()) {
                        v.log(e);
                    }
                    continue;
                }
                _ => {}
            }
        }
        if let Some(v) = m.aux.as_ref().and_then(|a| a.get("ID")).and_then(|v| v.as_str()) {
            id = Some(v.to_string());
            continue;
        }
        if view.is_some() {
            // The classic stream's text is what the view draws.
            continue;
        }
        if quiet {
            kept.push_str(&m.stream);
        } else if !m.stream.is_empty() {
            let _ = out.write_all(m.stream.as_bytes());
            let _ = out.flush();
        } else if !m.status.is_empty() {
            let _ = writeln!(
                out,
                "{}{}",
                if m.id.is_empty() { String::new() } else { format!("{}: ", m.id) },
                m.status
            );
        }
    }
    if let Some(v) = view.as_mut() {
        v.draw(true);
    }
    Ok((id, kept))
}

/// The image's filesystem, read through a container made for it (never started) and removed.
async fn export<F, Fut>(ctx: &Ctx, image: &str, use_it: F) -> Result
where
    F: FnOnce(berth_client::Response) -> Fut,
    Fut: std::future::Future<Output = Result>,
{
    let containers = ctx.client.containers();
    let body =
        serde_json::json!({ "Image": image, "Cmd": ["true"], "Labels": { "org.berth.build": "export" } });
    let created = containers.create(None, None, &body).await?;
    let result = match containers.export(&created.id).await {
        Ok(r) => use_it(r).await,
        Err(e) => Err(e.into()),
    };
    let rm = berth_client::containers::RemoveQuery { force: true, volumes: true, ..Default::default() };
    let _ = containers.remove(&created.id, &rm).await;
    result
}

async fn write_to(r: berth_client::Response, dest: &str) -> Result {
    let out = crate::files::output(Some(dest).filter(|d| *d != "-"), "export the build's result")?;
    crate::files::copy_body(r, out).await
}

/// Unpacks the exported filesystem into `dest`, which is made if missing.
async fn unpack(r: berth_client::Response, dest: &str) -> Result {
    std::fs::create_dir_all(dest)
        .map_err(|e| Failure::new(1, format!("creating {dest}: {}", crate::common::io_text(&e))))?;
    let tmp = tempfile::NamedTempFile::new_in(dest).map_err(|e| Failure::new(1, e.to_string()))?;
    let path = tmp.path().to_path_buf();
    write_to(r, &path.to_string_lossy()).await?;
    let f = std::fs::File::open(&path).map_err(|e| Failure::new(1, e.to_string()))?;
    drop(tmp);
    let mut ar = tar::Archive::new(f);
    ar.set_preserve_permissions(true);
    ar.set_overwrite(true);
    // The tar crate's unpack refuses entries that would land outside `dest`.
    ar.unpack(dest).map_err(|e| Failure::new(1, format!("unpacking into {dest}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_read_as_buildx_reads_them() {
        let cases: &[(&str, std::result::Result<Output, &str>)] = &[
            ("-", Ok(Output::Tar { dest: "-".into() })),
            ("out", Ok(Output::Local { dest: "out".into() })),
            ("type=local,dest=out", Ok(Output::Local { dest: "out".into() })),
            ("type=tar,dest=fs.tar", Ok(Output::Tar { dest: "fs.tar".into() })),
            ("type=docker", Ok(Output::Docker { dest: None })),
            ("type=docker,dest=img.tar", Ok(Output::Docker { dest: Some("img.tar".into()) })),
            ("type=local", Err("dest is required for local output")),
            ("type=oci,dest=x", Err("output type \"oci\" is not supported: use docker, local or tar")),
            ("dest=x", Err("type is required for output")),
        ];
        for (v, want) in cases {
            assert_eq!(output(v), want.clone().map_err(|e| e.to_string()), "{v}");
        }
    }

    #[test]
    fn build_args_without_a_value_come_from_the_environment() {
        std::env::set_var("BERTH_TEST_BUILD_ARG", "from env");
        let got =
            build_args(&["A=1".into(), "B=".into(), "BERTH_TEST_BUILD_ARG".into(), "BERTH_UNSET_ARG".into()]);
        assert_eq!(got.get("A"), Some(&Some("1".into())));
        assert_eq!(got.get("B"), Some(&Some(String::new())));
        assert_eq!(got.get("BERTH_TEST_BUILD_ARG"), Some(&Some("from env".into())));
        assert_eq!(got.get("BERTH_UNSET_ARG"), Some(&None));
        assert_eq!(
            labels(&["a=b".into(), "c".into()]),
            BTreeMap::from([("a".into(), "b".into()), ("c".into(), String::new())])
        );
    }
}
