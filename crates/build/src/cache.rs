//! The build cache's keys and its explanations. A step's result is reused when what it starts
//! from (the parent state), its instruction (expanded, with the build args a RUN sees) and,
//! for COPY and ADD, the content and metadata of every source file are the same: together
//! they make the step's key. When a step is not reused, [`explain`] says why, against the
//! closest earlier record: "step 4 rebuilt: file app/main.rs changed". Pure.

use sha2::{Digest, Sha256};

/// What decides whether a step's result can be reused.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StepInputs {
    /// The key of the state the step starts from (the base image's ID for a stage's first).
    pub parent: String,
    /// The instruction as run: expanded, flags included, with the build args a RUN sees.
    pub instruction: String,
    /// COPY and ADD's sources: path (relative to the source) and digest of its content and
    /// metadata (mode, owner, link target; not times), sorted by path.
    pub files: Vec<(String, String)>,
}

impl StepInputs {
    /// The step's cache key: `sha256:` over a canonical encoding of the inputs.
    pub fn key(&self) -> String {
        let mut h = Sha256::new();
        for part in [self.parent.as_str(), self.instruction.as_str()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.update((self.files.len() as u64).to_le_bytes());
        for (path, digest) in &self.files {
            for part in [path, digest] {
                h.update((part.len() as u64).to_le_bytes());
                h.update(part.as_bytes());
            }
        }
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }
}

/// Why a step could not reuse a cached result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// `--no-cache`, or `--no-cache-filter` naming the stage.
    NoCache,
    /// Nothing like it was built before.
    New,
    /// The step before it (or the base image) changed.
    Parent {
        base: bool,
    },
    Instruction {
        was: String,
    },
    Files {
        changed: Vec<String>,
        added: Vec<String>,
        removed: Vec<String>,
    },
}

/// Picks the earlier record closest to `current` among `candidates` and says what differs:
/// a record with the same parent and instruction (then files changed), else with the same
/// instruction (then the parent changed), else with the same parent (then the instruction).
pub fn diagnose(current: &StepInputs, candidates: &[StepInputs], first_of_stage: bool) -> Miss {
    if let Some(prev) =
        candidates.iter().find(|c| c.parent == current.parent && c.instruction == current.instruction)
    {
        return files_miss(&prev.files, &current.files);
    }
    if candidates.iter().any(|c| c.instruction == current.instruction) {
        return Miss::Parent { base: first_of_stage };
    }
    if let Some(prev) = candidates.iter().find(|c| c.parent == current.parent) {
        return Miss::Instruction { was: prev.instruction.clone() };
    }
    Miss::New
}

fn files_miss(before: &[(String, String)], now: &[(String, String)]) -> Miss {
    let find = |list: &[(String, String)], p: &str| list.iter().find(|(q, _)| q == p).map(|(_, d)| d.clone());
    let mut changed = Vec::new();
    let mut added = Vec::new();
    for (p, d) in now {
        match find(before, p) {
            Some(old) if old != *d => changed.push(p.clone()),
            Some(_) => {}
            None => added.push(p.clone()),
        }
    }
    let removed = before.iter().filter(|(p, _)| find(now, p).is_none()).map(|(p, _)| p.clone()).collect();
    Miss::Files { changed, added, removed }
}

/// The sentence `berth build` prints for a step (numbered from 1) that was rebuilt.
pub fn explain(step: usize, miss: &Miss) -> String {
    let why = match miss {
        Miss::NoCache => "the cache was not used (--no-cache)".to_string(),
        Miss::New => "nothing like it was built before".to_string(),
        Miss::Parent { base: true } => "its base image changed".to_string(),
        Miss::Parent { base: false } => format!("step {} changed", step - 1),
        Miss::Instruction { was } => format!("the instruction changed (was: {was})"),
        Miss::Files { changed, added, removed } => {
            let mut parts = Vec::new();
            for (list, what) in [(changed, "changed"), (added, "added"), (removed, "removed")] {
                if !list.is_empty() {
                    parts.push(format!("{} {what}", files(list)));
                }
            }
            if parts.is_empty() {
                "its files' metadata changed".to_string()
            } else {
                parts.join(", ")
            }
        }
    };
    format!("step {step} rebuilt: {why}")
}

/// `file a`, `files a and b`, `files a, b and 3 more`.
fn files(list: &[String]) -> String {
    match list {
        [one] => format!("file {one}"),
        [a, b] => format!("files {a} and {b}"),
        [a, b, rest @ ..] => format!("files {a}, {b} and {} more", rest.len()),
        [] => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(parent: &str, instruction: &str, files: &[(&str, &str)]) -> StepInputs {
        StepInputs {
            parent: parent.into(),
            instruction: instruction.into(),
            files: files.iter().map(|(p, d)| (p.to_string(), d.to_string())).collect(),
        }
    }

    #[test]
    fn keys_change_with_every_input_and_only_then() {
        let a = inputs("p", "COPY . /app", &[("main.rs", "d1")]);
        assert_eq!(a.key(), a.clone().key());
        assert!(a.key().starts_with("sha256:") && a.key().len() == 71);
        for other in [
            inputs("q", "COPY . /app", &[("main.rs", "d1")]),
            inputs("p", "COPY . /src", &[("main.rs", "d1")]),
            inputs("p", "COPY . /app", &[("main.rs", "d2")]),
            inputs("p", "COPY . /app", &[("lib.rs", "d1")]),
            inputs("p", "COPY . /app", &[]),
            // No ambiguity between fields.
            inputs("pC", "OPY . /app", &[("main.rs", "d1")]),
        ] {
            assert_ne!(a.key(), other.key(), "{other:?}");
        }
    }

    #[test]
    fn misses_are_explained_against_the_closest_record() {
        let before = [
            inputs("p1", "COPY . /app", &[("app/main.rs", "a"), ("app/lib.rs", "b"), ("gone.txt", "c")]),
            inputs("p2", "RUN make", &[]),
        ];
        let now = inputs("p1", "COPY . /app", &[("app/main.rs", "A"), ("app/lib.rs", "b"), ("new.txt", "d")]);
        assert_eq!(
            explain(4, &diagnose(&now, &before, false)),
            "step 4 rebuilt: file app/main.rs changed, file new.txt added, file gone.txt removed"
        );
        assert_eq!(
            explain(5, &diagnose(&inputs("p9", "RUN make", &[]), &before, false)),
            "step 5 rebuilt: step 4 changed"
        );
        assert_eq!(
            explain(2, &diagnose(&inputs("p9", "RUN make", &[]), &before, true)),
            "step 2 rebuilt: its base image changed"
        );
        assert_eq!(
            explain(5, &diagnose(&inputs("p2", "RUN make all", &[]), &before, false)),
            "step 5 rebuilt: the instruction changed (was: RUN make)"
        );
        assert_eq!(
            explain(3, &diagnose(&inputs("x", "y", &[]), &before, false)),
            "step 3 rebuilt: nothing like it was built before"
        );
        assert_eq!(explain(3, &Miss::NoCache), "step 3 rebuilt: the cache was not used (--no-cache)");
        let many = Miss::Files {
            changed: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            added: vec![],
            removed: vec![],
        };
        assert_eq!(explain(2, &many), "step 2 rebuilt: files a, b and 2 more changed");
    }
}
