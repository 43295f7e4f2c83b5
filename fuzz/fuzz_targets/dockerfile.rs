//! The Dockerfile parser, the shell lexer and `RUN --mount` never panic nor hang, whatever the
//! text: each node's arguments are expanded as words, each mount parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    berth_build::fuzzing::dockerfile(text);
});
