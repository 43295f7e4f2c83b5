//! Errors in runc's log formats: logfmt text, or one JSON object per line
//! (`{"level":"error","msg":…,"time":…}`), which containerd reads back from `--log`.

use std::io::Write;
use std::path::{Path, PathBuf};

pub struct Logger {
    file: Option<PathBuf>,
    json: bool,
}

impl Logger {
    pub fn new(file: Option<&Path>, format: Option<&str>, debug: bool) -> Logger {
        if debug {
            let _ = tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_max_level(tracing::Level::DEBUG)
                .try_init();
        }
        Logger { file: file.map(Path::to_path_buf), json: format == Some("json") }
    }

    pub fn error(&self, msg: &str) {
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let line = if self.json {
            serde_json::json!({"level": "error", "msg": msg, "time": time}).to_string()
        } else {
            format!("time={time:?} level=error msg={msg:?}")
        };
        if let Some(path) = &self.file {
            if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
                let _ = writeln!(f, "{line}");
            }
        }
        // runc also tells the user on stderr.
        eprintln!("{msg}");
    }
}
