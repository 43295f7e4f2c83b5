//! Reading a container's `json-file` log (and its rotated files) for `logs` and for attach's
//! `logs=1`: stream selection, `since`/`until`, `timestamps`, `tail` read from the end of the
//! files (not by scanning from their start), and `follow`, which keeps reading as the shim
//! appends and rotates until the container stops.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use berth_shim::protocol::frame_header;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::Container;

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    /// Nanoseconds since the epoch.
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub timestamps: bool,
    /// The last n lines; None for all.
    pub tail: Option<usize>,
}

#[derive(Deserialize)]
struct Entry {
    log: String,
    stream: String,
    time: String,
}

/// The log's files, oldest first: `f.N` … `f.1`, `f`.
fn files(path: &Path) -> Vec<PathBuf> {
    let mut rotated: Vec<(u32, PathBuf)> = Vec::new();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if let Some(dir) = path.parent() {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if let Some(i) = n.strip_prefix(&format!("{name}.")).and_then(|i| i.parse().ok()) {
                rotated.push((i, e.path()));
            }
        }
    }
    rotated.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut out: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    out.push(path.to_path_buf());
    out
}

/// The last `n` lines of a file, read backwards in blocks.
fn last_lines(path: &Path, n: usize) -> Vec<Vec<u8>> {
    let Ok(mut f) = File::open(path) else { return Vec::new() };
    let Ok(len) = f.seek(SeekFrom::End(0)) else { return Vec::new() };
    let mut pos = len;
    let mut acc: Vec<u8> = Vec::new();
    const BLOCK: u64 = 64 * 1024;
    loop {
        // Count complete lines in what we have (a trailing newline ends the last one).
        let lines = acc.iter().filter(|b| **b == b'\n').count();
        if lines > n || pos == 0 {
            break;
        }
        let start = pos.saturating_sub(BLOCK);
        let mut block = vec![0u8; (pos - start) as usize];
        if f.seek(SeekFrom::Start(start)).is_err() || f.read_exact(&mut block).is_err() {
            break;
        }
        block.extend_from_slice(&acc);
        acc = block;
        pos = start;
    }
    let mut lines: Vec<Vec<u8>> =
        acc.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(|l| l.to_vec()).collect();
    if pos > 0 && !lines.is_empty() {
        // The first piece may be a partial line when we stopped mid-file.
        let keep = lines.len().min(n);
        lines = lines.split_off(lines.len() - keep);
    }
    let skip = lines.len().saturating_sub(n);
    lines.split_off(skip)
}

/// Formats one entry for the client, or None when the options leave it out.
fn render(line: &[u8], o: &LogOptions, tty: bool) -> Option<(bool, Vec<u8>)> {
    let e: Entry = serde_json::from_slice(line).ok()?;
    let is_err = e.stream == "stderr";
    if (is_err && !o.stderr) || (!is_err && !o.stdout) {
        return None;
    }
    let t = berth_api::time::nanos_of(&e.time);
    if o.since.is_some_and(|s| t < s) || o.until.is_some_and(|u| t > u) {
        return None;
    }
    let mut payload = Vec::with_capacity(e.log.len() + 40);
    if o.timestamps {
        payload.extend_from_slice(e.time.as_bytes());
        payload.push(b' ');
    }
    payload.extend_from_slice(e.log.as_bytes());
    if tty {
        return Some((is_err, payload));
    }
    let mut out = frame_header(if is_err { 2 } else { 1 }, payload.len()).to_vec();
    out.extend_from_slice(&payload);
    Some((is_err, out))
}

