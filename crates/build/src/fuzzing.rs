//! What the fuzz targets (`fuzz/`) run, here so that the corpus they grow is replayed by this
//! crate's tests on stable Rust.

use crate::lex::Lexer;
use crate::mount::Mount;

/// Parses a Dockerfile, expands every node's arguments and flags as words and parses every
/// `--mount`: none of it may panic.
pub fn dockerfile(text: &str) {
    let vars = |name: &str| match name {
        "HOME" => Some("/root".to_string()),
        "EMPTY" => Some(String::new()),
        "LIST" => Some("a b  c/d.e".to_string()),
        _ => None,
    };
    if let Ok(ast) = crate::parser::parse(text) {
        let lexer = Lexer::new(ast.directives.escape);
        for node in &ast.nodes {
            for word in node.args.iter().chain(&node.flags) {
                let _ = lexer.expand(word, &vars);
            }
            for flag in &node.flags {
                if let Some(m) = flag.strip_prefix("--mount=") {
                    let _ = Mount::parse(m, 0);
                }
            }
        }
    }
    let _ = crate::instructions::parse(text);
}

/// The first line is a path, the rest `.dockerignore` patterns.
pub fn dockerignore(text: &str) {
    let (path, patterns) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(ig) = crate::ignore::Ignore::parse(patterns) {
        let _ = ig.excludes(path);
        let _ = ig.skips_dir(path);
    }
}

#[cfg(test)]
mod tests {
    /// Replays the fuzzers' corpora (`fuzz/corpus/dockerfile`, `fuzz/corpus/dockerignore`).
    #[test]
    fn the_fuzz_corpora_replay_without_a_panic() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
        let mut replayed = 0;
        for (dir, run) in
            [("dockerfile", super::dockerfile as fn(&str)), ("dockerignore", super::dockerignore)]
        {
            for entry in std::fs::read_dir(root.join(dir)).expect("the corpus directory") {
                let data = std::fs::read(entry.unwrap().path()).unwrap();
                if let Ok(text) = std::str::from_utf8(&data) {
                    run(text);
                    replayed += 1;
                }
            }
        }
        assert!(replayed >= 10, "only {replayed} corpus entries");
    }
}
