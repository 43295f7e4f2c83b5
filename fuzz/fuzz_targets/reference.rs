//! Reference parsing never panics, and what it accepts prints to a string that parses back to
//! the same reference.
#![no_main]

use berth_image::Reference;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(r) = Reference::parse(s) {
        let again = Reference::parse(&r.to_string()).expect("a printed reference parses");
        assert_eq!(again, r);
        // As in Docker, `docker.io/a.b/c` shows as `a.b/c`, which names registry `a.b`: the
        // familiar form round-trips unless its first component looks like a registry.
        let first = r.familiar_name().split('/').next().unwrap_or("").to_string();
        let ambiguous = r.familiar_name().contains('/') && (first.contains(['.', ':']) || first == "localhost");
        if !ambiguous {
            let familiar = Reference::parse(&r.familiar()).expect("the familiar form parses");
            assert_eq!(familiar, r);
        }
    }
});
