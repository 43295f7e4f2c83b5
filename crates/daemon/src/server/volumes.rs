//! `/volumes/…`.

use std::collections::BTreeMap;

use berth_api::shape;
use berth_api::ApiVersion;
use hyper::Method;
use serde_json::json;

use super::{empty, json, not_found_page, Ctx, HResult};
use berth_engine::Volumes;
use berth_engine::{blocking, VolumeCreate};

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateBody {
    name: Option<String>,
    driver: Option<String>,
    driver_opts: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

pub async fn route<B: Volumes>(mut ctx: Ctx<B>, segs: &[&str]) -> HResult {
    let e = ctx.backend.clone();
    let m = ctx.method.clone();
    match (&m, &segs[1..]) {
        (&Method::GET, []) => {
            let f = ctx.filters()?;
            let list = blocking(move || e.volume_list(&f)).await?;
            let vols: Vec<_> = list.iter().map(shape::volume).collect();
            Ok(json(200, &json!({"Volumes": vols, "Warnings": null})))
        }
        (&Method::POST, ["create"]) => {
            let body: CreateBody = ctx.json().await?;
            let req = VolumeCreate {
                name: body.name,
                driver: body.driver,
                options: body.driver_opts.unwrap_or_default(),
                labels: body.labels.unwrap_or_default(),
            };
            let v = blocking(move || e.volume_create(req)).await?;
            Ok(json(201, &shape::volume(&v)))
        }
        (&Method::POST, ["prune"]) => {
            let f = ctx.filters()?;
            let legacy = ctx.version < ApiVersion(1, 42);
            let r = blocking(move || e.volume_prune(&f, legacy)).await?;
            let deleted = if r.deleted.is_empty() { serde_json::Value::Null } else { json!(r.deleted) };
            Ok(json(200, &json!({"VolumesDeleted": deleted, "SpaceReclaimed": r.reclaimed})))
        }
        (&Method::GET, [name]) => {
            let name = name.to_string();
            let v = blocking(move || e.volume_inspect(&name)).await?;
            Ok(json(200, &shape::volume(&v)))
        }
        (&Method::DELETE, [name]) => {
            let (name, force) = (name.to_string(), ctx.flag("force"));
            blocking(move || e.volume_remove(&name, force)).await?;
            Ok(empty(204))
        }
        _ => Err(not_found_page()),
    }
}
