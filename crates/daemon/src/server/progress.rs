//! Long operations answered as Docker's JSON-message stream (pull, push, build): the answer
//! starts with the operation's first event, so a failure before it (an unknown host, a refused
//! login, an unreadable context) is the answer's status; events are rendered as they come; a
//! later failure ends the stream with an error message (with a failed command's exit code); a
//! client that goes away is told to the operation.

use berth_api::ApiError;
use berth_engine::pull::PullEvent;
use berth_engine::EngineError;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{stream, HResult};

/// Answers with `running`'s events rendered by `render`; `gone` is called when the client
/// leaves before the end.
pub(super) async fn answer<E, T>(
    mut events: mpsc::UnboundedReceiver<E>,
    mut running: JoinHandle<berth_engine::Result<T>>,
    render: fn(E) -> Vec<u8>,
    gone: impl FnOnce() + Send + 'static,
) -> HResult
where
    E: Send + 'static,
    T: Send + 'static,
{
    let mut ended = false;
    let first = tokio::select! {
        e = events.recv() => e,
        done = &mut running => {
            done.map_err(|e| ApiError::internal(format!("the operation stopped: {e}")))??;
            ended = true;
            events.recv().await
        }
    };
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut next = first;
        while let Some(e) = next {
            if tx.send(render(e)).await.is_err() {
                break;
            }
            next = tokio::select! {
                e = events.recv() => e,
                () = tx.closed() => None,
            };
        }
        if tx.is_closed() {
            gone();
        }
        if ended {
            return;
        }
        let failure = match running.await {
            Ok(Ok(_)) => return,
            Ok(Err(EngineError::CommandFailed { message, code })) => {
                berth_api::jsonmessage::error_code(&message, code)
            }
            Ok(Err(err)) => berth_api::jsonmessage::error(&err.to_string()),
            Err(err) => berth_api::jsonmessage::error(&format!("the operation stopped: {err}")),
        };
        let _ = tx.send(failure).await;
    });
    Ok(stream(200, "application/json", rx))
}

/// A pull's or push's event as Docker's message: a layer's progress, its status, the
/// operation's status, or side data.
pub(super) fn pull_event(e: PullEvent) -> Vec<u8> {
    match (e.aux, e.progress) {
        (Some(aux), _) => berth_api::jsonmessage::aux(&aux),
        (None, Some((current, total))) => berth_api::jsonmessage::progress(
            &e.id,
            &e.status,
            berth_api::jsonmessage::Progress { current, total },
        ),
        (None, None) if e.id.is_empty() => berth_api::jsonmessage::status(&e.status),
        (None, None) => {
            let layer = !e.status.starts_with("Pulling from");
            berth_api::jsonmessage::status_of(&e.id, &e.status, layer)
        }
    }
}
