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
        let familiar = Reference::parse(&r.familiar()).expect("the familiar form parses");
        assert_eq!(familiar, r);
    }
});
