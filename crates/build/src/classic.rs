//! The text of `POST /build`'s classic stream, as Docker's classic builder writes it (the
//! docker CLI, the Python SDK and docker-compose print it as it comes): `Step 3/5 : RUN make`,
//! ` ---> Running in …`, ` ---> Using cache`, a step's output (stderr in red), ` ---> <id>`,
//! `Successfully built …`. Each piece is one `{"stream": …}` message; the API encodes them.
//! Pure.

/// `Step 3/5 : RUN make`, then the line break Docker sends apart.
pub fn step(n: usize, total: usize, original: &str) -> [String; 2] {
    [format!("Step {n}/{total} : {original}"), "\n".to_string()]
}

/// ` ---> 1f33693eb62a`: a step's result, by the image ID's first 12 hex digits.
pub fn result(image_id: &str) -> String {
    format!(" ---> {}\n", short(image_id))
}

pub fn using_cache() -> String {
    " ---> Using cache\n".to_string()
}

pub fn running_in(container_id: &str) -> String {
    format!(" ---> Running in {}\n", short(container_id))
}

pub fn removing(container_id: &str) -> String {
    format!("Removing intermediate container {}\n", short(container_id))
}

/// A RUN step's output: stdout as it is, stderr in red as Docker marks it.
pub fn output(data: &[u8], stderr: bool) -> String {
    let text = String::from_utf8_lossy(data);
    if stderr {
        format!("\u{1b}[91m{text}\u{1b}[0m")
    } else {
        text.into_owned()
    }
}

pub fn built(image_id: &str) -> String {
    format!("Successfully built {}\n", short(image_id))
}

pub fn tagged(reference: &str) -> String {
    format!("Successfully tagged {reference}\n")
}

/// The message of a RUN step that failed: its command as run, and its exit code.
pub fn failed_command(command: &[String], code: i64) -> String {
    format!("The command '{}' returned a non-zero code: {code}", command.join(" "))
}

/// An ID's first 12 hex digits, without its algorithm.
pub fn short(id: &str) -> String {
    let hex = id.split_once(':').map_or(id, |(_, h)| h);
    hex.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Docker's `{"stream": …}` message's text.
    fn text(dockers: &str) -> String {
        let v: serde_json::Value = serde_json::from_str(dockers).unwrap();
        v["stream"].as_str().unwrap().to_string()
    }

    /// What the reference dockerd (20.10) sent for a build that ran a step, failed one, and
    /// then for one served from its cache.
    #[test]
    fn messages_read_as_dockers() {
        let s = step(3, 5, "RUN echo out; echo err >&2");
        assert_eq!(s[0], text(r#"{"stream":"Step 3/5 : RUN echo out; echo err \u003e\u00262"}"#));
        assert_eq!(s[1], text(r#"{"stream":"\n"}"#));
        assert_eq!(
            running_in("56c6a555ebde0123456789"),
            text(r#"{"stream":" ---\u003e Running in 56c6a555ebde\n"}"#)
        );
        assert_eq!(output(b"out\n", false), text(r#"{"stream":"out\n"}"#));
        assert_eq!(output(b"err\n", true), text(r#"{"stream":"\u001b[91merr\n\u001b[0m"}"#));
        assert_eq!(
            removing("56c6a555ebde99"),
            text(r#"{"stream":"Removing intermediate container 56c6a555ebde\n"}"#)
        );
        assert_eq!(result("sha256:affd6af83093aaaa"), text(r#"{"stream":" ---\u003e affd6af83093\n"}"#));
        assert_eq!(using_cache(), text(r#"{"stream":" ---\u003e Using cache\n"}"#));
        let sh = ["/bin/sh".to_string(), "-c".to_string(), "exit 3".to_string()];
        assert_eq!(failed_command(&sh, 3), "The command '/bin/sh -c exit 3' returned a non-zero code: 3");
        assert_eq!(
            built("sha256:96aff1b3da21ffff"),
            text(r#"{"stream":"Successfully built 96aff1b3da21\n"}"#)
        );
        assert_eq!(tagged("ref:all"), text(r#"{"stream":"Successfully tagged ref:all\n"}"#));
    }
}
