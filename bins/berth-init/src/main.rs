//! `berth-init`: the init that `--init` runs as PID 1 (mounted at `/sbin/docker-init`), like tini.
//!
//! `berth-init [-g] [-s] [--] command [args…]` forks the command in its own process group (and
//! makes it the terminal's foreground group when stdin is a tty), forwards every signal it gets to
//! the command (to its whole group with `-g`), reaps every zombie re-parented to it, and exits
//! with the command's exit code (128 + signal when it was killed). When the command cannot be
//! run it exits 127 (not found) or 126 (not executable), as Docker reports them.
//!
//! Only `libc` and `std`: the binary is linked statically so it runs in any image.

use std::ffi::CString;
use std::process::exit;

fn usage() -> ! {
    eprintln!("usage: berth-init [-g] [-s] [--] command [args...]");
    exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut group = false;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--" => {
                i += 1;
                break;
            }
            "-g" => group = true,
            "-s" => {} // subreaping: PID 1 reaps anyway
            "-h" | "--help" => usage(),
            a if a.starts_with('-') => usage(),
            _ => break,
        }
        i += 1;
    }
    let cmd = &args[i..];
    if cmd.is_empty() {
        usage();
    }
    let argv: Vec<CString> = match cmd.iter().map(|a| CString::new(a.as_bytes())).collect() {
        Ok(v) => v,
        Err(_) => {
            eprintln!("berth-init: an argument holds a NUL byte");
            exit(2)
        }
    };

    // SAFETY: plain libc calls on a zeroed sigset_t and our own process; no memory is shared.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        for s in [
            libc::SIGFPE,
            libc::SIGILL,
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGABRT,
            libc::SIGTRAP,
            libc::SIGSYS,
            libc::SIGTTIN,
            libc::SIGTTOU,
        ] {
            libc::sigdelset(&mut all, s);
        }
        libc::sigprocmask(libc::SIG_SETMASK, &all, &mut old);
        // Ignore SIGTTIN/SIGTTOU so that handing the terminal to the child cannot stop us.
        libc::signal(libc::SIGTTIN, libc::SIG_IGN);
        libc::signal(libc::SIGTTOU, libc::SIG_IGN);

        let child = libc::fork();
        if child < 0 {
            eprintln!("berth-init: fork: {}", std::io::Error::last_os_error());
            exit(1);
        }
        if child == 0 {
            libc::setpgid(0, 0);
            if libc::isatty(0) == 1 {
                libc::tcsetpgrp(0, libc::getpid());
            }
            libc::signal(libc::SIGTTIN, libc::SIG_DFL);
            libc::signal(libc::SIGTTOU, libc::SIG_DFL);
            libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
            ptrs.push(std::ptr::null());
            libc::execvp(ptrs[0], ptrs.as_ptr());
            let err = std::io::Error::last_os_error();
            eprintln!("berth-init: exec {}: {err}", cmd[0]);
            libc::_exit(if err.raw_os_error() == Some(libc::ENOENT) { 127 } else { 126 });
        }
        // The child may not have called setpgid yet; do it from here too (whichever runs first wins).
        libc::setpgid(child, child);

        let mut status_code: Option<i32> = None;
        loop {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let sig = libc::sigwaitinfo(&all, &mut info);
            if sig < 0 {
                continue;
            }
            if sig != libc::SIGCHLD {
                let target = if group { -child } else { child };
                libc::kill(target, sig);
                continue;
            }
            loop {
                let mut status = 0;
                let pid = libc::waitpid(-1, &mut status, libc::WNOHANG);
                if pid <= 0 {
                    break;
                }
                if pid == child {
                    status_code = Some(if libc::WIFEXITED(status) {
                        libc::WEXITSTATUS(status)
                    } else if libc::WIFSIGNALED(status) {
                        128 + libc::WTERMSIG(status)
                    } else {
                        continue;
                    });
                }
            }
            if let Some(code) = status_code {
                exit(code);
            }
        }
    }
}
