//! Reading a blob while it is written: the writer publishes how many bytes are on disk
//! ([`Growth::advance`]) and when it is done ([`Growth::finish`], or [`Growth::fail`]); a
//! [`GrowingReader`] over the ingest file reads what is there and waits for more. A pull extracts
//! a layer this way as it downloads, and the blob is still verified whole at its commit.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

#[derive(Debug, Default)]
struct State {
    written: u64,
    done: bool,
    failed: Option<String>,
}

/// How far a blob's writing has come, shared between its writer and its reader.
#[derive(Debug, Clone, Default)]
pub struct Growth(Arc<(Mutex<State>, Condvar)>);

impl Growth {
    pub fn new() -> Growth {
        Growth::default()
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        let (m, c) = &*self.0;
        f(&mut m.lock().unwrap_or_else(|e| e.into_inner()));
        c.notify_all();
    }

    /// `written` bytes are on disk (flushed).
    pub fn advance(&self, written: u64) {
        self.update(|s| s.written = s.written.max(written));
    }

    /// The writer wrote its last byte.
    pub fn finish(&self) {
        self.update(|s| s.done = true);
    }

    /// The writer gave up; the reader's next read fails with `why`.
    pub fn fail(&self, why: impl Into<String>) {
        let why = why.into();
        self.update(|s| s.failed = Some(why));
    }

    /// Why the writer gave up, if it did.
    pub fn failure(&self) -> Option<String> {
        self.0 .0.lock().unwrap_or_else(|e| e.into_inner()).failed.clone()
    }

    /// Blocks until more than `have` bytes are there (their count), or the end (`None`).
    fn wait_beyond(&self, have: u64) -> io::Result<Option<u64>> {
        let (m, c) = &*self.0;
        let mut s = m.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(why) = &s.failed {
                return Err(io::Error::other(why.clone()));
            }
            if s.written > have {
                return Ok(Some(s.written));
            }
            if s.done {
                return Ok(None);
            }
            s = c.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// The bytes of a file that is being written, as they come (see the module's documentation).
pub struct GrowingReader {
    file: File,
    read: u64,
    available: u64,
    growth: Growth,
}

impl GrowingReader {
    /// Opens `path` (the ingest's file) to follow `growth`.
    pub fn open(path: &Path, growth: Growth) -> io::Result<GrowingReader> {
        Ok(GrowingReader { file: File::open(path)?, read: 0, available: 0, growth })
    }
}

impl Read for GrowingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.read == self.available {
            match self.growth.wait_beyond(self.read)? {
                Some(n) => self.available = n,
                None => return Ok(0),
            }
        }
        let want = buf.len().min((self.available - self.read) as usize);
        let n = self.file.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the blob being written is shorter than announced",
            ));
        }
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_reader_follows_a_file_as_it_is_written_and_sees_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let mut w = File::create(&path).unwrap();
        let growth = Growth::new();
        let mut r = GrowingReader::open(&path, growth.clone()).unwrap();
        let writer = {
            let growth = growth.clone();
            std::thread::spawn(move || {
                for i in 0..50u8 {
                    w.write_all(&[i; 1000]).unwrap();
                    growth.advance(u64::from(i + 1) * 1000);
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                growth.finish();
            })
        };
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        writer.join().unwrap();
        assert_eq!(all.len(), 50_000);
        assert!(all.chunks(1000).enumerate().all(|(i, c)| c.iter().all(|b| *b == i as u8)));

        let failing = Growth::new();
        let mut r = GrowingReader::open(&path, failing.clone()).unwrap();
        failing.advance(10);
        let mut buf = [0u8; 64];
        assert_eq!(r.read(&mut buf).unwrap(), 10);
        failing.fail("download broke");
        assert_eq!(r.read(&mut buf).unwrap_err().to_string(), "download broke");
    }
}
