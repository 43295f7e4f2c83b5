//! A hijacked attach or exec connection joined to this process's own stdio: stdin goes in (until it
//! ends), and what comes back goes to stdout, or is split between stdout and stderr when there
//! is no terminal.

use std::io::Write;

use crate::{demux, Hijacked, StreamKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The detach sequence of `--detach-keys` (`ctrl-p,ctrl-q` by default) as bytes; keys the
/// daemon would refuse detach nothing here (the daemon's answer says what is wrong).
pub fn detach_sequence(keys: Option<&str>) -> Vec<u8> {
    berth_api::detachkeys::parse(keys.unwrap_or(berth_api::detachkeys::DEFAULT)).unwrap_or_default()
}

/// How a joined stream ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The daemon closed it: the process ended.
    Closed,
    /// The user typed the detach keys: the process goes on without us.
    Detached,
}

/// Copies until the daemon closes the stream or the user detaches (the daemon sees the keys
/// too and lets go of the stream). Stdin is read on a thread of its own, so a blocked read
/// never keeps the command from ending.
pub async fn join(conn: Hijacked, tty: bool, stdin: bool, detach: &[u8]) -> std::io::Result<Ended> {
    let (mut rd, mut wr) = tokio::io::split(conn);
    let (detached_tx, mut detached_rx) = tokio::sync::oneshot::channel::<()>();
    let detach = if tty { detach.to_vec() } else { vec![] };
    if stdin {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut input = std::io::stdin().lock();
            loop {
                match std::io::Read::read(&mut input, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.blocking_send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        tokio::spawn(async move {
            let mut matched = 0;
            let mut detached_tx = Some(detached_tx);
            while let Some(data) = rx.recv().await {
                if wr.write_all(&data).await.is_err() {
                    return;
                }
                let _ = wr.flush().await;
                for b in &data {
                    matched = if !detach.is_empty() && *b == detach[matched] {
                        matched + 1
                    } else {
                        usize::from(!detach.is_empty() && *b == detach[0])
                    };
                    if !detach.is_empty() && matched == detach.len() {
                        if let Some(tx) = detached_tx.take() {
                            let _ = tx.send(());
                        }
                        return;
                    }
                }
            }
            // Stdin ended: the container sees end of input.
            let _ = wr.shutdown().await;
        });
    }
    let mut buf = vec![0u8; 32 * 1024];
    let mut pending = Vec::new();
    // Set once the stdin side has finished (detached or not); the receiver is not polled again.
    let mut stdin_done = !stdin;
    loop {
        let n = tokio::select! {
            n = rd.read(&mut buf) => n?,
            r = &mut detached_rx, if !stdin_done => {
                if r.is_ok() {
                    return Ok(Ended::Detached);
                }
                stdin_done = true;
                continue;
            }
        };
        if n == 0 {
            let detached = !stdin_done && detached_rx.try_recv().is_ok();
            return Ok(if detached { Ended::Detached } else { Ended::Closed });
        }
        if tty {
            let mut out = std::io::stdout().lock();
            out.write_all(&buf[..n])?;
            out.flush()?;
            continue;
        }
        pending.extend_from_slice(&buf[..n]);
        for f in demux(&mut pending) {
            match f.kind {
                StreamKind::Stderr | StreamKind::System => {
                    let mut e = std::io::stderr().lock();
                    e.write_all(&f.data)?;
                    e.flush()?;
                }
                _ => {
                    let mut o = std::io::stdout().lock();
                    o.write_all(&f.data)?;
                    o.flush()?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_as_bytes() {
        assert_eq!(detach_sequence(None), [16, 17]);
        assert_eq!(detach_sequence(Some("ctrl-a,x")), [1, b'x']);
    }
}
