//! Volume commands.

use serde_json::{json, Value};

use crate::cmd::*;
use crate::common::{filters, for_each};
use crate::template::{render_rows, Format, Row};
use crate::{Ctx, Failure, Result};

const VOLUMES_TABLE: &str = "table {{.Driver}}\t{{.Name}}";
const VOLUMES_HEADERS: &[(&str, &str)] = &[
    ("Driver", "DRIVER"),
    ("Name", "VOLUME NAME"),
    ("Mountpoint", "MOUNTPOINT"),
    ("Scope", "SCOPE"),
    ("Labels", "LABELS"),
    ("Size", "SIZE"),
    ("Links", "LINKS"),
    ("Availability", "AVAILABILITY"),
    ("Group", "GROUP"),
    ("Status", "STATUS"),
];

/// A volume's row for `volume ls` (and its `--format` fields).
pub(crate) fn volume_row(v: &Value) -> Row {
    let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
    let labels: std::collections::BTreeMap<String, String> = v["Labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, val)| (k.clone(), val.as_str().unwrap_or("").to_string()))
        .collect();
    let label_text = labels.iter().map(|(k, val)| format!("{k}={val}")).collect::<Vec<_>>().join(",");
    let (size, links) = match v.get("UsageData").filter(|u| !u.is_null()) {
        Some(u) => (
            crate::units::human_size(u["Size"].as_f64().unwrap_or(0.0)),
            u["RefCount"].as_i64().unwrap_or(0).to_string(),
        ),
        None => ("N/A".into(), "N/A".into()),
    };
    Row {
        fields: vec![
            ("Availability", "N/A".into()),
            ("Driver", s("Driver")),
            ("Group", "N/A".into()),
            ("Labels", label_text),
            ("Links", links),
            ("Mountpoint", s("Mountpoint")),
            ("Name", s("Name")),
            ("Scope", s("Scope")),
            ("Size", size),
            ("Status", "N/A".into()),
        ],
        nulls: &[],
        labels,
    }
}

pub async fn create(ctx: &Ctx, a: VolumeCreateArgs) -> Result {
    let name = match (a.name, a.name_flag) {
        (Some(n), Some(f)) if n != f => return Err(Failure::new(
            125,
            "conflicting options: cannot specify a volume-name through both --name and as a positional arg",
        )),
        (n, f) => n.or(f).unwrap_or_default(),
    };
    let body = json!({
        "Name": name,
        "Driver": a.driver,
        "DriverOpts": crate::opts::key_values(&a.opt),
        "Labels": crate::opts::key_values(&a.label),
    });
    println!("{}", ctx.client.volumes().create(&body).await?);
    Ok(())
}

pub async fn ls(ctx: &Ctx, a: VolumeLsArgs) -> Result {
    let mut items = ctx.client.volumes().list(filters(&a.filter)?).await?;
    items.sort_by(|x, y| x["Name"].as_str().cmp(&y["Name"].as_str()));
    if a.quiet {
        for i in &items {
            println!("{}", i["Name"].as_str().unwrap_or(""));
        }
        return Ok(());
    }
    let rows: Vec<Row> = items.iter().map(volume_row).collect();
    let format = match a.format.or_else(|| crate::common::config_key("volumesFormat")) {
        Some(f) => Format::parse(&f),
        None => Format::Table(None),
    };
    print!(
        "{}",
        render_rows(&format, VOLUMES_TABLE, VOLUMES_HEADERS, &rows).map_err(|e| Failure::new(1, e))?
    );
    Ok(())
}

pub async fn rm(ctx: &Ctx, a: VolumeRmArgs) -> Result {
    let force = a.force;
    for_each(&a.names, |name| async move {
        ctx.client.volumes().remove(name, force).await?;
        Ok(name.to_string())
    })
    .await
}

pub async fn prune(ctx: &Ctx, a: VolumePruneArgs) -> Result {
    if !a.force {
        crate::common::confirm(if a.all {
            "WARNING! This will remove all local volumes not used by at least one container."
        } else {
            "WARNING! This will remove anonymous local volumes not used by at least one container."
        })?;
    }
    let mut f = a.filter.clone();
    if a.all {
        f.push("all=true".into());
    }
    let (space, out) = crate::common::prune_section(ctx, berth_client::system::Prunable::Volumes, &f).await?;
    if !out.is_empty() {
        println!("{out}");
    }
    println!("Total reclaimed space: {}", crate::units::human_size_precision(space, 4));
    Ok(())
}
