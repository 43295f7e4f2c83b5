//! Compose's `.env` reading and variable substitution never panic nor hang: the input is read
//! as a `.env` file and substituted as a compose file's string.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lookup = |name: &str| (name.len() % 2 == 0).then(|| name.to_lowercase());
    let _ = berth_compose::dotenv::parse(text, "fuzz.env", &lookup);
    let _ = berth_compose::interpolate::substitute(text, &lookup);
});
