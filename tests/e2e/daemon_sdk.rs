//! berthd driven by the Docker SDK for Python (7.1.0): `tests/py/sdk_scenario.py` runs with
//! `DOCKER_HOST` pointing at a private daemon.

use std::process::Command;

use berth_tests::daemon::Berthd;

#[test]
fn python_sdk_scenario() {
    let d = Berthd::start();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("py/sdk_scenario.py");
    let out =
        Command::new("python3").arg(&script).env("DOCKER_HOST", d.host()).output().expect("run python3");
    assert!(
        out.status.success(),
        "the SDK scenario failed:\n{}{}\n--- berthd log ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        d.log_text()
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("sdk scenario: ok"));
    d.assert_nothing_left();
}
