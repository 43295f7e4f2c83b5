//! Any bytes as a (possibly compressed) layer: extraction may fail, but never writes outside
//! its target, and never panics.
#![no_main]

use std::path::Path;

use berth_archive::{apply, decompress, ApplyOptions, Whiteouts};
use libfuzzer_sys::fuzz_target;

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

fuzz_target!(|data: &[u8]| {
    let sandbox = tempfile::tempdir().unwrap();
    let target = sandbox.path().join("target");
    let outside = sandbox.path().join("outside");
    std::fs::create_dir(&target).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("victim"), b"original").unwrap();
    let before = std::fs::metadata(outside.join("victim")).unwrap();
    for whiteouts in [Whiteouts::Overlay, Whiteouts::Delete] {
        if let Ok((_, reader)) = decompress(data) {
            let _ = apply(&target, reader, &ApplyOptions { whiteouts, same_owner: false });
        }
        assert_eq!(names(sandbox.path()), ["outside", "target"]);
        assert_eq!(names(&outside), ["victim"]);
        assert_eq!(std::fs::read(outside.join("victim")).unwrap(), b"original");
        let after = std::fs::metadata(outside.join("victim")).unwrap();
        assert_eq!(after.permissions(), before.permissions(), "the victim's mode is untouched");
        assert_eq!(after.modified().unwrap(), before.modified().unwrap(), "the victim's times are untouched");
    }
});
