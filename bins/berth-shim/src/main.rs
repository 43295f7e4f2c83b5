//! `berth-shim start --id ID --bundle DIR --state-dir DIR [--runtime BIN] [--runtime-root DIR]
//! [--systemd-cgroup] [--log-path FILE] [--log-max-size N] [--log-max-file N] [--stdin]`
//!
//! Detaches (fork, setsid, fork) so that the shim outlives whoever started it, creates the
//! container and prints one JSON line on stdout once it is created (or why it could not be),
//! then serves `<state-dir>/shim.sock` until the container has exited and its exit is recorded.
//!
//! `berth-shim prime`: keeps the kernel's cgroup-migration lock primed until stdin closes
//! (`berth_shim::prime`); the daemon runs it around starts.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, IntoRawFd};

use berth_shim::server::serve;
use berth_shim::ShimOptions;

fn usage(msg: &str) -> ! {
    eprintln!("berth-shim: {msg}\nusage: berth-shim start --id ID --bundle DIR --state-dir DIR [--runtime BIN] [--runtime-root DIR] [--systemd-cgroup] [--log-path FILE] [--log-max-size SIZE] [--log-max-file N] [--stdin]\n       berth-shim prime");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("start") => {}
        Some("prime") => match berth_shim::prime::run(std::io::stdin()) {
            Ok(()) => std::process::exit(0),
            Err(e) => {
                eprintln!("berth-shim prime: {e}");
                std::process::exit(1)
            }
        },
        _ => usage("the commands are start and prime"),
    }
    let opts = ShimOptions::parse_args(&args[1..]).unwrap_or_else(|e| usage(&e));
    if let Err(e) = std::fs::create_dir_all(&opts.state_dir) {
        usage(&format!("create {}: {e}", opts.state_dir.display()));
    }
    let (mut rd, wr) = std::io::pipe().unwrap_or_else(|e| usage(&format!("pipe: {e}")));
    // SAFETY: we are single-threaded here (nothing has spawned a thread), so fork is sound.
    match unsafe { libc::fork() } {
        -1 => usage("fork failed"),
        0 => {
            drop(rd);
            // SAFETY: setsid and fork in the single-threaded child.
            unsafe {
                libc::setsid();
                match libc::fork() {
                    -1 => libc::_exit(1),
                    0 => {}
                    _ => libc::_exit(0),
                }
            }
            detach_stdio(&opts.state_dir);
            // SAFETY: the pipe's write end is ours alone; we take ownership of the raw fd.
            let ready = unsafe { File::from_raw_fd(wr.into_raw_fd()) };
            std::process::exit(serve(opts, ready));
        }
        child => {
            drop(wr);
            let mut line = String::new();
            let _ = rd.read_to_string(&mut line);
            // Reap the intermediate child.
            // SAFETY: waiting for our own child; the status pointer may be null.
            unsafe { libc::waitpid(child, std::ptr::null_mut(), 0) };
            if line.trim().is_empty() {
                line = "{\"ok\":false,\"error\":\"the shim died before the container was created\"}\n".into();
            }
            // The starter may be gone (a daemon killed while it waited): the report is then
            // nobody's, and the shim serves on regardless. Never a panic on a broken pipe.
            let _ = std::io::stdout().write_all(line.as_bytes());
            let ok = serde_json::from_str::<serde_json::Value>(line.trim())
                .map(|v| v["ok"] == true)
                .unwrap_or(false);
            std::process::exit(if ok { 0 } else { 1 });
        }
    }
}

/// The shim keeps no terminal: stdin from /dev/null, stdout and stderr to `<state-dir>/shim.log`.
fn detach_stdio(dir: &std::path::Path) {
    use std::os::fd::AsRawFd;
    let null = File::open("/dev/null");
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("shim.log"));
    // SAFETY: dup2 onto the standard descriptors; the sources stay open for the call.
    unsafe {
        if let Ok(n) = &null {
            libc::dup2(n.as_raw_fd(), 0);
        }
        if let Ok(l) = &log {
            libc::dup2(l.as_raw_fd(), 1);
            libc::dup2(l.as_raw_fd(), 2);
        }
    }
}
