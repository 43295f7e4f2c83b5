//! Image commands.

use std::collections::BTreeMap;

use berth_client::images::Deleted;
use serde_json::Value;

use crate::cmd::*;
use crate::common::{ellipsis, filters, short_id};
use crate::template::{render_rows, Format, Row};
use crate::units::{ago, go_time, human_size};
use crate::{Ctx, Failure, Result};

const IMAGES_TABLE: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
const IMAGES_DIGESTS_TABLE: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
const IMAGES_HEADERS: &[(&str, &str)] = &[
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("ID", "IMAGE ID"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("Containers", "CONTAINERS"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("VirtualSize", "SIZE"),
];
const HISTORY_TABLE: &str = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
const HISTORY_HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedBy", "CREATED BY"),
    ("Size", "SIZE"),
    ("Comment", "COMMENT"),
];

fn strs(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

pub(crate) fn image_rows(img: &Value, trunc: bool, now: i64) -> Vec<Row> {
    let id = img["Id"].as_str().unwrap_or("");
    let created = img["Created"].as_i64().unwrap_or(0);
    let size = img["Size"].as_i64().unwrap_or(0);
    let labels: BTreeMap<String, String> = img["Labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
        .collect();
    let digests = strs(&img["RepoDigests"]);
    let mut tags: Vec<(String, String)> = strs(&img["RepoTags"])
        .into_iter()
        .filter(|t| t != "<none>:<none>")
        .map(|t| match t.rsplit_once(':') {
            Some((r, tag)) if !tag.contains('/') => (r.to_string(), tag.to_string()),
            _ => (t, "<none>".into()),
        })
        .collect();
    if tags.is_empty() {
        let repo = digests.first().and_then(|d| d.split('@').next()).unwrap_or("<none>");
        tags.push((repo.to_string(), "<none>".into()));
    }
    let shown_id = if trunc { short_id(id) } else { id.to_string() };
    let optional = |key: &str| match img[key].as_i64() {
        Some(n) if n >= 0 => crate::units::human_size_precision(n as f64, 4),
        _ => "N/A".into(),
    };
    tags.into_iter()
        .map(|(repo, tag)| {
            let digest = digests
                .iter()
                .find(|d| d.split('@').next() == Some(repo.as_str()))
                .and_then(|d| d.split('@').nth(1))
                .unwrap_or("<none>")
                .to_string();
            Row {
                fields: vec![
                    ("Repository", repo),
                    ("Tag", tag),
                    ("Digest", digest),
                    ("ID", shown_id.clone()),
                    ("CreatedSince", ago(now, created)),
                    ("CreatedAt", go_time(created)),
                    ("Size", human_size(size as f64)),
                    ("VirtualSize", crate::units::human_size_precision(size as f64, 4)),
                    ("SharedSize", optional("SharedSize")),
                    (
                        "UniqueSize",
                        match (img["Size"].as_i64(), img["SharedSize"].as_i64()) {
                            (Some(s), Some(sh)) if sh >= 0 => {
                                crate::units::human_size_precision((s - sh) as f64, 4)
                            }
                            _ => "N/A".into(),
                        },
                    ),
                    (
                        "Containers",
                        match img["Containers"].as_i64() {
                            Some(n) if n >= 0 => n.to_string(),
                            _ => "N/A".into(),
                        },
                    ),
                ],
                nulls: &[],
                labels: labels.clone(),
            }
        })
        .collect()
}

pub async fn images(ctx: &Ctx, a: ImagesArgs) -> Result {
    let mut f = a.filter.clone();
    if let Some(r) = &a.reference {
        f.push(format!("reference={r}"));
    }
    let mut items = ctx.client.images().list(a.all, filters(&f)?).await?;
    items.sort_by_key(|i| std::cmp::Reverse(i["Created"].as_i64().unwrap_or(0)));
    let trunc = !a.no_trunc;
    if a.quiet {
        // One line per row, as in the table (an image with two tags shows twice).
        for i in &items {
            let id = i["Id"].as_str().unwrap_or("");
            let rows = i["RepoTags"].as_array().map_or(1, |t| t.len().max(1));
            for _ in 0..rows {
                println!("{}", if trunc { short_id(id) } else { id.to_string() });
            }
        }
        return Ok(());
    }
    let now = chrono::Utc::now().timestamp();
    let rows: Vec<Row> = items.iter().flat_map(|i| image_rows(i, trunc, now)).collect();
    let format = match a.format.or_else(|| crate::common::config_key("imagesFormat")) {
        Some(f) => Format::parse(&f),
        None => Format::Table(None),
    };
    let default = if a.digests { IMAGES_DIGESTS_TABLE } else { IMAGES_TABLE };
    print!("{}", render_rows(&format, default, IMAGES_HEADERS, &rows).map_err(|e| Failure::new(1, e))?);
    Ok(())
}

pub async fn rmi(ctx: &Ctx, a: RmiArgs) -> Result {
    let (force, no_prune) = (a.force, a.no_prune);
    crate::common::for_each(&a.images, |name| async move {
        let lines: Vec<String> = ctx
            .client
            .images()
            .remove(name, force, no_prune)
            .await?
            .into_iter()
            .map(|d| match d {
                Deleted::Untagged(u) => format!("Untagged: {u}"),
                Deleted::Deleted(d) => format!("Deleted: {d}"),
            })
            .collect();
        Ok(lines.join("\n"))
    })
    .await
}

/// `pull`: the daemon's steps drawn as the docker CLI draws them, then the whole reference.
pub async fn pull(ctx: &Ctx, a: PullArgs) -> Result {
    let reference = berth_oci::Reference::parse(&a.image).map_err(|e| Failure::new(1, e.to_string()))?;
    if a.all_tags && (reference.tag().is_some() || reference.digest().is_some()) {
        return Err(Failure::new(1, "tag can't be used with --all-tags/-a"));
    }
    // Without a tag the daemon pulls every tag (-a); else the CLI names `latest`.
    let reference = if reference.tag().is_none() && reference.digest().is_none() && !a.all_tags {
        if !a.quiet {
            println!("Using default tag: latest");
        }
        reference.with_default_tag()
    } else {
        reference
    };
    let (name, tag) = match reference.tag().or(reference.digest()) {
        Some(_) => crate::common::split_reference(&reference.to_string()),
        None => (reference.name(), String::new()),
    };
    let auth = crate::common::registry_auth(&a.image);
    let r = ctx.client.images().pull(&name, &tag, a.platform.as_deref(), &auth).await?;
    show_transfer(r, a.quiet).await?;
    println!("{reference}");
    Ok(())
}

/// A pull's or push's steps, drawn as the docker CLI draws them (none when `quiet`); an error
/// in the stream ends it.
async fn show_transfer(r: berth_client::Response, quiet: bool) -> Result {
    let tty = berth_client::terminal::is_tty(1) && !quiet;
    let width = berth_client::terminal::columns().filter(|_| tty).unwrap_or(200);
    let mut display = crate::progress::Display::new(std::io::stdout(), tty, width);
    let mut messages = berth_client::Messages::new(r);
    while let Some(m) = messages.next().await? {
        if quiet {
            if let Some(e) = m.error_message() {
                return Err(Failure::new(1, e.to_string()));
            }
            continue;
        }
        display.show(&m).map_err(|e| Failure::new(1, e))?;
    }
    Ok(())
}

/// `push`: the daemon's steps drawn as the docker CLI draws them.
pub async fn push(ctx: &Ctx, a: PushArgs) -> Result {
    let reference = berth_oci::Reference::parse(&a.image).map_err(|e| Failure::new(1, e.to_string()))?;
    if a.all_tags && reference.tag().is_some() {
        return Err(Failure::new(1, "tag can't be used with --all-tags/-a"));
    }
    if reference.digest().is_some() {
        return Err(Failure::new(1, "cannot push a digest reference"));
    }
    // Without a tag, Docker pushes `latest` unless asked for every tag.
    let tag = match (reference.tag(), a.all_tags) {
        (Some(t), _) => t.to_string(),
        (None, true) => String::new(),
        (None, false) => {
            if !a.quiet {
                println!("Using default tag: latest");
            }
            "latest".to_string()
        }
    };
    let auth = crate::common::registry_auth(&a.image);
    let r = ctx.client.images().push(&reference.name(), &tag, &auth).await?;
    show_transfer(r, a.quiet).await?;
    if a.quiet {
        println!("{}", if tag.is_empty() { reference.name() } else { format!("{}:{tag}", reference.name()) });
    }
    Ok(())
}

pub async fn tag(ctx: &Ctx, a: TagArgs) -> Result {
    let (repo, tag) = crate::files::repo_tag(&a.target);
    let tag = if tag.is_empty() { "latest".to_string() } else { tag };
    ctx.client.images().tag(&a.source, &repo, &tag).await?;
    Ok(())
}

pub async fn history(ctx: &Ctx, a: HistoryArgs) -> Result {
    let items = ctx.client.images().history(&a.image).await?;
    let trunc = !a.no_trunc;
    let shown = |id: &str| if id == "<missing>" || !trunc { id.to_string() } else { short_id(id) };
    if a.quiet {
        for h in &items {
            println!("{}", shown(h["Id"].as_str().unwrap_or("")));
        }
        return Ok(());
    }
    let now = chrono::Utc::now().timestamp();
    let rows: Vec<Row> = items
        .iter()
        .map(|h| {
            let created = h["Created"].as_i64().unwrap_or(0);
            let by = h["CreatedBy"].as_str().unwrap_or("").replace('\t', " ");
            let size = h["Size"].as_i64().unwrap_or(0);
            let created_at = chrono::DateTime::from_timestamp(created, 0)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default();
            Row {
                fields: vec![
                    ("ID", shown(h["Id"].as_str().unwrap_or(""))),
                    ("CreatedSince", if a.human { ago(now, created) } else { created_at.clone() }),
                    ("CreatedAt", created_at),
                    ("CreatedBy", if trunc { ellipsis(&by, 45) } else { by }),
                    ("Size", if a.human { human_size(size as f64) } else { size.to_string() }),
                    ("Comment", h["Comment"].as_str().unwrap_or("").to_string()),
                ],
                nulls: &[],
                labels: BTreeMap::new(),
            }
        })
        .collect();
    let format = a.format.as_deref().map(Format::parse).unwrap_or(Format::Table(None));
    print!(
        "{}",
        render_rows(&format, HISTORY_TABLE, HISTORY_HEADERS, &rows).map_err(|e| Failure::new(1, e))?
    );
    Ok(())
}

const SEARCH_TABLE: &str = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}";
const SEARCH_HEADERS: &[(&str, &str)] =
    &[("Name", "NAME"), ("Description", "DESCRIPTION"), ("StarCount", "STARS"), ("IsOfficial", "OFFICIAL")];

/// `search TERM`: the registry's answer as the docker CLI shows it (descriptions cut at 45
/// characters unless `--no-trunc`; `[OK]` for official images in the table).
pub async fn search(ctx: &Ctx, a: SearchArgs) -> Result {
    let auth = crate::common::registry_auth(&a.term);
    let found =
        ctx.client.images().search(&a.term, a.limit, crate::common::filters(&a.filter)?, &auth).await?;
    let format = match &a.format {
        Some(f) => crate::template::Format::parse(f),
        None => crate::template::Format::Table(None),
    };
    let table = matches!(format, crate::template::Format::Table(_));
    let rows: Vec<crate::template::Row> = found
        .iter()
        .map(|r| {
            let mut description = r["description"].as_str().unwrap_or("").replace('\n', " ");
            if !a.no_trunc && description.chars().count() > 45 {
                description = description.chars().take(44).collect::<String>() + "…";
            }
            let flag = |k: &str| {
                let on = r[k].as_bool().unwrap_or(false);
                match (table, on) {
                    (true, true) => "[OK]".to_string(),
                    (true, false) => String::new(),
                    (false, v) => v.to_string(),
                }
            };
            crate::template::Row {
                fields: vec![
                    ("Description", description),
                    ("IsOfficial", flag("is_official")),
                    ("Name", r["name"].as_str().unwrap_or("").to_string()),
                    ("StarCount", r["star_count"].as_u64().unwrap_or(0).to_string()),
                ],
                nulls: &[],
                labels: Default::default(),
            }
        })
        .collect();
    print!(
        "{}",
        crate::template::render_rows(&format, SEARCH_TABLE, SEARCH_HEADERS, &rows)
            .map_err(|e| Failure::new(1, e))?
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn image_rows_as_dockers() {
        let img = json!({"Id": "sha256:0123456789abcdef", "Created": 0, "Size": 4262912, "RepoTags": ["busybox:latest", "reg:5000/bb:1"], "RepoDigests": [], "SharedSize": -1, "Containers": -1});
        let rows = image_rows(&img, true, 120);
        let f: Vec<BTreeMap<_, _>> = rows.into_iter().map(|r| r.fields.into_iter().collect()).collect();
        assert_eq!((f[0]["Repository"].as_str(), f[0]["Tag"].as_str()), ("busybox", "latest"));
        assert_eq!((f[1]["Repository"].as_str(), f[1]["Tag"].as_str()), ("reg:5000/bb", "1"));
        assert_eq!(f[0]["ID"], "0123456789ab");
        assert_eq!(f[0]["Size"], "4.26MB");
        assert_eq!(f[0]["CreatedSince"], "2 minutes ago");
        assert_eq!((f[0]["SharedSize"].as_str(), f[0]["Containers"].as_str()), ("N/A", "N/A"));
        let dangling = image_rows(&json!({"Id": "sha256:ab", "RepoTags": []}), true, 0);
        let f: BTreeMap<_, _> = dangling[0].fields.iter().cloned().collect();
        assert_eq!((f["Repository"].as_str(), f["Tag"].as_str()), ("<none>", "<none>"));
    }
}
