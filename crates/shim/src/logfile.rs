//! Docker's `json-file` log format with rotation.
//!
//! One JSON object per line: `{"log":"…\n","stream":"stdout","time":"…Z"}` with the time in
//! RFC 3339 with nanoseconds. Output is split at newlines; a partial line is held until its
//! newline comes or it reaches 16 KiB (Docker's buffer), then written without one. Each line is one
//! `write(2)` with no user-space buffering, so nothing written is lost if the shim dies. When the
//! file would pass `max_size`, it is rotated: `f` → `f.1` → … → `f.<max_file-1>`, the oldest dropped.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

const MAX_PARTIAL: usize = 16 * 1024;

/// Rotation settings (`--log-opt max-size=…,max-file=…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Bytes; 0 disables rotation.
    pub max_size: u64,
    pub max_file: u32,
}

impl Default for Rotation {
    /// berth rotates by default: 5 files of 20 MiB (Docker's `local` driver's defaults).
    fn default() -> Self {
        Rotation { max_size: 20 * 1024 * 1024, max_file: 5 }
    }
}

/// Parses Docker's size notation for `max-size`: `10k`, `20m`, `1g`, or bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_suffix('b').unwrap_or(&s);
    let (num, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1024),
        'm' => (&s[..s.len() - 1], 1024 * 1024),
        'g' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    let v: f64 = num.parse().ok()?;
    (v >= 0.0).then_some((v * mult as f64) as u64)
}

#[derive(Serialize)]
struct Entry<'a> {
    log: &'a str,
    stream: &'a str,
    time: String,
}

pub struct JsonFileLog {
    path: PathBuf,
    file: File,
    size: u64,
    rotation: Rotation,
    partial: [Vec<u8>; 2],
}

impl JsonFileLog {
    pub fn open(path: &Path, rotation: Rotation) -> io::Result<JsonFileLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(JsonFileLog { path: path.to_path_buf(), file, size, rotation, partial: [Vec::new(), Vec::new()] })
    }

    /// Appends output of `stream` (`stdout` or `stderr`).
    pub fn write(&mut self, stderr: bool, data: &[u8]) -> io::Result<()> {
        let idx = stderr as usize;
        let mut buf = std::mem::take(&mut self.partial[idx]);
        buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
            let end = start + nl + 1;
            self.entry(stderr, &buf[start..end])?;
            start = end;
        }
        while buf.len() - start >= MAX_PARTIAL {
            self.entry(stderr, &buf[start..start + MAX_PARTIAL])?;
            start += MAX_PARTIAL;
        }
        self.partial[idx] = buf[start..].to_vec();
        Ok(())
    }

    /// Writes out held partial lines (at the end of the stream).
    pub fn flush_partial(&mut self) -> io::Result<()> {
        for idx in 0..2 {
            let buf = std::mem::take(&mut self.partial[idx]);
            if !buf.is_empty() {
                self.entry(idx == 1, &buf)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, stderr: bool, line: &[u8]) -> io::Result<()> {
        let entry = Entry {
            log: &String::from_utf8_lossy(line),
            stream: if stderr { "stderr" } else { "stdout" },
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        };
        let mut text = serde_json::to_vec(&entry).map_err(io::Error::other)?;
        text.push(b'\n');
        if self.rotation.max_size > 0
            && self.size > 0
            && self.size + text.len() as u64 > self.rotation.max_size
        {
            self.rotate()?;
        }
        self.file.write_all(&text)?;
        self.size += text.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let keep = self.rotation.max_file.max(1);
        let name = |i: u32| -> PathBuf {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{i}"));
            p.into()
        };
        if keep == 1 {
            self.file.set_len(0)?;
        } else {
            let _ = std::fs::remove_file(name(keep - 1));
            for i in (1..keep - 1).rev() {
                let _ = std::fs::rename(name(i), name(i + 1));
            }
            std::fs::rename(&self.path, name(1))?;
            self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(p: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn splits_lines_and_holds_partials() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let mut log = JsonFileLog::open(&p, Rotation { max_size: 0, max_file: 1 }).unwrap();
        log.write(false, b"one\ntw").unwrap();
        log.write(true, b"err\n").unwrap();
        log.write(false, b"o\nthree").unwrap();
        log.flush_partial().unwrap();
        let got: Vec<(String, String)> = lines(&p)
            .iter()
            .map(|v| (v["log"].as_str().unwrap().into(), v["stream"].as_str().unwrap().into()))
            .collect();
        let want = [("one\n", "stdout"), ("err\n", "stderr"), ("two\n", "stdout"), ("three", "stdout")];
        assert_eq!(got, want.map(|(a, b)| (a.to_string(), b.to_string())));
        let t = lines(&p)[0]["time"].as_str().unwrap().to_string();
        assert!(t.ends_with('Z') && t.len() == "2026-01-01T00:00:00.000000000Z".len(), "{t}");
    }

    #[test]
    fn rotation_keeps_max_file_files_of_about_max_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let mut log = JsonFileLog::open(&p, Rotation { max_size: 1000, max_file: 3 }).unwrap();
        for i in 0..500 {
            log.write(false, format!("line {i:04}\n").as_bytes()).unwrap();
        }
        let mut files: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        assert_eq!(files, ["c-json.log", "c-json.log.1", "c-json.log.2"]);
        for f in &files {
            assert!(std::fs::metadata(dir.path().join(f)).unwrap().len() <= 1000);
        }
        // The newest line is in the live file, and lines run on across files in order.
        assert_eq!(lines(&p).last().unwrap()["log"], "line 0499\n");
        let older = lines(&dir.path().join("c-json.log.1"));
        assert_eq!(
            older.last().unwrap()["log"].as_str().unwrap(),
            format!("line {:04}\n", 499 - lines(&p).len())
        );
    }

    #[test]
    fn sizes_in_docker_notation() {
        for (s, want) in [
            ("10k", Some(10240)),
            ("20m", Some(20 << 20)),
            ("1g", Some(1 << 30)),
            ("100", Some(100)),
            ("1.5k", Some(1536)),
            ("x", None),
            ("-1", None),
        ] {
            assert_eq!(parse_size(s), want, "{s}");
        }
    }
}
