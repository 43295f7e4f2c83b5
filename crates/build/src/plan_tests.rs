use super::*;
use crate::parse;

fn linux(arch: &str) -> Platform {
    Platform { os: "linux".into(), arch: arch.into(), variant: None }
}

fn request(target: Option<&str>, args: &[(&str, &str)]) -> Request {
    Request {
        build_args: args.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        target: target.map(Into::into),
        build_platform: linux("amd64"),
        target_platform: linux("arm64"),
    }
}

const MULTI: &str = "\
ARG BASE=busybox
ARG TAG
FROM ${BASE}:${TAG:-latest} AS deps
RUN fetch
FROM --platform=$BUILDPLATFORM golang AS build
ARG SRC=deps
COPY --from=$SRC /x /x
RUN --mount=type=cache,target=/c --mount=type=bind,from=tools,target=/t make
FROM scratch AS unused
COPY --from=nginx:1 /etc/nginx /n
FROM deps AS final
COPY --from=1 /out /out
";

#[test]
fn the_target_needs_only_some_stages_in_order() {
    let df = parse(MULTI).unwrap();
    let plan = plan(&df, &request(None, &[])).unwrap();
    let order: Vec<usize> = plan.stages.iter().map(|s| s.index).collect();
    assert_eq!(order, [0, 1, 3], "the unused stage is skipped");
    assert_eq!(plan.target, 3);
    assert_eq!(plan.stages[0].base, Base::Image("busybox:latest".into()));
    assert_eq!(plan.stages[1].platform.as_deref(), Some("linux/amd64"));
    assert_eq!(plan.stages[1].needs, [0], "COPY --from=$SRC names the deps stage");
    assert_eq!(plan.stages[1].images, ["tools"], "a mount from an image that is not a stage");
    assert_eq!(plan.stages[2].base, Base::Stage(0));
    assert_eq!(plan.stages[2].needs, [0, 1]);
    assert_eq!(plan.steps, 2 + 4 + 2);
    assert_eq!(plan.globals.get("TARGETARCH").map(String::as_str), Some("arm64"));
    assert_eq!(plan.globals.get("BASE").map(String::as_str), Some("busybox"));
    assert!(!plan.globals.contains_key("TAG"));
}

#[test]
fn build_args_and_targets_change_the_plan() {
    let df = parse(MULTI).unwrap();
    let plan = plan(&df, &request(Some("Unused"), &[("BASE", "debian"), ("TAG", "12")])).unwrap();
    assert_eq!(plan.stages.iter().map(|s| s.index).collect::<Vec<_>>(), [2]);
    assert_eq!(plan.stages[0].images, ["nginx:1"]);
    let plan = super::plan(&df, &request(Some("deps"), &[("BASE", "debian"), ("TAG", "12")])).unwrap();
    assert_eq!(plan.stages[0].base, Base::Image("debian:12".into()));
    assert_eq!(plan.steps, 2);
}

#[test]
fn plans_that_cannot_be_made_say_why() {
    let df = parse(MULTI).unwrap();
    assert_eq!(
        plan(&df, &request(Some("nope"), &[])).unwrap_err().to_string(),
        "target stage \"nope\" could not be found"
    );
    let df = parse("ARG B\nFROM $B\n").unwrap();
    assert_eq!(plan(&df, &request(None, &[])).unwrap_err().to_string(), "base name ($B) should not be blank");
    let df = parse("FROM busybox AS a\nCOPY --from=b / /\nFROM busybox AS b\nCOPY --from=a / /\n").unwrap();
    assert_eq!(
        plan(&df, &request(None, &[])).unwrap_err().to_string(),
        "circular dependency detected on stage: b"
    );
    let df = parse("FROM ${A:?required}\n").unwrap();
    assert_eq!(
        plan(&df, &request(None, &[])).unwrap_err().to_string(),
        "dockerfile parse error on line 1: failed to process \"${A:?required}\": A: required"
    );
}

#[test]
fn a_from_names_only_earlier_stages() {
    // A later stage of that name is not a base: the name is an image's.
    let df = parse("FROM later AS first\nFROM busybox AS later\n").unwrap();
    let plan = plan(&df, &request(Some("first"), &[])).unwrap();
    assert_eq!(plan.stages[0].base, Base::Image("later".into()));
}

#[test]
fn independent_stages_run_in_the_same_wave() {
    let table: &[(&str, Vec<Vec<usize>>)] = &[
        ("FROM busybox\n", vec![vec![0]]),
        // Two independent stages, then one that copies from both.
        (
            "FROM busybox AS a\nRUN x\nFROM busybox AS b\nRUN y\nFROM busybox\nCOPY --from=a /a /\nCOPY --from=b /b /\n",
            vec![vec![0, 1], vec![2]],
        ),
        // A chain: each stage on the one before.
        ("FROM busybox AS a\nFROM a AS b\nFROM b\n", vec![vec![0], vec![1], vec![2]]),
        // A stage that needs the second of two: the first runs beside the second.
        (
            "FROM busybox AS a\nFROM busybox AS b\nFROM b AS c\nFROM busybox\nCOPY --from=a /a /\nCOPY --from=c /c /\n",
            vec![vec![0, 1], vec![2], vec![3]],
        ),
    ];
    for (text, want) in table {
        let df = parse(text).unwrap();
        let p = plan(&df, &request(None, &[])).unwrap();
        assert_eq!(&waves(&p.stages), want, "{text}");
    }
}
