//! Response bodies (empty, whole, or streamed from a channel, flushed as each chunk comes) and
//! request bodies read as a blocking `Read` by the engine's blocking work.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use tokio::sync::mpsc;

pub enum Body {
    Empty,
    Full(Option<Bytes>),
    Chan(mpsc::Receiver<Vec<u8>>),
}

impl Body {
    pub fn full(b: impl Into<Bytes>) -> Body {
        Body::Full(Some(b.into()))
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match &mut *self {
            Body::Empty => Poll::Ready(None),
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Chan(rx) => match rx.poll_recv(cx) {
                Poll::Ready(Some(v)) => Poll::Ready(Some(Ok(Frame::data(Bytes::from(v))))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            Body::Empty => hyper::body::SizeHint::with_exact(0),
            Body::Full(b) => hyper::body::SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Body::Chan(_) => hyper::body::SizeHint::default(),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Full(b) => b.is_none(),
            Body::Chan(_) => false,
        }
    }
}

/// A request body as a blocking reader: an async task feeds it chunk by chunk.
pub struct BodyReader {
    rx: mpsc::Receiver<Bytes>,
    cur: Bytes,
}

impl BodyReader {
    pub fn new(mut body: Incoming) -> BodyReader {
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { break };
                if let Ok(data) = frame.into_data() {
                    if tx.send(data).await.is_err() {
                        break;
                    }
                }
            }
        });
        BodyReader { rx, cur: Bytes::new() }
    }
}

impl BodyReader {
    /// Reads what the consumer left (a tar's trailing padding), so the client can finish
    /// sending before the response goes out.
    /// Called on a runtime's thread (where blocking is refused), it drains in a task instead.
    pub fn drain(&mut self) {
        if tokio::runtime::Handle::try_current().is_ok() {
            let (_, closed) = tokio::sync::mpsc::channel(1);
            let mut rx = std::mem::replace(&mut self.rx, closed);
            tokio::spawn(async move { while rx.recv().await.is_some() {} });
            return;
        }
        let _ = std::io::copy(self, &mut std::io::sink());
    }
}

impl std::io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.cur = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}