/// Streams the log into `tx` (frames without a tty, raw with one). Blocking: runs on its own
/// thread; stops when the receiver goes away.
pub fn read(path: PathBuf, o: LogOptions, tty: bool, c: Option<Arc<Container>>, tx: mpsc::Sender<Vec<u8>>) {
    let send = |chunk: Vec<u8>| tx.blocking_send(chunk).is_ok();
    let all = files(&path);
    match o.tail {
        Some(0) => {}
        Some(n) => {
            // The last n lines of the files, newest file first (Docker counts lines before it
            // filters streams and times).
            let mut picked: Vec<Vec<u8>> = Vec::new();
            for f in all.iter().rev() {
                let mut lines = last_lines(f, n - picked.len());
                lines.extend(picked);
                picked = lines;
                if picked.len() >= n {
                    break;
                }
            }
            let picked = picked.into_iter().filter_map(|l| render(&l, &o, tty).map(|(_, b)| b));
            for b in picked {
                if !send(b) {
                    return;
                }
            }
        }
        None => {
            for f in &all[..all.len() - 1] {
                let Ok(file) = File::open(f) else { continue };
                for line in BufReader::new(file).split(b'\n').map_while(|l| l.ok()) {
                    if let Some((_, b)) = render(&line, &o, tty) {
                        if !send(b) {
                            return;
                        }
                    }
                }
            }
        }
    }
    // The current file: all of it (unless tail handled it), then follow.
    let mut file = File::open(&path).ok();
    let mut reader_pos: u64 = 0;
    if o.tail.is_some() {
        reader_pos = file.as_ref().and_then(|f| f.metadata().ok()).map(|m| m.len()).unwrap_or(0);
    }
    let mut partial: Vec<u8> = Vec::new();
    let until_passed = || o.until.is_some_and(|u| u <= crate::events::now_nanos());
    loop {
        if let Some(f) = file.as_mut() {
            if f.seek(SeekFrom::Start(reader_pos)).is_ok() {
                let mut buf = Vec::new();
                if let Ok(n) = f.read_to_end(&mut buf) {
                    reader_pos += n as u64;
                    partial.extend_from_slice(&buf);
                    while let Some(i) = partial.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = partial.drain(..=i).collect();
                        if let Some((_, b)) = render(&line[..line.len() - 1], &o, tty) {
                            if !send(b) {
                                return;
                            }
                        }
                    }
                }
            }
        }
        if !o.follow || until_passed() {
            return;
        }
        let running = c.as_ref().is_some_and(|c| {
            let st = c.rec().state.status;
            st.is_live() || st == super::Status::Restarting
        });
        // Rotated: finish the old file (done above), continue with the new one.
        let rotated = match (file.as_ref().and_then(|f| f.metadata().ok()), std::fs::metadata(&path)) {
            (Some(a), Ok(b)) => a.ino() != b.ino(),
            (None, Ok(_)) => true,
            _ => false,
        };
        if rotated {
            file = File::open(&path).ok();
            reader_pos = 0;
            partial.clear();
            continue;
        }
        if !running {
            return;
        }
        if tx.is_closed() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl crate::Engine {
    /// `GET /containers/{id}/logs`: the container's log as the options ask, streamed (frames
    /// without a terminal, raw with one; following it while the container runs). Says whether
    /// the container has a terminal.
    pub fn logs(
        &self,
        c: Arc<Container>,
        o: LogOptions,
    ) -> crate::error::Result<(mpsc::Receiver<Vec<u8>>, bool)> {
        if !o.stdout && !o.stderr {
            return Err(crate::error::EngineError::InvalidArgument(
                "Bad parameters: you must choose at least one stream".into(),
            ));
        }
        let rec = c.snapshot();
        if rec.host_config.log_config.as_ref().and_then(|l| l.typ.as_deref()) == Some("none") {
            return Err(crate::error::EngineError::NotImplemented(
                "configured logging driver does not support reading".into(),
            ));
        }
        let tty = rec.config.tty.unwrap_or(false);
        let path = self.log_path(&rec);
        let (tx, rx) = mpsc::channel(64);
        std::thread::spawn(move || read(path, o, tty, Some(c), tx));
        Ok((rx, tty))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_log(path: &Path, n: usize) {
        let mut s = String::new();
        for i in 0..n {
            let stream = if i % 2 == 0 { "stdout" } else { "stderr" };
            s.push_str(&format!(
                "{{\"log\":\"line {i}\\n\",\"stream\":\"{stream}\",\"time\":\"2024-01-01T00:00:{:02}.000000000Z\"}}\n",
                i % 60
            ));
        }
        std::fs::write(path, s).unwrap();
    }

    fn collect(path: &Path, o: LogOptions, tty: bool) -> String {
        let (tx, mut rx) = mpsc::channel(1024);
        let p = path.to_path_buf();
        std::thread::spawn(move || read(p, o, tty, None, tx)).join().unwrap();
        let mut out = Vec::new();
        while let Ok(b) = rx.try_recv() {
            out.extend(b);
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn tail_since_streams_and_rotated_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c-json.log");
        write_log(&p, 10);
        let both = LogOptions { stdout: true, stderr: true, ..Default::default() };
        assert_eq!(collect(&p, LogOptions { tail: Some(2), ..both.clone() }, true), "line 8\nline 9\n");
        assert_eq!(collect(&p, LogOptions { tail: Some(0), ..both.clone() }, true), "");
        assert_eq!(
            collect(&p, LogOptions { tail: Some(2), stderr: false, ..both.clone() }, true),
            "line 8\n"
        );
        let since = berth_api::time::nanos_of("2024-01-01T00:00:08Z");
        assert_eq!(collect(&p, LogOptions { since: Some(since), ..both.clone() }, true), "line 8\nline 9\n");
        assert_eq!(
            collect(&p, LogOptions { tail: Some(1), timestamps: true, ..both.clone() }, true),
            "2024-01-01T00:00:09.000000000Z line 9\n"
        );
        // Without a tty: frames, stream 2 for stderr.
        let framed = collect(&p, LogOptions { tail: Some(1), ..both.clone() }, false);
        assert_eq!(framed.as_bytes()[0], 2);
        // Rotated files come first, oldest first; tail reaches into them.
        std::fs::rename(&p, d.path().join("c-json.log.1")).unwrap();
        write_log(&p, 1);
        let all = collect(&p, both.clone(), true);
        assert!(all.starts_with("line 0\nline 1\n") && all.ends_with("line 9\nline 0\n"), "{all}");
        assert_eq!(collect(&p, LogOptions { tail: Some(2), ..both }, true), "line 9\nline 0\n");
    }

    #[test]
    fn last_lines_reads_from_the_end() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        let text: String = (0..100_000).map(|i| format!("{i}\n")).collect();
        std::fs::write(&p, text).unwrap();
        let l = last_lines(&p, 3);
        assert_eq!(l, vec![b"99997".to_vec(), b"99998".to_vec(), b"99999".to_vec()]);
        assert_eq!(last_lines(&p, 200_000).len(), 100_000);
    }
}
