//! Request bodies: nothing, one buffer, or a stream fed from a reader on a thread of its own
//! (an archive for `load`, `import` or `cp` goes to the daemon as it is read, never whole in
//! memory).

use std::io::Read;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::Frame;
use tokio::sync::mpsc;

/// What a request carries.
pub enum Body {
    Empty,
    Json(serde_json::Value),
    /// A tar stream or other bytes, sent as `application/x-tar`.
    Tar(Bytes),
    /// A tar stream read as it is sent, as `application/x-tar` (see [`Body::read_from`]).
    TarStream(mpsc::Receiver<std::io::Result<Bytes>>),
}

/// How much a streamed body reads at a time.
const CHUNK: usize = 64 * 1024;

impl Body {
    /// A body streamed from `reader`, read on a thread of its own (readers block); `first`
    /// goes ahead of it (bytes already read, say to see that stdin is not empty). A read
    /// error ends the request with that error.
    pub fn read_from(first: Vec<u8>, mut reader: impl Read + Send + 'static) -> Body {
        let (tx, rx) = mpsc::channel(4);
        std::thread::spawn(move || {
            if !first.is_empty() && tx.blocking_send(Ok(Bytes::from(first))).is_err() {
                return;
            }
            loop {
                let mut buf = vec![0u8; CHUNK];
                match reader.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
        });
        Body::TarStream(rx)
    }
}

impl Body {
    /// A body that `produce` writes on a thread of its own (a tar being built as it is sent).
    /// The handle gives the bytes written, or the error that cut the body short (say, a file
    /// that could not be read), which is the one to report.
    pub fn write_with(
        produce: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()> + Send + 'static,
    ) -> (Body, std::thread::JoinHandle<std::io::Result<u64>>) {
        let (tx, rx) = mpsc::channel(4);
        let handle = std::thread::spawn(move || {
            let mut w = ChannelWriter { tx, buf: Vec::with_capacity(CHUNK), written: 0 };
            let result = produce(&mut w).and_then(|_| std::io::Write::flush(&mut w));
            match result {
                Ok(()) => Ok(w.written),
                Err(e) => {
                    let _ = w.tx.blocking_send(Err(std::io::Error::new(e.kind(), e.to_string())));
                    Err(e)
                }
            }
        });
        (Body::TarStream(rx), handle)
    }
}

/// Bytes written, sent on in chunks.
struct ChannelWriter {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    buf: Vec<u8>,
    written: u64,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the daemon stopped reading the upload")
        })
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        self.written += data.len() as u64;
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.send()
    }
}

/// A request's body as hyper sends it.
pub(crate) enum Outgoing {
    Full(Option<Bytes>),
    Stream(mpsc::Receiver<std::io::Result<Bytes>>),
}

impl hyper::body::Body for Outgoing {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.get_mut() {
            Outgoing::Full(b) => Poll::Ready(b.take().filter(|b| !b.is_empty()).map(|b| Ok(Frame::data(b)))),
            Outgoing::Stream(rx) => rx.poll_recv(cx).map(|item| item.map(|r| r.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Outgoing::Full(None))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            Outgoing::Full(Some(b)) => hyper::body::SizeHint::with_exact(b.len() as u64),
            Outgoing::Full(None) => hyper::body::SizeHint::with_exact(0),
            Outgoing::Stream(_) => hyper::body::SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(body: Body) -> (Vec<u8>, Option<std::io::Error>) {
        let Body::TarStream(mut rx) = body else { panic!("not a stream") };
        let mut got = Vec::new();
        while let Some(item) = rx.recv().await {
            match item {
                Ok(b) => got.extend_from_slice(&b),
                Err(e) => return (got, Some(e)),
            }
        }
        (got, None)
    }

    #[test]
    fn streams_carry_every_byte_and_the_error_that_ends_them() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
        let (got, err) =
            rt.block_on(collect(Body::read_from(b"head".to_vec(), std::io::Cursor::new(data.clone()))));
        assert!(err.is_none());
        assert_eq!(&got[..4], b"head");
        assert_eq!(&got[4..], &data[..]);
        let copy = data.clone();
        let (body, handle) = Body::write_with(move |w| w.write_all(&copy));
        let (got, err) = rt.block_on(collect(body));
        assert!(err.is_none());
        assert_eq!(got, data);
        assert_eq!(handle.join().unwrap().unwrap(), 300_000);
        let (body, handle) = Body::write_with(|w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, "open /secret: permission denied"))
        });
        let (_, err) = rt.block_on(collect(body));
        assert_eq!(err.unwrap().to_string(), "open /secret: permission denied");
        assert_eq!(handle.join().unwrap().unwrap_err().kind(), std::io::ErrorKind::PermissionDenied);
    }
}
