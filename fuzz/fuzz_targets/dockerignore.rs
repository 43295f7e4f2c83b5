//! `.dockerignore` parsing and matching never panic nor hang: the input's first line is the
//! path, the rest the patterns.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    berth_build::fuzzing::dockerignore(text);
});
