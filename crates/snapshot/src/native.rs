use std::io::Write;
use std::path::{Path, PathBuf};

use berth_archive::{diff_trees, Change, Whiteouts};

use crate::{create_dir, Mount, Result, SnapshotError, Snapshotter};

/// Full copies: works on any filesystem, costs a copy per layer. See the crate documentation.
pub struct Native {
    root: PathBuf,
}

impl Native {
    pub fn open(root: PathBuf) -> Result<Self> {
        create_dir(&root)?;
        let root = root.canonicalize().map_err(SnapshotError::io("resolve", &root))?;
        Ok(Native { root })
    }
}

impl Snapshotter for Native {
    fn name(&self) -> &'static str {
        "native"
    }

    fn root(&self) -> &Path {
        &self.root
    }

    fn whiteouts(&self) -> Whiteouts {
        Whiteouts::Delete
    }

    fn layers_stand_alone(&self) -> bool {
        false
    }

    fn prepare(&self, id: u64, parents: &[u64]) -> Result<PathBuf> {
        let fs = self.dir(id);
        match parents.first() {
            None => create_dir(&fs)?,
            Some(parent) => {
                create_dir(&self.root.join(id.to_string()))?;
                berth_sys::copy_tree(&self.dir(*parent), &fs)
                    .map_err(SnapshotError::io("copy parent into", &fs))?;
            }
        }
        Ok(fs)
    }

    fn mount(&self, id: u64, _parents: &[u64], target: &Path) -> Result<()> {
        crate::bind(&self.dir(id), target)
    }

    fn mounts(&self, id: u64, _parents: &[u64]) -> Vec<Mount> {
        vec![Mount {
            kind: "bind".into(),
            source: self.dir(id).display().to_string(),
            options: vec!["rbind".into(), "rw".into()],
        }]
    }

    fn diff(&self, id: u64, parents: &[u64], out: Option<&mut dyn Write>) -> Result<Vec<Change>> {
        let parent = parents.first().map(|p| self.dir(*p));
        Ok(diff_trees(parent.as_deref(), &self.dir(id), out)?)
    }
}
