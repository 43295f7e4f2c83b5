//! Compose's parsers never panic nor hang: the input is read as a `.env` file, substituted as
//! a compose file's string, its lines read as ports, volumes and commands, and loaded as a project's two
//! files (read, substituted, merged).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lookup = |name: &str| (name.len() % 2 == 0).then(|| name.to_lowercase());
    let _ = berth_compose::dotenv::parse(text, "fuzz.env", &lookup);
    let _ = berth_compose::interpolate::substitute(text, &lookup);
    for line in text.lines() {
        let _ = berth_compose::short::parse_port(line);
        let _ = berth_compose::short::parse_volume(line);
        let _ = berth_compose::values::shell_split(line);
    }
    // The text as a file, and merged over itself (each merge rule and reset on its own paths).
    let file = ("fuzz.yml".to_string(), text.to_string());
    let read = |_: &str| Ok(text.to_string());
    let _ = berth_compose::load::load(&[file.clone(), file], &lookup, &read);
});
