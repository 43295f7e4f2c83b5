//! The JSON message stream of `/images/load` and `/images/create`: one JSON object per line,
//! `{"stream": …}` or `{"status": …}` for progress, `{"errorDetail": …, "error": …}` to fail.

use serde_json::json;

pub fn stream(text: &str) -> Vec<u8> {
    line(json!({ "stream": text }))
}

pub fn status(text: &str) -> Vec<u8> {
    line(json!({ "status": text }))
}

pub fn error(message: &str) -> Vec<u8> {
    line(json!({ "errorDetail": { "message": message }, "error": message }))
}

fn line(v: serde_json::Value) -> Vec<u8> {
    let mut b = serde_json::to_vec(&v).unwrap_or_default();
    b.push(b'\n');
    b
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_are_dockers() {
        assert_eq!(super::stream("Loaded image: a:b\n"), b"{\"stream\":\"Loaded image: a:b\\n\"}\n");
        // Docker's field order: errorDetail, then error.
        assert_eq!(super::error("bad"), b"{\"errorDetail\":{\"message\":\"bad\"},\"error\":\"bad\"}\n");
    }
}
