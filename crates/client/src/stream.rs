//! Docker's multiplexed stream: each frame is an 8-byte header (stream, 0, 0, 0, big-endian
//! length) and its payload. Used by logs, attach and exec when there is no terminal.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Stdin,
    Stdout,
    Stderr,
    /// The daemon's own error, sent in band.
    System,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: StreamKind,
    pub data: Vec<u8>,
}

/// Splits what has arrived so far into whole frames; a partial frame stays in `buf` for the
/// next call.
pub fn demux(buf: &mut Vec<u8>) -> Vec<Frame> {
    let mut out = Vec::new();
    let mut at = 0;
    while buf.len() - at >= 8 {
        let h = &buf[at..at + 8];
        let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
        if buf.len() - at - 8 < len {
            break;
        }
        let kind = match h[0] {
            0 => StreamKind::Stdin,
            2 => StreamKind::Stderr,
            3 => StreamKind::System,
            _ => StreamKind::Stdout,
        };
        out.push(Frame { kind, data: buf[at + 8..at + 8 + len].to_vec() });
        at += 8 + len;
    }
    buf.drain(..at);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, data: &[u8]) -> Vec<u8> {
        let mut v = vec![kind, 0, 0, 0];
        v.extend_from_slice(&(data.len() as u32).to_be_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn frames_split_across_reads() {
        let mut all = frame(1, b"out\n");
        all.extend(frame(2, b"err"));
        all.extend(frame(3, b"boom"));
        for cut in 0..all.len() {
            let mut buf = all[..cut].to_vec();
            let mut got = demux(&mut buf);
            buf.extend_from_slice(&all[cut..]);
            got.extend(demux(&mut buf));
            assert!(buf.is_empty(), "cut {cut}");
            let kinds: Vec<_> = got.iter().map(|f| f.kind).collect();
            assert_eq!(kinds, [StreamKind::Stdout, StreamKind::Stderr, StreamKind::System], "cut {cut}");
            assert_eq!(got[0].data, b"out\n");
        }
    }
}
