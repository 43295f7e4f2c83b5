//! Docker's multiplexed stream ("stdcopy"): each frame is an 8-byte header — the stream
//! (0 stdin, 1 stdout, 2 stderr, 3 the system's own message), three zero bytes, the payload's
//! length as a big-endian `u32` — then the payload. Docker sends attach, logs and exec output
//! so when there is no terminal; berth's shim speaks it on its control socket too. This is the
//! one implementation: writing, reading one frame from a reader, and splitting what has
//! arrived so far into whole frames. Pure but for the reader and writer it is given.

use std::io::{self, Read, Write};

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const SYSTEM: u8 = 3;

/// The header of a frame of `len` bytes on `stream`.
pub fn header(stream: u8, len: usize) -> [u8; 8] {
    let l = (len as u32).to_be_bytes();
    [stream, 0, 0, 0, l[0], l[1], l[2], l[3]]
}

/// The stream and payload length a header names.
pub fn parse_header(h: &[u8; 8]) -> (u8, usize) {
    (h[0], u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize)
}

/// A whole frame: header and payload.
pub fn frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(8 + data.len());
    buf.extend_from_slice(&header(stream, data.len()));
    buf.extend_from_slice(data);
    buf
}

/// Writes one frame with a single write (a frame is never interleaved with another writer's).
pub fn write_frame(w: &mut impl Write, stream: u8, data: &[u8]) -> io::Result<()> {
    w.write_all(&frame(stream, data))
}

/// Reads one frame; `None` at a clean end of stream (before a header).
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut h = [0u8; 8];
    match r.read_exact(&mut h) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let (stream, len) = parse_header(&h);
    let mut data = vec![0u8; len];
    r.read_exact(&mut data)?;
    Ok(Some((stream, data)))
}

/// The whole frames at the start of `buf`, and how many bytes they take; a partial frame at
/// the end waits for more bytes.
pub fn parse_frames(buf: &[u8]) -> (Vec<(u8, &[u8])>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while buf.len() - at >= 8 {
        let (stream, len) = parse_header(buf[at..at + 8].try_into().expect("eight bytes"));
        if buf.len() - at - 8 < len {
            break;
        }
        out.push((stream, &buf[at + 8..at + 8 + len]));
        at += 8 + len;
    }
    (out, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_any_cut_between_reads() {
        let mut all = frame(STDOUT, b"out\n");
        all.extend(frame(STDERR, b"err"));
        all.extend(frame(SYSTEM, b""));
        all.extend(frame(STDIN, &[7u8; 300]));
        for cut in 0..=all.len() {
            let (first, used) = parse_frames(&all[..cut]);
            let mut got: Vec<(u8, Vec<u8>)> = first.into_iter().map(|(s, d)| (s, d.to_vec())).collect();
            let (rest, used2) = parse_frames(&all[used..]);
            got.extend(rest.into_iter().map(|(s, d)| (s, d.to_vec())));
            assert_eq!(used + used2, all.len(), "cut {cut}");
            let streams: Vec<u8> = got.iter().map(|f| f.0).collect();
            assert_eq!(streams, [STDOUT, STDERR, SYSTEM, STDIN], "cut {cut}");
            assert_eq!(got[3].1.len(), 300);
        }
    }

    #[test]
    fn read_and_write_agree() {
        let mut buf = Vec::new();
        write_frame(&mut buf, STDERR, b"x").unwrap();
        write_frame(&mut buf, STDOUT, b"").unwrap();
        assert_eq!(&buf[..8], &[2, 0, 0, 0, 0, 0, 0, 1]);
        let mut r = buf.as_slice();
        assert_eq!(read_frame(&mut r).unwrap(), Some((STDERR, b"x".to_vec())));
        assert_eq!(read_frame(&mut r).unwrap(), Some((STDOUT, Vec::new())));
        assert_eq!(read_frame(&mut r).unwrap(), None);
        // A frame cut short is an error, not an end.
        let mut short: &[u8] = &header(STDOUT, 5)[..];
        assert!(read_frame(&mut short).is_err());
    }
}
