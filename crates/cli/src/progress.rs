//! The daemon's JSON message stream (load, import; later pull, push, build) shown as the docker
//! CLI shows it. On a terminal every item with progress (a layer) keeps a line of its own,
//! redrawn in place: the cursor goes up to the item's line, the line is cleared and drawn
//! again with a bar for the terminal's width, and the cursor comes back down. A message
//! without progress ends that set of lines. Off a terminal, progress is left out and the
//! rest printed line by line.

use std::collections::HashMap;
use std::io::Write;

use berth_client::{JsonMessage, Progress};

pub struct Display<W> {
    out: W,
    tty: bool,
    /// The terminal's width (200 off a terminal, as Docker's progress assumes).
    width: usize,
    /// Each item's line, counted from the first line of the current set.
    lines: HashMap<String, usize>,
}

impl<W: Write> Display<W> {
    pub fn new(out: W, tty: bool, width: usize) -> Display<W> {
        Display { out, tty, width, lines: HashMap::new() }
    }

    /// Shows one message. `Err` carries a message's `error`, which ends the stream.
    pub fn show(&mut self, m: &JsonMessage) -> Result<(), String> {
        if let Some(e) = m.error_message() {
            return Err(e.to_string());
        }
        if m.aux.as_ref().is_some_and(|a| !a.is_null()) {
            return Ok(());
        }
        let id = m.id.as_str();
        let detail = m.progress_detail;
        let message = m.progress.as_str();
        let mut up = 0;
        if !id.is_empty() && (detail.is_some() || !message.is_empty()) {
            let count = self.lines.len();
            let line = *self.lines.entry(id.to_string()).or_insert(count);
            if self.tty && line == count {
                let _ = self.out.write_all(b"\n");
            }
            up = self.lines.len() - line;
            if self.tty && up > 0 {
                let _ = write!(self.out, "\x1b[{up}A");
            }
        } else {
            self.lines.clear();
        }
        self.line(m, id, detail, message);
        if !id.is_empty() && self.tty && up > 0 {
            let _ = write!(self.out, "\x1b[{up}B");
        }
        let _ = self.out.flush();
        Ok(())
    }

    /// One message's text (Docker's `JSONMessage.Display`).
    fn line(&mut self, m: &JsonMessage, id: &str, detail: Option<Progress>, message: &str) {
        let (stream, status) = (m.stream.as_str(), m.status.as_str());
        let mut endl = "";
        match detail {
            Some(_) if self.tty && stream.is_empty() => {
                let _ = self.out.write_all(b"\x1b[2K\r");
                endl = "\r";
            }
            // No bars off a terminal.
            Some(p) if !p.render(self.width).is_empty() => return,
            _ => {}
        }
        let out = &mut self.out;
        if !id.is_empty() {
            let _ = write!(out, "{id}: ");
        }
        let _ = match detail {
            Some(p) if self.tty => write!(out, "{status} {}{endl}", p.render(self.width)),
            _ if !message.is_empty() => write!(out, "{status} {message}{endl}"),
            _ if !stream.is_empty() => write!(out, "{stream}{endl}"),
            _ => writeln!(out, "{status}{endl}"),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn layer(id: &str, current: u64, total: u64) -> Value {
        let p = Progress { current, total };
        json!({"status": "Loading layer", "progressDetail": {"current": current, "total": total}, "progress": p.render(200), "id": id})
    }

    fn shown(tty: bool, width: usize, messages: &[Value]) -> (String, Option<String>) {
        let mut d = Display::new(Vec::new(), tty, width);
        let mut err = None;
        for m in messages {
            let m: JsonMessage = serde_json::from_value(m.clone()).unwrap();
            if let Err(e) = d.show(&m) {
                err = Some(e);
                break;
            }
        }
        (String::from_utf8(d.out).unwrap(), err)
    }

    #[test]
    fn layers_keep_their_lines_on_a_terminal() {
        let msgs = [
            layer("aaaaaaaaaaaa", 1000, 2000),
            layer("bbbbbbbbbbbb", 500, 500),
            layer("aaaaaaaaaaaa", 2000, 2000),
            json!({"stream": "Loaded image: busybox:latest\n"}),
        ];
        let (out, err) = shown(true, 80, &msgs);
        assert_eq!(err, None);
        let want = concat!(
            // A new line for the first layer, up one, cleared, drawn.
            "\n\x1b[1A\x1b[2K\raaaaaaaaaaaa: Loading layer      1kB/2kB\r\x1b[1B",
            // The second below it.
            "\n\x1b[1A\x1b[2K\rbbbbbbbbbbbb: Loading layer     500B/500B\r\x1b[1B",
            // The first again: two lines up, and back.
            "\x1b[2A\x1b[2K\raaaaaaaaaaaa: Loading layer      2kB/2kB\r\x1b[2B",
            "Loaded image: busybox:latest\n",
        );
        assert_eq!(out, want);
        // Wide terminals get the bar.
        let (out, _) = shown(true, 120, &msgs[..1]);
        assert!(
            out.contains(&format!("Loading layer [{}>{}]      1kB/2kB", "=".repeat(25), " ".repeat(25))),
            "{out:?}"
        );
    }

    #[test]
    fn off_a_terminal_progress_is_left_out() {
        let msgs = [
            layer("aaaaaaaaaaaa", 1000, 2000),
            json!({"status": "Waiting", "progressDetail": {}, "id": "cccccccccccc"}),
            json!({"stream": "Loaded image: busybox:latest\n"}),
            json!({"status": "done"}),
            json!({"errorDetail": {"message": "no space left"}, "error": "no space left"}),
            json!({"stream": "never shown\n"}),
        ];
        let (out, err) = shown(false, 200, &msgs);
        assert_eq!(out, "cccccccccccc: Waiting\nLoaded image: busybox:latest\ndone\n");
        assert_eq!(err.as_deref(), Some("no space left"));
    }
}
