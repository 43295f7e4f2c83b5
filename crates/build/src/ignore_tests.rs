use super::*;

fn check(ignore: &str, cases: &[(&str, bool)]) {
    let ig = Ignore::parse(ignore).unwrap();
    for (path, excluded) in cases {
        assert_eq!(ig.excludes(path), *excluded, "{path} with {ignore:?}");
    }
}

#[test]
fn patterns_match_as_docker_matches_them() {
    check("*.md", &[("README.md", true), ("docs/README.md", false), ("md", false)]);
    check("docs", &[("docs", true), ("docs/a/b.txt", true), ("docsx", false), ("a/docs", false)]);
    check("**/*.log", &[("a.log", true), ("x/y/z.log", true), ("x/y/z.log.1", false)]);
    check("a/**/b", &[("a/b", true), ("a/x/b", true), ("a/x/y/b", true), ("a/x/y/b/c", true), ("b", false)]);
    check("a/**", &[("a", false), ("a/b", true), ("a/b/c", true)]);
    check("**", &[("anything", true), ("a/b", true)]);
    check("file?.txt", &[("file1.txt", true), ("file12.txt", false), ("file/.txt", false)]);
    check("[a-c]*", &[("apple", true), ("cat", true), ("dog", false)]);
    check("[^a-c]*", &[("apple", false), ("dog", true)]);
    check("\\*.txt", &[("*.txt", true), ("a.txt", false)]);
    check("/abs/path", &[("abs/path", true)]);
    check("./rel//x/../y", &[("rel/y", true)]);
    check("   spaced   ", &[("spaced", true)]);
    check("# comment\n\n#*.go\nkeep", &[("main.go", false), ("keep", true), ("# comment", false)]);
    check(" # not a comment", &[("# not a comment", true)]);
}

#[test]
fn the_last_matching_pattern_wins_and_exceptions_bring_back() {
    let rules = "*.md\n!README.md\nREADME-secret.md\ndocs\n!docs/keep.txt";
    check(
        rules,
        &[
            ("a.md", true),
            ("README.md", false),
            ("README-secret.md", true),
            ("docs/x", true),
            ("docs/keep.txt", false),
            ("docs", true),
        ],
    );
    check("!a\na", &[("a", true)]);
    check("a\n!a", &[("a", false)]);
    // An exception cannot bring back a file whose parent directory stays excluded by a
    // later pattern.
    check("dir\n!dir/f\ndir", &[("dir/f", true)]);
}

#[test]
fn excluded_directories_are_skipped_only_when_nothing_below_comes_back() {
    let ig = Ignore::parse("node_modules\ntarget\n!target/release/app").unwrap();
    assert!(ig.skips_dir("node_modules"));
    assert!(!ig.skips_dir("target"));
    assert!(!ig.skips_dir("target/release"));
    assert!(ig.skips_dir("target/debug"));
}

#[test]
fn bad_patterns_and_clean_paths() {
    for bad in ["[abc", "x\\", "[z-a]"] {
        let e = Ignore::parse(bad).unwrap_err();
        assert!(e.contains("syntax error in pattern"), "{bad}: {e}");
    }
    for (path, want) in [("a//b/./c/", "a/b/c"), ("../x", "../x"), ("/../x", "/x"), ("a/..", "."), ("", ".")]
    {
        assert_eq!(clean(path), want, "{path}");
    }
    assert_eq!(wildcard_matches("*.rs", "main.rs"), Ok(true));
    assert_eq!(wildcard_matches("m?in.[a-r]s", "main.rs"), Ok(true));
    assert_eq!(wildcard_matches("*", "a/b"), Ok(false));
    assert_eq!(ignore_files("build/app.Dockerfile"), ["build/app.Dockerfile.dockerignore", ".dockerignore"]);
}
