//! The JSON message stream of `/images/load` and `/images/create`: one JSON object per line,
//! `{"stream": …}` or `{"status": …}` for news, `{"status", "progressDetail", "progress",
//! "id"}` for a layer's progress, `{"errorDetail": …, "error": …}` to fail.

use serde_json::json;

use crate::units::human_size_precision;

/// Where a build's step is (`{"id": "berth.build.step", "aux": …}`, berth's own, with
/// `berthprogress=1`), for a client drawing the build live as BuildKit draws it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BuildStep {
    /// The stage's index and its name (`stage-N` when it has none).
    pub stage: usize,
    pub name: String,
    /// The step within the stage (the FROM is 1) and the stage's steps.
    pub step: usize,
    pub steps: usize,
    /// The instruction as written.
    pub text: String,
    pub state: BuildStepState,
    /// How long it ran, once it ended.
    pub millis: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildStepState {
    Running,
    Cached,
    Done,
    Failed,
}

/// What a step's command wrote (`{"id": "berth.build.log", "aux": …}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BuildLog {
    pub stage: usize,
    pub step: usize,
    pub text: String,
}

/// How far one item (a layer) has come: Docker's `progressDetail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(default)]
pub struct Progress {
    pub current: u64,
    pub total: u64,
}

/// One message of the stream as a client reads it (Docker's `JSONMessage`).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct JsonMessage {
    /// Text to show as it is (a build's output, `Loaded image: …`).
    pub stream: String,
    pub status: String,
    /// The item (a layer's short ID) the status is about.
    pub id: String,
    /// Present for progress, even when empty (`{}`).
    #[serde(rename = "progressDetail", deserialize_with = "present")]
    pub progress_detail: Option<Progress>,
    /// The progress as the daemon rendered it.
    pub progress: String,
    pub error: Option<String>,
    #[serde(rename = "errorDetail")]
    pub error_detail: Option<ErrorDetail>,
    /// Side data (a pushed image's digest, a build's image ID).
    pub aux: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct ErrorDetail {
    pub message: String,
    /// A failed build command's exit code (0 when none).
    pub code: i64,
}

/// A `progressDetail` that is there, even as `null` or `{}`, is progress.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Progress>, D::Error> {
    let v: Option<Progress> = serde::Deserialize::deserialize(d)?;
    Ok(Some(v.unwrap_or_default()))
}

impl JsonMessage {
    /// The error that ends the stream, if this message is one.
    pub fn error_message(&self) -> Option<&str> {
        self.error_detail
            .as_ref()
            .map(|d| d.message.as_str())
            .filter(|m| !m.is_empty())
            .or(self.error.as_deref())
    }
}

/// Splits what has arrived of a stream into the messages whose lines are complete (a partial
/// line stays in `buf`); lines that are not a message are passed over.
pub fn decode(buf: &mut Vec<u8>) -> Vec<JsonMessage> {
    let mut out = Vec::new();
    while let Some(i) = buf.iter().position(|b| *b == b'\n') {
        let line: Vec<u8> = buf.drain(..=i).collect();
        if let Ok(m) = serde_json::from_slice::<JsonMessage>(&line) {
            out.push(m);
        }
    }
    out
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

/// A status of item `id` (a layer's `Pull complete`, a tag's `Pulling from …`); a layer's
/// statuses carry an empty `progressDetail`, as Docker's do.
pub fn status_of(id: &str, text: &str, layer: bool) -> Vec<u8> {
    if layer {
        line(json!({ "status": text, "progressDetail": {}, "id": id }))
    } else {
        line(json!({ "status": text, "id": id }))
    }
}

/// An `aux` record (a pushed tag's digest and size).
pub fn aux(v: &serde_json::Value) -> Vec<u8> {
    line(json!({ "progressDetail": {}, "aux": v }))
}

/// An `aux` message with an `id` saying what it carries (as BuildKit's `moby.buildkit.trace`).
pub fn aux_with_id(id: &str, v: &impl serde::Serialize) -> Vec<u8> {
    line(json!({ "id": id, "aux": v }))
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

/// An error with the exit code of the command that failed (a build's RUN step).
pub fn error_code(message: &str, code: i64) -> Vec<u8> {
    line(json!({ "errorDetail": { "code": code, "message": message }, "error": message }))
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
    fn messages_decode_across_reads() {
        let mut all = super::progress("abc", "Loading layer", Progress { current: 1, total: 2 });
        all.extend(super::status("Waiting"));
        all.extend(b"not json\n");
        all.extend(br#"{"status":"Waiting","progressDetail":{},"id":"x"}"#);
        all.push(b'\n');
        all.extend(super::error("no space left"));
        for cut in 0..=all.len() {
            let mut buf = all[..cut].to_vec();
            let mut got = decode(&mut buf);
            buf.extend_from_slice(&all[cut..]);
            got.extend(decode(&mut buf));
            assert!(buf.is_empty(), "cut {cut}");
            assert_eq!(got.len(), 4, "cut {cut}");
            assert_eq!(got[0].progress_detail, Some(Progress { current: 1, total: 2 }));
            assert_eq!((got[0].id.as_str(), got[0].status.as_str()), ("abc", "Loading layer"));
            assert_eq!(got[1].progress_detail, None);
            assert_eq!(got[2].progress_detail, Some(Progress::default()), "an empty detail is progress");
            assert_eq!(got[3].error_message(), Some("no space left"));
            assert_eq!(got[1].error_message(), None);
        }
    }

    #[test]
    fn lines_are_dockers() {
        assert_eq!(super::stream("Loaded image: a:b\n"), b"{\"stream\":\"Loaded image: a:b\\n\"}\n");
        // Docker's field order: errorDetail, then error.
        assert_eq!(super::error("bad"), b"{\"errorDetail\":{\"message\":\"bad\"},\"error\":\"bad\"}\n");
    }
}
