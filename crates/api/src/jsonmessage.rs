//! The JSON message stream of `/images/load` and `/images/create`: one JSON object per line,
//! `{"stream": …}` or `{"status": …}` for news, `{"status", "progressDetail", "progress",
//! "id"}` for a layer's progress, `{"errorDetail": …, "error": …}` to fail.

use serde_json::json;

use crate::units::human_size_precision;

/// How far one item (a layer) has come: Docker's `progressDetail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub current: u64,
    pub total: u64,
}

impl Progress {
    /// Docker's `JSONProgress.String()` for a terminal `width` columns wide: a bar of 50 when
    /// the width is over 110, then `current/total` in decimal units. The daemon renders it
    /// for 200 columns, Docker's width when there is no terminal.
    pub fn render(&self, width: usize) -> String {
        let size = |n: u64| human_size_precision(n as f64, 4);
        if self.total == 0 {
            return if self.current == 0 { String::new() } else { format!("{:>8}", size(self.current)) };
        }
        let filled = ((self.current as f64 / self.total as f64 * 100.0) as usize / 2).min(50);
        let bar = if width > 110 {
            format!("[{}>{}] ", "=".repeat(filled), " ".repeat(50 - filled))
        } else {
            String::new()
        };
        let numbers = if self.current > self.total {
            format!("{:>8}", size(self.current))
        } else {
            format!("{:>8}/{}", size(self.current), size(self.total))
        };
        bar + &numbers
    }
}

/// A progress line for item `id` (`Loading layer`, …), in Docker's field order.
pub fn progress(id: &str, status: &str, p: Progress) -> Vec<u8> {
    line(json!({
        "status": status,
        "progressDetail": { "current": p.current, "total": p.total },
        "progress": p.render(200),
        "id": id,
    }))
}

pub fn stream(text: &str) -> Vec<u8> {
    line(json!({ "stream": text }))
}

pub fn status(text: &str) -> Vec<u8> {
    line(json!({ "status": text }))
}

pub fn error(message: &str) -> Vec<u8> {
    line(json!({ "errorDetail": { "message": message }, "error": message }))
}

fn line(v: serde_json::Value) -> Vec<u8> {
    let mut b = serde_json::to_vec(&v).unwrap_or_default();
    b.push(b'\n');
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_renders_as_dockers() {
        let p = |current, total| Progress { current, total };
        for (progress, width, want) in [
            (p(0, 0), 200, String::new()),
            (p(524288, 0), 200, " 524.3kB".to_string()),
            (p(0, 2159616), 200, format!("[>{}]       0B/2.16MB", " ".repeat(50))),
            (p(524288, 2159616), 200, format!("[{}>{}]  524.3kB/2.16MB", "=".repeat(12), " ".repeat(38))),
            (p(2159616, 2159616), 200, format!("[{}>]   2.16MB/2.16MB", "=".repeat(50))),
            // No bar on a narrow terminal; a current past the total shows alone.
            (p(524288, 2159616), 80, " 524.3kB/2.16MB".to_string()),
            (p(3000000, 2159616), 200, format!("[{}>]      3MB", "=".repeat(50))),
        ] {
            assert_eq!(progress.render(width), want, "{progress:?} at {width}");
        }
        assert_eq!(
            String::from_utf8(super::progress("0123456789ab", "Loading layer", p(1000, 1000))).unwrap(),
            format!(
                "{{\"status\":\"Loading layer\",\"progressDetail\":{{\"current\":1000,\"total\":1000}},\"progress\":\"[{}>]      1kB/1kB\",\"id\":\"0123456789ab\"}}\n",
                "=".repeat(50)
            )
        );
    }

    #[test]
    fn lines_are_dockers() {
        assert_eq!(super::stream("Loaded image: a:b\n"), b"{\"stream\":\"Loaded image: a:b\\n\"}\n");
        // Docker's field order: errorDetail, then error.
        assert_eq!(super::error("bad"), b"{\"errorDetail\":{\"message\":\"bad\"},\"error\":\"bad\"}\n");
    }
}
