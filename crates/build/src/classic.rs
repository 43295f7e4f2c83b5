//! The messages of `POST /build`'s classic stream, as Docker's classic builder sends them
//! (the docker CLI, the Python SDK and docker-compose print them as they come): each a JSON
//! object on its own line, `{"stream": …}` for text, `{"aux": {"ID": …}}` for the image ID and
//! `{"errorDetail": …, "error": …}` to end a failed build. Pure.

use serde_json::json;

/// `Step 3/5 : RUN make` (and the line break Docker sends apart).
pub fn step(n: usize, total: usize, original: &str) -> Vec<String> {
    vec![stream(&format!("Step {n}/{total} : {original}")), stream("\n")]
}

/// ` ---> 1f33693eb62a`: a step's result, by the image ID's first 12 hex digits.
pub fn result(image_id: &str) -> String {
    stream(&format!(" ---> {}\n", short(image_id)))
}

pub fn using_cache() -> String {
    stream(" ---> Using cache\n")
}

pub fn running_in(container_id: &str) -> String {
    stream(&format!(" ---> Running in {}\n", short(container_id)))
}

pub fn removing(container_id: &str) -> String {
    stream(&format!("Removing intermediate container {}\n", short(container_id)))
}

/// A RUN step's output: stdout as it is, stderr in red as Docker marks it.
pub fn output(data: &[u8], stderr: bool) -> String {
    let text = String::from_utf8_lossy(data);
    if stderr {
        stream(&format!("\u{1b}[91m{text}\u{1b}[0m"))
    } else {
        stream(&text)
    }
}

/// The end of a successful build: the ID (`aux`), `Successfully built`, and each tag.
pub fn success(image_id: &str, tags: &[String]) -> Vec<String> {
    let mut out = vec![
        json!({"aux": {"ID": image_id}}).to_string(),
        stream(&format!("Successfully built {}\n", short(image_id))),
    ];
    out.extend(tags.iter().map(|t| stream(&format!("Successfully tagged {t}\n"))));
    out
}

/// The end of a failed build; `code` is a failed command's exit code (else 1 is not sent).
pub fn error(message: &str, code: Option<i64>) -> String {
    let detail = match code {
        Some(c) => json!({"code": c, "message": message}),
        None => json!({"message": message}),
    };
    json!({"errorDetail": detail, "error": message}).to_string()
}

/// The message of a RUN step that failed: its command as run, and its exit code.
pub fn failed_command(command: &[String], code: i64) -> String {
    format!("The command '{}' returned a non-zero code: {code}", command.join(" "))
}

/// A `{"stream": …}` message.
pub fn stream(text: &str) -> String {
    json!({ "stream": text }).to_string()
}

/// An ID's first 12 hex digits, without its algorithm.
pub fn short(id: &str) -> String {
    let hex = id.split_once(':').map_or(id, |(_, h)| h);
    hex.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Docker writes `<`, `>` and `&` as `\u003c`, `\u003e` and `\u0026`; JSON readers see the
    /// same text either way, so the comparison is of the parsed values.
    fn same(ours: &str, dockers: &str) {
        let (a, b): (serde_json::Value, serde_json::Value) =
            (serde_json::from_str(ours).unwrap(), serde_json::from_str(dockers).unwrap());
        assert_eq!(a, b, "{ours} against {dockers}");
    }

    /// What the reference dockerd (20.10) sent for a build that ran a step, failed one, and
    /// then for one served from its cache.
    #[test]
    fn messages_read_as_dockers() {
        let s = step(3, 5, "RUN echo out; echo err >&2");
        same(&s[0], r#"{"stream":"Step 3/5 : RUN echo out; echo err \u003e\u00262"}"#);
        same(&s[1], r#"{"stream":"\n"}"#);
        same(&running_in("56c6a555ebde0123456789"), r#"{"stream":" ---\u003e Running in 56c6a555ebde\n"}"#);
        same(&output(b"out\n", false), r#"{"stream":"out\n"}"#);
        same(&output(b"err\n", true), r#"{"stream":"\u001b[91merr\n\u001b[0m"}"#);
        same(&removing("56c6a555ebde99"), r#"{"stream":"Removing intermediate container 56c6a555ebde\n"}"#);
        same(&result("sha256:affd6af83093aaaa"), r#"{"stream":" ---\u003e affd6af83093\n"}"#);
        same(&using_cache(), r#"{"stream":" ---\u003e Using cache\n"}"#);
        let sh = ["/bin/sh".to_string(), "-c".to_string(), "exit 3".to_string()];
        same(
            &error(&failed_command(&sh, 3), Some(3)),
            r#"{"errorDetail":{"code":3,"message":"The command '/bin/sh -c exit 3' returned a non-zero code: 3"},"error":"The command '/bin/sh -c exit 3' returned a non-zero code: 3"}"#,
        );
        let end = success("sha256:96aff1b3da21ffff", &["ref:all".into()]);
        same(&end[0], r#"{"aux":{"ID":"sha256:96aff1b3da21ffff"}}"#);
        same(&end[1], r#"{"stream":"Successfully built 96aff1b3da21\n"}"#);
        same(&end[2], r#"{"stream":"Successfully tagged ref:all\n"}"#);
    }
}
