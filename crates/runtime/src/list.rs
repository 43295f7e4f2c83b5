use crate::{RuncState, Runtime, RuntimeError};

impl Runtime {
    /// `list`: the state of every container under the root, sorted by id.
    pub fn list(&self) -> Result<Vec<RuncState>, RuntimeError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(RuntimeError::io(format!("read {}", self.root.display()))(e)),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            match self.state(&id) {
                Ok(s) => out.push(s),
                // A container deleted while we list, or a half-created directory: skip it as runc does.
                Err(_) => continue,
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
}

/// runc's `list` table: tab-aligned columns with two spaces of padding.
pub fn format_table(states: &[RuncState]) -> String {
    let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from).to_vec()];
    for s in states {
        rows.push(vec![
            s.id.clone(),
            s.pid.to_string(),
            s.status.clone(),
            s.bundle.display().to_string(),
            s.created.clone(),
            s.owner.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..6).map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| if i == 5 { c.clone() } else { format!("{:<w$}", c, w = widths[i] + 3) })
            .collect();
        out.push_str(line.concat().trim_end());
        out.push('\n');
    }
    out
}
