//! Docker's JSON-message stream (load, import, pull, push, build) read one message at a time,
//! decoded once for every command that shows or follows one.

use std::collections::VecDeque;

pub use berth_api::jsonmessage::{JsonMessage, Progress};

use crate::{ClientError, Response};

/// The messages of a streamed answer.
pub struct Messages {
    response: Response,
    buf: Vec<u8>,
    ready: VecDeque<JsonMessage>,
}

impl Messages {
    pub fn new(response: Response) -> Messages {
        Messages { response, buf: Vec::new(), ready: VecDeque::new() }
    }

    /// The next message, or `None` at the stream's end. An error message is a message like any
    /// other ([`JsonMessage::error_message`]): what to do with it is the caller's business.
    pub async fn next(&mut self) -> Result<Option<JsonMessage>, ClientError> {
        loop {
            if let Some(m) = self.ready.pop_front() {
                return Ok(Some(m));
            }
            match self.response.chunk().await? {
                Some(chunk) => {
                    self.buf.extend_from_slice(&chunk);
                    self.ready.extend(berth_api::jsonmessage::decode(&mut self.buf));
                }
                None => return Ok(None),
            }
        }
    }
}
