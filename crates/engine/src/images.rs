//! Image operations as the API offers them: the image store's, with the containers that use
//! images (for removal conflicts and prune) and the events Docker publishes.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use berth_api::Filters;
use berth_image::{DeleteItem, ImageUser, ImportOptions, ListFilters, SaveFormat};

use super::Engine;
use crate::error::{EngineError, Result};

impl Engine {
    /// The containers that use images.
    pub fn image_users(&self) -> Vec<ImageUser> {
        self.containers()
            .iter()
            .filter_map(|c| {
                let r = c.rec();
                Some(ImageUser {
                    image: r.image_id.parse().ok()?,
                    container: r.id.clone(),
                    running: r.state.status.is_live(),
                })
            })
            .collect()
    }

    pub(crate) fn image_event(&self, action: &str, id: &str, name: &str) {
        self.events.publish("image", action, id, BTreeMap::from([("name".to_string(), name.to_string())]));
    }

    pub fn image_list(&self, all: bool, f: &Filters) -> Result<Vec<berth_image::ImageSummary>> {
        f.validate(&["dangling", "reference", "label", "before", "since", "until"])?;
        let lf = ListFilters {
            all,
            dangling: f.bool_value("dangling")?,
            reference: f.get("reference").to_vec(),
            label: f.get("label").to_vec(),
            before: f.get("before").first().cloned(),
            since: f.get("since").first().cloned(),
        };
        let mut rows = self.images.list(&lf)?;
        let users = self.image_users();
        for r in &mut rows {
            r.containers = users.iter().filter(|u| u.image.to_string() == r.id).count() as i64;
        }
        Ok(rows)
    }

    pub fn image_tag(&self, source: &str, repo: &str, tag: &str) -> Result<()> {
        let target = if tag.is_empty() { repo.to_string() } else { format!("{repo}:{tag}") };
        self.images.tag(source, &target)?;
        let img = self.images.resolve(&target)?;
        let r = berth_image::Reference::parse(&target)
            .map_err(|e| EngineError::InvalidArgument(e.to_string()))?
            .with_default_tag();
        self.image_event("tag", &img.id.to_string(), &r.to_string());
        Ok(())
    }

    pub fn image_remove(&self, name: &str, force: bool) -> Result<Vec<DeleteItem>> {
        let img = self.images.resolve(name).ok();
        let items = self.images.remove(name, force, &self.image_users())?;
        for it in &items {
            match it {
                DeleteItem::Untagged(r) => {
                    self.image_event("untag", &img.as_ref().map(|i| i.id.to_string()).unwrap_or_default(), r)
                }
                DeleteItem::Deleted(id) => self.image_event("delete", id, id),
            }
        }
        Ok(items)
    }

    pub fn image_prune(&self, f: &Filters) -> Result<berth_image::PruneReport> {
        f.validate(&["dangling", "until", "label"])?;
        let all = f.bool_value("dangling")? == Some(false);
        let until = f.timestamp("until", chrono::Utc::now())?;
        let r = self.images.prune(all, &self.image_users(), until, f.get("label"))?;
        for it in &r.deleted {
            match it {
                DeleteItem::Untagged(t) => self.image_event("untag", "", t),
                DeleteItem::Deleted(id) => self.image_event("delete", id, id),
            }
        }
        self.events.publish(
            "image",
            "prune",
            "",
            BTreeMap::from([("reclaimed".to_string(), r.space_reclaimed.to_string())]),
        );
        Ok(r)
    }

    /// Loads a `docker save` archive or OCI layout; returns Docker's messages.
    /// Loads an archive; `progress` hears of each layer's extraction (`docker load`'s bars).
    pub fn image_load(
        &self,
        reader: impl Read,
        progress: &mut dyn FnMut(berth_image::LayerProgress<'_>),
    ) -> Result<Vec<String>> {
        let report = self.images.load_with_progress(reader, progress)?;
        for img in &report.images {
            let name = img.tags.first().map(|t| t.to_string()).unwrap_or_else(|| img.id.to_string());
            self.image_event("load", &img.id.to_string(), &name);
        }
        Ok(report.messages)
    }

    pub fn image_save(&self, names: &[String], out: impl Write) -> Result<()> {
        if names.is_empty() {
            return Err(EngineError::InvalidArgument("name at least one image to save".into()));
        }
        for n in names {
            self.images.resolve(n)?;
        }
        self.images.save(names, SaveFormat::Docker, out)?;
        for n in names {
            if let Ok(i) = self.images.resolve(n) {
                self.image_event("save", &i.id.to_string(), n);
            }
        }
        Ok(())
    }

    pub fn image_import(&self, reader: impl Read, opts: &ImportOptions) -> Result<String> {
        let id = self.images.import(reader, opts)?;
        let name = opts.reference.clone().unwrap_or_else(|| id.to_string());
        self.image_event("import", &id.to_string(), &name);
        Ok(id.to_string())
    }

    /// `GET /images/{name}/json`.
    pub fn image_inspect(&self, name: &str) -> Result<berth_image::ImageInspect> {
        Ok(self.images.inspect(name)?)
    }

    /// `GET /images/{name}/history`.
    pub fn image_history(&self, name: &str) -> Result<Vec<berth_image::HistoryItem>> {
        Ok(self.images.history(name)?)
    }

    /// Fails with Docker's 404 unless every one of `names` is here (before a save's 200 goes
    /// out).
    pub fn images_present(&self, names: &[String]) -> Result<()> {
        for n in names {
            self.images.resolve(n)?;
        }
        Ok(())
    }
}
