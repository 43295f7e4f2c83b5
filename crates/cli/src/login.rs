//! `login` and `logout`: credentials checked by the daemon (`POST /auth`) and kept in the
//! client configuration (`config.json`'s `auths`, or the credential helper it names), as the
//! docker CLI keeps them, so both CLIs share them.

use std::io::{BufRead, Write};

use berth_client::config::{auth_key, Config, Credentials};

use crate::cmd::{LoginArgs, LogoutArgs};
use crate::{Ctx, Failure, Result};

/// The key credentials are kept under for `server` (Docker Hub's URL when none is given).
fn key_for(server: Option<&str>) -> String {
    match server.map(str::trim).filter(|s| !s.is_empty()) {
        None => auth_key("docker.io").to_string(),
        Some(s) => {
            let host = s.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
            auth_key(host).to_string()
        }
    }
}

fn config() -> std::result::Result<Config, Failure> {
    Config::load(&crate::common::config_dir()).map_err(|e| Failure::new(1, e.to_string()))
}

/// Reads one line from a terminal without echoing it.
fn read_secret(prompt: &str) -> std::result::Result<String, Failure> {
    use nix::sys::termios::{self, LocalFlags, SetArg};
    eprint!("{prompt}");
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(&stdin).ok();
    if let Some(s) = &saved {
        let mut quiet = s.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, &quiet);
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(s) = &saved {
        let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, s);
    }
    eprintln!();
    read.map_err(|e| Failure::new(1, format!("reading the password: {e}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

pub async fn login(ctx: &Ctx, a: LoginArgs) -> Result {
    if a.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    if a.password_stdin && a.password.is_some() {
        return Err(Failure::new(1, "--password and --password-stdin are mutually exclusive"));
    }
    if a.password_stdin && a.username.is_none() {
        return Err(Failure::new(1, "Must provide --username with --password-stdin"));
    }
    let interactive = berth_client::terminal::is_tty(0);
    let username = match a.username.clone() {
        Some(u) => u,
        None if interactive => {
            eprint!("Username: ");
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map_err(|e| Failure::new(1, e.to_string()))?;
            line.trim().to_string()
        }
        None => {
            return Err(Failure::new(1, "Error: Cannot perform an interactive login from a non TTY device"))
        }
    };
    let password = match (a.password.clone(), a.password_stdin) {
        (Some(p), _) => p,
        (None, true) => {
            let mut all = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut all)
                .map_err(|e| Failure::new(1, format!("reading the password: {e}")))?;
            all.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) if interactive => read_secret("Password: ")?,
        (None, false) => {
            return Err(Failure::new(1, "Error: Cannot perform an interactive login from a non TTY device"))
        }
    };
    if username.is_empty() {
        return Err(Failure::new(1, "Error: Non-null Username Required"));
    }
    let key = key_for(a.server.as_deref());
    let server = a.server.clone().unwrap_or_else(|| key.clone());
    let (status, token) = ctx.client.system().login(&username, &password, &server).await?;
    let mut cfg = config()?;
    // An identity token, when the registry gave one, is kept in the password's place.
    let kept = match token {
        Some(t) => Credentials { username: "<token>".into(), secret: t },
        None => Credentials { username, secret: password },
    };
    cfg.store_credentials(&key, &kept)
        .map_err(|e| Failure::new(1, format!("Error saving credentials: {e}")))?;
    if cfg.stores_in_file(&key) {
        eprintln!(
            "WARNING! Your credentials are stored unencrypted in '{}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n",
            cfg.path().display()
        );
    }
    println!("{status}");
    Ok(())
}

pub async fn logout(_ctx: &Ctx, a: LogoutArgs) -> Result {
    let key = key_for(a.server.as_deref());
    let shown = a.server.clone().unwrap_or_else(|| key.clone());
    let mut cfg = config()?;
    let had = cfg.credentials(&key).ok().flatten().is_some();
    if !had {
        println!("Not logged in to {shown}");
        return Ok(());
    }
    println!("Removing login credentials for {shown}");
    cfg.erase_credentials(&key).map_err(|e| Failure::new(1, e.to_string()))?;
    Ok(())
}
