//! `inspect`, `version`, `info`, and the client's configuration file.

use berth_client::{ErrorKind, Kinded};
use serde_json::{json, Value};

use crate::cmd::FormatOnly;
use crate::common::{confirm, pretty, prune_section};
use crate::template::{from_json, Tmpl};
use crate::{Ctx, Failure, Result};
use berth_client::system::Prunable;

pub async fn inspect(
    ctx: &Ctx,
    format: Option<String>,
    size: bool,
    kind: Option<&str>,
    names: Vec<String>,
) -> Result {
    let tmpl = match format.as_deref().filter(|f| !f.is_empty()) {
        Some("json") | None => None,
        Some(f) => Some(Tmpl::new(f).map_err(|e| Failure::new(1, e))?),
    };
    let mut found = Vec::new();
    let mut failed = false;
    for name in &names {
        // Errors as whole lines: Docker words a missing container or image itself, and shows
        // the daemon's answer for a volume.
        let mut result = Err(format!("Error: No such object: {name}"));
        for k in ["container", "image", "network", "volume"] {
            if kind.is_some_and(|want| want != k) {
                continue;
            }
            let found = match k {
                "container" => ctx.client.containers().inspect_json(name, size).await,
                "image" => ctx.client.images().inspect_json(name).await,
                "network" => ctx.client.networks().inspect_json(name).await,
                _ => ctx.client.volumes().inspect_json(name).await,
            };
            match found {
                Ok(v) => {
                    result = Ok(v);
                    break;
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    if kind.is_some() {
                        result = Err(if k == "volume" || k == "network" {
                            e.to_string()
                        } else {
                            format!("Error: {}", e.message())
                        });
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        match result {
            Ok(v) => found.push(v),
            Err(m) => {
                failed = true;
                if tmpl.is_some() {
                    eprintln!("{m}");
                } else {
                    // Printed after the JSON, as the docker CLI does.
                    found.push(json!({"__error": m}));
                }
            }
        }
    }
    let errors: Vec<String> =
        found.iter().filter_map(|v| v["__error"].as_str().map(str::to_string)).collect();
    found.retain(|v| v.get("__error").is_none());
    match &tmpl {
        Some(t) => {
            for v in &found {
                println!("{}", t.render(&from_json(v)).map_err(|e| Failure::new(1, e))?);
            }
        }
        None => println!("{}", pretty(&Value::Array(found))),
    }
    for m in errors {
        eprintln!("{m}");
    }
    if failed {
        Err(Failure::exit(1))
    } else {
        Ok(())
    }
}

fn client_version(api: &str) -> Value {
    json!({
        "Platform": {"Name": ""},
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": api,
        "DefaultAPIVersion": berth_client::API_VERSION.to_string(),
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": berth_oci::platform::host_arch(),
        "BuildTime": "",
        "Context": "default",
    })
}

pub async fn version(ctx: &Ctx, a: FormatOnly) -> Result {
    let server = ctx.client.system().version().await;
    let api = ctx.client.version().await.unwrap_or(&berth_client::API_VERSION.to_string()).to_string();
    let client = client_version(&api);
    if let Some(f) = a.format.as_deref().filter(|f| !f.is_empty()) {
        let data = json!({"Client": client, "Server": server.as_ref().ok()});
        let out = if f == "json" {
            crate::template::go_json(&data)
        } else {
            Tmpl::new(f).and_then(|t| t.render(&from_json(&data))).map_err(|e| Failure::new(1, e))?
        };
        println!("{out}");
        return server.map(|_| ()).map_err(Into::into);
    }
    println!("Client:");
    println!(" Version:           {}", client["Version"].as_str().unwrap_or(""));
    println!(" API version:       {api}");
    println!(" OS/Arch:           linux/{}", berth_oci::platform::host_arch());
    println!(" Context:           default");
    let s = server?;
    println!();
    println!("Server: {}", s["Platform"]["Name"].as_str().unwrap_or(""));
    for c in s["Components"].as_array().into_iter().flatten() {
        println!(" {}:", c["Name"].as_str().unwrap_or(""));
        println!("  Version:          {}", c["Version"].as_str().unwrap_or(""));
        let d = &c["Details"];
        if let Some(api) = d["ApiVersion"].as_str() {
            println!(
                "  API version:      {api} (minimum version {})",
                d["MinAPIVersion"].as_str().unwrap_or("")
            );
        }
        if let Some(g) = d["GitCommit"].as_str() {
            println!("  Git commit:       {g}");
        }
        if let (Some(os), Some(arch)) = (d["Os"].as_str(), d["Arch"].as_str()) {
            println!("  OS/Arch:          {os}/{arch}");
        }
        if let Some(e) = d["Experimental"].as_str() {
            println!("  Experimental:     {e}");
        }
    }
    Ok(())
}

pub async fn info(ctx: &Ctx, a: FormatOnly) -> Result {
    let i = ctx.client.system().info().await?;
    if let Some(f) = a.format.as_deref().filter(|f| !f.is_empty()) {
        let out = if f == "json" {
            crate::template::go_json(&i)
        } else {
            Tmpl::new(f).and_then(|t| t.render(&from_json(&i))).map_err(|e| Failure::new(1, e))?
        };
        println!("{out}");
        return Ok(());
    }
    let s = |k: &str| match &i[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    };
    println!("Client:");
    println!(" Version:    {}", env!("CARGO_PKG_VERSION"));
    println!(" Context:    default");
    println!(" Debug Mode: false");
    println!();
    println!("Server:");
    println!(" Containers: {}", s("Containers"));
    println!("  Running: {}", s("ContainersRunning"));
    println!("  Paused: {}", s("ContainersPaused"));
    println!("  Stopped: {}", s("ContainersStopped"));
    println!(" Images: {}", s("Images"));
    println!(" Server Version: {}", s("ServerVersion"));
    println!(" Storage Driver: {}", s("Driver"));
    for pair in i["DriverStatus"].as_array().into_iter().flatten() {
        if let [k, v] = pair.as_array().map(Vec::as_slice).unwrap_or(&[]) {
            println!("  {}: {}", k.as_str().unwrap_or(""), v.as_str().unwrap_or(""));
        }
    }
    println!(" Logging Driver: {}", s("LoggingDriver"));
    println!(" Cgroup Driver: {}", s("CgroupDriver"));
    println!(" Cgroup Version: {}", s("CgroupVersion"));
    let runtimes: Vec<&String> = i["Runtimes"].as_object().into_iter().flatten().map(|(k, _)| k).collect();
    println!(" Runtimes: {}", runtimes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "));
    println!(" Default Runtime: {}", s("DefaultRuntime"));
    println!(" Init Binary: {}", s("InitBinary"));
    println!(" Security Options:");
    for o in i["SecurityOptions"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        for (n, part) in o.split(',').enumerate() {
            let text = part.strip_prefix("name=").unwrap_or(part);
            if n == 0 {
                println!("  {text}");
            } else {
                let (k, v) = text.split_once('=').unwrap_or((text, ""));
                println!(
                    "   {}: {v}",
                    k.chars()
                        .next()
                        .map(|c| c.to_uppercase().collect::<String>() + &k[c.len_utf8()..])
                        .unwrap_or_default()
                );
            }
        }
    }
    println!(" Kernel Version: {}", s("KernelVersion"));
    println!(" Operating System: {}", s("OperatingSystem"));
    println!(" OSType: {}", s("OSType"));
    println!(" Architecture: {}", s("Architecture"));
    println!(" CPUs: {}", s("NCPU"));
    println!(" Total Memory: {}", crate::units::bytes_size(i["MemTotal"].as_f64().unwrap_or(0.0)));
    println!(" Name: {}", s("Name"));
    println!(" ID: {}", s("ID"));
    println!(" Docker Root Dir: {}", s("DockerRootDir"));
    println!(" Debug Mode: {}", s("Debug"));
    println!(" Experimental: {}", s("ExperimentalBuild"));
    println!(" Live Restore Enabled: {}", s("LiveRestoreEnabled"));
    println!();
    Ok(())
}

fn reclaimed_line(bytes: f64) -> String {
    format!("Total reclaimed space: {}", crate::units::human_size_precision(bytes, 4))
}

/// `container prune` and `image prune`.
pub async fn prune(ctx: &Ctx, what: Prunable, a: crate::cmd::PruneArgs) -> Result {
    if !a.force {
        let warning = match (what, a.all) {
            (Prunable::Containers, _) => "WARNING! This will remove all stopped containers.",
            (Prunable::BuildCache, true) => "WARNING! This will remove all build cache.",
            (Prunable::BuildCache, false) => "WARNING! This will remove all dangling build cache.",
            (_, true) => {
                "WARNING! This will remove all images without at least one container associated to them."
            }
            _ => "WARNING! This will remove all dangling images.",
        };
        confirm(warning)?;
    }
    let mut f = a.filter.clone();
    if what == Prunable::Images {
        f.push(format!("dangling={}", !a.all));
    }
    let extra = if what == Prunable::BuildCache && a.all { vec![("all", "1".to_string())] } else { vec![] };
    let (space, out) = crate::common::prune_section_with(ctx, what, &f, extra).await?;
    if !out.is_empty() {
        println!("{out}");
    }
    println!("{}", reclaimed_line(space));
    Ok(())
}

/// `system prune`: stopped containers, unused networks, (anonymous volumes,) dangling (or
/// unused) images, one after the other, as the docker CLI does them.
pub async fn system_prune(ctx: &Ctx, a: crate::cmd::SystemPruneArgs) -> Result {
    if !a.force {
        let mut w = String::from("WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n");
        if a.volumes {
            w.push_str("  - all anonymous volumes not used by at least one container\n");
        }
        w.push_str(if a.all {
            "  - all images without at least one container associated to them\n  - all build cache\n"
        } else {
            "  - all dangling images\n  - unused build cache\n"
        });
        confirm(&w)?;
    }
    let mut total = 0.0;
    let mut kinds = vec![Prunable::Containers, Prunable::Networks];
    if a.volumes {
        kinds.push(Prunable::Volumes);
    }
    kinds.push(Prunable::Images);
    for what in kinds {
        let mut f = a.filter.clone();
        if what == Prunable::Images {
            f.push(format!("dangling={}", !a.all));
        }
        let (space, out) = prune_section(ctx, what, &f).await?;
        total += space;
        if !out.is_empty() {
            println!("{out}");
        }
    }
    println!("{}", reclaimed_line(total));
    Ok(())
}

/// `system df -v`: each kind of object on its own, as the docker CLI lays it out.
fn df_verbose(v: &Value) -> std::result::Result<String, Failure> {
    use crate::template::{render_rows, Format, Row};
    let now = chrono::Utc::now().timestamp();
    let table = |default: &str, headers: &[(&str, &str)], rows: &[Row]| {
        render_rows(&Format::Table(None), default, headers, rows).map_err(|e| Failure::new(1, e))
    };
    let mut out = String::from("Images space usage:\n\n");
    let images: Vec<Row> = v["Images"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|i| crate::image::image_rows(i, true, now))
        .collect();
    out.push_str(&table(
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
        &[("Repository", "REPOSITORY"), ("Tag", "TAG"), ("ID", "IMAGE ID"), ("CreatedSince", "CREATED"), ("Size", "SIZE"), ("SharedSize", "SHARED SIZE"), ("UniqueSize", "UNIQUE SIZE"), ("Containers", "CONTAINERS")],
        &images,
    )?);
    out.push_str("\nContainers space usage:\n\n");
    let containers: Vec<Row> = v["Containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let mut r = crate::container::ps_row(c, true, now);
            // Here the size is the writable layer's alone.
            let rw = crate::units::human_size(c["SizeRw"].as_f64().unwrap_or(0.0));
            for (k, val) in &mut r.fields {
                if *k == "Size" {
                    *val = rw.clone();
                }
            }
            r
        })
        .collect();
    out.push_str(&table(
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
        &[("ID", "CONTAINER ID"), ("Image", "IMAGE"), ("Command", "COMMAND"), ("LocalVolumes", "LOCAL VOLUMES"), ("Size", "SIZE"), ("RunningFor", "CREATED"), ("Status", "STATUS"), ("Names", "NAMES")],
        &containers,
    )?);
    out.push_str("\nLocal Volumes space usage:\n\n");
    let volumes: Vec<Row> = v["Volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| Row {
            fields: vec![
                ("Name", x["Name"].as_str().unwrap_or("").to_string()),
                ("Links", x["UsageData"]["RefCount"].as_i64().unwrap_or(0).to_string()),
                (
                    "Size",
                    crate::units::human_size_precision(
                        x["UsageData"]["Size"].as_f64().unwrap_or(0.0).max(0.0),
                        4,
                    ),
                ),
            ],
            nulls: &[],
            labels: Default::default(),
        })
        .collect();
    out.push_str(&table(
        "table {{.Name}}\t{{.Links}}\t{{.Size}}",
        &[("Name", "VOLUME NAME"), ("Links", "LINKS"), ("Size", "SIZE")],
        &volumes,
    )?);
    let cache = v["BuildCache"].as_array().cloned().unwrap_or_default();
    let total: f64 = cache.iter().map(|c| c["Size"].as_f64().unwrap_or(0.0)).sum();
    out.push_str(&format!("\nBuild cache usage: {}\n\n", crate::units::human_size_precision(total, 4)));
    let rows: Vec<Row> = cache
        .iter()
        .map(|c| Row {
            fields: vec![
                ("ID", c["ID"].as_str().unwrap_or("").chars().take(12).collect()),
                ("CacheType", c["Type"].as_str().unwrap_or("").to_string()),
                ("Size", crate::units::human_size_precision(c["Size"].as_f64().unwrap_or(0.0), 4)),
                ("CreatedSince", String::new()),
                ("LastUsedSince", String::new()),
                ("UsageCount", c["UsageCount"].as_i64().unwrap_or(0).to_string()),
                ("Shared", c["Shared"].as_bool().unwrap_or(false).to_string()),
            ],
            nulls: &[],
            labels: Default::default(),
        })
        .collect();
    out.push_str(&table(
        "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}",
        &[("ID", "CACHE ID"), ("CacheType", "CACHE TYPE"), ("Size", "SIZE"), ("CreatedSince", "CREATED"), ("LastUsedSince", "LAST USED"), ("UsageCount", "USAGE"), ("Shared", "SHARED")],
        &rows,
    )?);
    Ok(out)
}

/// `reclaimable (pct%)` as `system df` prints it.
fn reclaimable(reclaim: i64, total: i64) -> String {
    let r = crate::units::human_size_precision(reclaim as f64, 4);
    if total > 0 {
        format!("{r} ({}%)", reclaim * 100 / total)
    } else {
        r
    }
}

pub async fn df(ctx: &Ctx, a: crate::cmd::DfArgs) -> Result {
    use crate::template::{render_rows, Format, Row};
    let v = ctx.client.system().df().await?;
    let list = |k: &str| v[k].as_array().cloned().unwrap_or_default();
    let n = |x: &Value| x.as_i64().unwrap_or(0);
    let hs = |x: i64| crate::units::human_size_precision(x as f64, 4);
    let images = list("Images");
    let layers = n(&v["LayersSize"]);
    let used: i64 = images
        .iter()
        .filter(|i| n(&i["Containers"]) != 0 && n(&i["SharedSize"]) != -1 && n(&i["Size"]) != -1)
        .map(|i| n(&i["Size"]) - n(&i["SharedSize"]))
        .sum();
    let containers = list("Containers");
    let active = |c: &&Value| {
        let s = c["State"].as_str().unwrap_or("");
        s.contains("running") || s.contains("paused") || s.contains("restarting")
    };
    let c_size: i64 = containers.iter().map(|c| n(&c["SizeRw"])).sum();
    let c_reclaim: i64 = containers.iter().filter(|c| !active(c)).map(|c| n(&c["SizeRw"])).sum();
    let volumes = list("Volumes");
    let v_size: i64 = volumes.iter().map(|x| n(&x["UsageData"]["Size"]).max(0)).sum();
    let v_reclaim: i64 = volumes
        .iter()
        .filter(|x| n(&x["UsageData"]["RefCount"]) == 0)
        .map(|x| n(&x["UsageData"]["Size"]).max(0))
        .sum();
    let cache = list("BuildCache");
    let b_size: i64 = cache.iter().map(|x| n(&x["Size"])).sum();
    let b_reclaim: i64 =
        cache.iter().filter(|x| x["InUse"] != true && x["Shared"] != true).map(|x| n(&x["Size"])).sum();
    let row = |t: &str, total: usize, act: usize, size: String, rec: String| Row {
        fields: vec![
            ("Type", t.to_string()),
            ("TotalCount", total.to_string()),
            ("Active", act.to_string()),
            ("Size", size),
            ("Reclaimable", rec),
        ],
        nulls: &[],
        labels: Default::default(),
    };
    let rows = vec![
        row(
            "Images",
            images.len(),
            images.iter().filter(|i| n(&i["Containers"]) > 0).count(),
            hs(layers),
            reclaimable(layers - used, layers),
        ),
        row(
            "Containers",
            containers.len(),
            containers.iter().filter(active).count(),
            hs(c_size),
            reclaimable(c_reclaim, c_size),
        ),
        row(
            "Local Volumes",
            volumes.len(),
            volumes.iter().filter(|x| n(&x["UsageData"]["RefCount"]) > 0).count(),
            hs(v_size),
            reclaimable(v_reclaim, v_size),
        ),
        row(
            "Build Cache",
            cache.len(),
            cache.iter().filter(|x| x["InUse"] == true).count(),
            hs(b_size),
            hs(b_reclaim),
        ),
    ];
    if a.verbose {
        print!("{}", df_verbose(&v)?);
        return Ok(());
    }
    let format = a.format.as_deref().map(Format::parse).unwrap_or(Format::Table(None));
    let headers = [
        ("Type", "TYPE"),
        ("TotalCount", "TOTAL"),
        ("Active", "ACTIVE"),
        ("Size", "SIZE"),
        ("Reclaimable", "RECLAIMABLE"),
    ];
    let out = render_rows(
        &format,
        "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
        &headers,
        &rows,
    )
    .map_err(|e| Failure::new(1, e))?;
    print!("{out}");
    Ok(())
}

/// `system dial-stdio`: relays stdin and stdout to a connection to the daemon, both ways, until
/// either side ends. An `ssh://` client runs this on the far side.
pub async fn dial_stdio(ctx: &Ctx) -> Result {
    // Relaying into another ssh hop would have that hop run dial-stdio again, and so on.
    if matches!(ctx.client.host(), berth_client::Host::Ssh { .. }) {
        return Err(Failure::new(1, "system dial-stdio relays to a local daemon: set -H or DOCKER_HOST to a unix:// or tcp:// address on this side"));
    }
    let conn = ctx.client.dial().await?;
    let (mut from_daemon, mut to_daemon) = tokio::io::split(conn);
    // Stdin's end half-closes the connection; the daemon's end ends the relay (and with it our
    // stdout, which is what tells the far client that the answer is complete).
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut to_daemon).await;
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut to_daemon).await;
    });
    let mut out = tokio::io::stdout();
    let r = tokio::io::copy(&mut from_daemon, &mut out).await;
    let _ = tokio::io::AsyncWriteExt::flush(&mut out).await;
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::new(1, e.to_string())),
    }
}
