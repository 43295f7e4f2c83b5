//! Docker's multiplexed stream (framed by `berth-stdcopy`) as the CLI reads it: logs, attach
//! and exec when there is no terminal.

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
    let (frames, used) = berth_stdcopy::parse_frames(buf);
    let out = frames
        .into_iter()
        .map(|(stream, data)| Frame {
            kind: match stream {
                berth_stdcopy::STDIN => StreamKind::Stdin,
                berth_stdcopy::STDERR => StreamKind::Stderr,
                berth_stdcopy::SYSTEM => StreamKind::System,
                _ => StreamKind::Stdout,
            },
            data: data.to_vec(),
        })
        .collect();
    buf.drain(..used);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use berth_stdcopy::frame;

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
