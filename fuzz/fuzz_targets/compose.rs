//! Compose's parsers never panic nor hang: the input is read as a `.env` file, substituted as
//! a compose file's string, and read as a compose file (a tree, then substituted).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lookup = |name: &str| (name.len() % 2 == 0).then(|| name.to_lowercase());
    let _ = berth_compose::dotenv::parse(text, "fuzz.env", &lookup);
    let _ = berth_compose::interpolate::substitute(text, &lookup);
    if let Ok(mut tree) = berth_compose::tree::parse(text, "fuzz.yml") {
        let _ = berth_compose::interpolate::interpolate_tree(&mut tree, &lookup);
    }
});
