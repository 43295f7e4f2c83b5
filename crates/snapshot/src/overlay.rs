use std::io::Write;
use std::path::{Path, PathBuf};

use berth_archive::{diff_overlay, Change, Whiteouts};

use crate::{create_dir, Mount, Result, SnapshotError, Snapshotter};

/// Layers as overlayfs directories. See the crate documentation.
pub struct Overlay {
    root: PathBuf,
    /// Options that keep the upper directory a faithful diff (no redirects, no metadata-only
    /// copy-ups), where this kernel has them.
    extra: Vec<&'static str>,
}

impl Overlay {
    /// Opens the snapshotter, checking with a test mount that overlayfs works on `root`.
    pub fn open(root: PathBuf) -> Result<Self> {
        create_dir(&root)?;
        let root = root.canonicalize().map_err(SnapshotError::io("resolve", &root))?;
        let mut extra = Vec::new();
        for (param, opt) in
            [("redirect_dir", "redirect_dir=off"), ("metacopy", "metacopy=off"), ("index", "index=off")]
        {
            if Path::new("/sys/module/overlay/parameters").join(param).exists() {
                extra.push(opt);
            }
        }
        let o = Overlay { root, extra };
        o.probe()?;
        Ok(o)
    }

    /// A test mount, made in a mount namespace private to one thread: the kernel drops it with
    /// the thread, so a process killed mid-probe leaves no mount behind.
    fn probe(&self) -> Result<()> {
        let probe = self.root.join("probe");
        // Probe mounts of older versions were made in the host's namespace.
        while nix::mount::umount2(&probe.join("m"), nix::mount::MntFlags::MNT_DETACH).is_ok() {}
        let _ = std::fs::remove_dir_all(&probe);
        for d in ["l1", "l2", "u", "w", "m"] {
            create_dir(&probe.join(d))?;
        }
        let data = self.options("probe/l2:probe/l1", Some(("probe/u", "probe/w")));
        let (root, target) = (self.root.clone(), probe.join("m"));
        let result = std::thread::spawn(move || -> std::io::Result<()> {
            use nix::mount::{mount, MsFlags};
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS | nix::sched::CloneFlags::CLONE_NEWNS)?;
            mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)?;
            std::env::set_current_dir(&root)?;
            mount(Some("overlay"), &target, Some("overlay"), MsFlags::empty(), Some(data.as_str()))?;
            nix::mount::umount2(&target, nix::mount::MntFlags::MNT_DETACH)?;
            Ok(())
        })
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("probe thread panicked")));
        let _ = std::fs::remove_dir_all(&probe);
        result.map_err(|e| SnapshotError::Unavailable(e.to_string()))
    }

    fn options(&self, lower: &str, upper_work: Option<(&str, &str)>) -> String {
        let mut opts = vec![format!("lowerdir={lower}")];
        if let Some((upper, work)) = upper_work {
            opts.push(format!("upperdir={upper}"));
            opts.push(format!("workdir={work}"));
        }
        opts.extend(self.extra.iter().map(|s| s.to_string()));
        opts.join(",")
    }

    fn lower(parents: &[u64]) -> String {
        parents.iter().map(|p| format!("{p}/fs")).collect::<Vec<_>>().join(":")
    }
}

/// Mounts overlayfs with `data` whose paths are relative to `root`: from a thread whose working
/// directory is private (`unshare(CLONE_FS)`), so the process's own is untouched.
fn mount_in(root: &Path, data: &str, target: &Path) -> std::io::Result<()> {
    let target =
        if target.is_absolute() { target.to_path_buf() } else { std::env::current_dir()?.join(target) };
    let (root, data) = (root.to_path_buf(), data.to_string());
    std::thread::spawn(move || -> std::io::Result<()> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS)?;
        std::env::set_current_dir(&root)?;
        nix::mount::mount(
            Some("overlay"),
            &target,
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(data.as_str()),
        )?;
        Ok(())
    })
    .join()
    .unwrap_or_else(|_| Err(std::io::Error::other("mount thread panicked")))
}

impl Snapshotter for Overlay {
    fn name(&self) -> &'static str {
        "overlayfs"
    }

    fn root(&self) -> &Path {
        &self.root
    }

    fn whiteouts(&self) -> Whiteouts {
        Whiteouts::Overlay
    }

    fn layers_stand_alone(&self) -> bool {
        true
    }

    fn prepare(&self, id: u64, _parents: &[u64]) -> Result<PathBuf> {
        let base = self.root.join(id.to_string());
        create_dir(&base.join("work"))?;
        let fs = base.join("fs");
        create_dir(&fs)?;
        Ok(fs)
    }

    fn mount(&self, id: u64, parents: &[u64], target: &Path) -> Result<()> {
        if parents.is_empty() {
            return crate::bind(&self.dir(id), target);
        }
        let upper = format!("{id}/fs");
        let work = format!("{id}/work");
        let data = self.options(&Self::lower(parents), Some((&upper, &work)));
        mount_in(&self.root, &data, target).map_err(SnapshotError::io("mount overlay on", target))
    }

    fn mounts(&self, id: u64, parents: &[u64]) -> Vec<Mount> {
        let abs = |rel: String| self.root.join(rel).display().to_string();
        if parents.is_empty() {
            return vec![Mount {
                kind: "bind".into(),
                source: abs(format!("{id}/fs")),
                options: vec!["rbind".into(), "rw".into()],
            }];
        }
        let lower = parents.iter().map(|p| abs(format!("{p}/fs"))).collect::<Vec<_>>().join(":");
        let mut options = vec![
            format!("lowerdir={lower}"),
            format!("upperdir={}", abs(format!("{id}/fs"))),
            format!("workdir={}", abs(format!("{id}/work"))),
        ];
        options.extend(self.extra.iter().map(|s| s.to_string()));
        vec![Mount { kind: "overlay".into(), source: "overlay".into(), options }]
    }

    fn diff(&self, id: u64, parents: &[u64], out: Option<&mut dyn Write>) -> Result<Vec<Change>> {
        let lowers: Vec<PathBuf> = parents.iter().map(|p| self.dir(*p)).collect();
        Ok(diff_overlay(&self.dir(id), &lowers, out)?)
    }
}
