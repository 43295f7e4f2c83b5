//! `manifest inspect`: a manifest or manifest list read from its registry by the CLI itself,
//! as the docker CLI does (no daemon involved), with the credentials of the client
//! configuration.

use base64::Engine as _;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::{Failure, Result};

#[derive(Subcommand, Debug)]
pub enum ManifestCmd {
    /// Display an image manifest, or manifest list
    Inspect(InspectArgs),
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Allow communication with an insecure registry
    #[arg(long)]
    pub insecure: bool,
    /// Output additional info including layers and platform
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// A manifest list and one of its manifests, or one manifest
    #[arg(value_name = "MANIFEST_LIST] [MANIFEST", num_args = 1..=2, required = true)]
    pub names: Vec<String>,
}

/// JSON as the docker CLI prints a manifest, keys in their order: indented with `indent` (a
/// tab, but three spaces for a bare manifest list).
fn indented(v: &Value, indent: &[u8]) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(v, &mut ser).expect("json");
    String::from_utf8(out).expect("utf-8")
}

fn parse(bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes)
        .map_err(|e| Failure::new(1, format!("the registry's manifest is not JSON: {e}")))
}

/// The verbose form of one image: its reference, descriptor (with the platform), the raw
/// bytes, and the manifest under its kind's name.
async fn verbose_one(session: &berth_distribution::Session, reference: &str) -> Result<Value> {
    let (bytes, digest, media_type) =
        session.raw_manifest().await.map_err(|e| Failure::new(1, e.to_string()))?;
    let described = session.describe().await.map_err(|e| Failure::new(1, e.to_string()))?;
    let mut descriptor = json!({"mediaType": media_type, "digest": digest, "size": bytes.len()});
    if let Some(p) = described.platforms.first() {
        let mut platform = json!({"architecture": p.architecture, "os": p.os});
        if !p.variant.is_empty() {
            platform["variant"] = p.variant.clone().into();
        }
        descriptor["platform"] = platform;
    }
    let key =
        if media_type == berth_oci::media::DOCKER_MANIFEST { "SchemaV2Manifest" } else { "OCIManifest" };
    let mut out = json!({
        "Ref": reference,
        "Descriptor": descriptor,
        "Raw": base64::engine::general_purpose::STANDARD.encode(&bytes),
    });
    out[key] = parse(&bytes)?;
    Ok(out)
}

pub async fn run(cmd: ManifestCmd) -> Result {
    let ManifestCmd::Inspect(a) = cmd;
    let name = a.names.last().expect("one name at least").clone();
    let reference =
        berth_oci::Reference::parse(&name).map_err(|e| Failure::new(1, e.to_string()))?.with_default_tag();
    let insecure = if a.insecure { vec![reference.domain().to_string()] } else { vec![] };
    let config =
        berth_distribution::RegistryConfig::new(&insecure).map_err(|e| Failure::new(1, e.to_string()))?;
    let key = berth_client::config::auth_key(reference.domain());
    let creds = berth_client::config::Config::load(&crate::common::config_dir())
        .ok()
        .and_then(|c| c.credentials(key).ok().flatten())
        .map(|c| match c.username.as_str() {
            "<token>" => berth_distribution::Credentials { identity_token: c.secret, ..Default::default() },
            _ => berth_distribution::Credentials {
                username: c.username,
                password: c.secret,
                ..Default::default()
            },
        })
        .unwrap_or_default();
    let registry = berth_distribution::Registry::new(config);
    let missing = || Failure::new(1, format!("no such manifest: {reference}"));
    let session =
        registry.session(&reference, &creds, berth_distribution::Operation::Pull).await.map_err(|e| {
            match berth_kind::Kinded::kind(&e) {
                berth_kind::Kind::NotFound => missing(),
                _ => Failure::new(1, e.to_string()),
            }
        })?;
    let (bytes, _, media_type) =
        session.raw_manifest().await.map_err(|e| match berth_kind::Kinded::kind(&e) {
            berth_kind::Kind::NotFound => missing(),
            _ => Failure::new(1, e.to_string()),
        })?;
    let list =
        media_type == berth_oci::media::OCI_INDEX || media_type == berth_oci::media::DOCKER_MANIFEST_LIST;
    let out = match (a.verbose, list) {
        (false, _) => parse(&bytes)?,
        (true, false) => verbose_one(&session, &reference.to_string()).await?,
        (true, true) => {
            let index = parse(&bytes)?;
            let mut entries = Vec::new();
            for m in index["manifests"].as_array().into_iter().flatten() {
                let digest = m["digest"].as_str().unwrap_or_default();
                let one = session.by_digest(digest);
                entries.push(verbose_one(&one, &format!("{reference}@{digest}")).await?);
            }
            Value::Array(entries)
        }
    };
    let indent: &[u8] = if list && !a.verbose { b"   " } else { b"\t" };
    println!("{}", indented(&out, indent));
    Ok(())
}
