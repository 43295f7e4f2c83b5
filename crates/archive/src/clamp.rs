//! A tar stream with its entries' modification times clamped to an epoch as it is written
//! (`SOURCE_DATE_EPOCH`): any header whose mtime is later gets the epoch, and its checksum
//! again; every other byte passes unchanged. Entries are followed by their sizes, so data
//! blocks are never mistaken for headers.

use std::io::{self, Write};

const BLOCK: usize = 512;

/// Writes a tar to `inner` with mtimes later than `epoch` set to it.
pub struct ClampMtime<W: Write> {
    inner: W,
    epoch: u64,
    /// A header block being gathered.
    pending: Vec<u8>,
    /// Bytes of entry data (with padding) still to pass before the next header.
    data_left: u64,
}

impl<W: Write> ClampMtime<W> {
    pub fn new(inner: W, epoch: u64) -> Self {
        ClampMtime { inner, epoch, pending: Vec::with_capacity(BLOCK), data_left: 0 }
    }

    pub fn into_inner(self) -> W {
        self.inner
    }

    fn header(&mut self) -> io::Result<()> {
        let h = &mut self.pending;
        if h.iter().any(|b| *b != 0) {
            let size = octal_or_binary(&h[124..136]);
            self.data_left = size.div_ceil(BLOCK as u64) * BLOCK as u64;
            let mtime = octal_or_binary(&h[136..148]);
            if mtime > self.epoch {
                let field = format!("{:011o}\0", self.epoch);
                h[136..148].copy_from_slice(field.as_bytes());
                h[148..156].fill(b' ');
                let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
                h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
            }
        }
        self.inner.write_all(&self.pending)?;
        self.pending.clear();
        Ok(())
    }
}

/// A tar numeric field: octal text, or base-256 when its first byte has the high bit.
fn octal_or_binary(field: &[u8]) -> u64 {
    if field[0] & 0x80 != 0 {
        return field[1..].iter().fold(u64::from(field[0] & 0x7f), |n, b| (n << 8) | u64::from(*b));
    }
    let text: String = field.iter().take_while(|b| **b != 0).map(|b| *b as char).collect();
    u64::from_str_radix(text.trim(), 8).unwrap_or(0)
}

impl<W: Write> Write for ClampMtime<W> {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        while !buf.is_empty() {
            if self.data_left > 0 {
                let take = (self.data_left.min(buf.len() as u64)) as usize;
                self.inner.write_all(&buf[..take])?;
                self.data_left -= take as u64;
                buf = &buf[take..];
                continue;
            }
            let take = (BLOCK - self.pending.len()).min(buf.len());
            self.pending.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
            if self.pending.len() == BLOCK {
                self.header()?;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(b: &mut tar::Builder<impl Write>, name: &str, mtime: u64, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(mtime);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    }

    #[test]
    fn later_mtimes_are_clamped_and_the_rest_passes() {
        let mut tar = tar::Builder::new(ClampMtime::new(Vec::new(), 1_000));
        entry(&mut tar, "old", 500, b"old data");
        entry(&mut tar, "new", 5_000_000, &[7u8; 1500]);
        // A long name goes through a GNU extension entry of its own.
        entry(&mut tar, &format!("{}/f", "d".repeat(150)), 2_000, b"x");
        let out = tar.into_inner().unwrap().into_inner();
        let mut ar = tar::Archive::new(out.as_slice());
        let got: Vec<(String, u64, usize)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let mut data = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut data).unwrap();
                (e.path().unwrap().to_string_lossy().into_owned(), e.header().mtime().unwrap(), data.len())
            })
            .collect();
        assert_eq!(got[0], ("old".to_string(), 500, 8));
        assert_eq!(got[1], ("new".to_string(), 1_000, 1500));
        assert_eq!((got[2].1, got[2].2), (1_000, 1));
        assert!(got[2].0.ends_with("/f"));
    }
}
