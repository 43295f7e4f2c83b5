//! Running the firewall's command-line tools (`iptables`, `iptables-restore`, `ip6tables` …).

use std::io::Write;
use std::process::{Command, Stdio};

use crate::NetworkError;

/// Runs an iptables tool with `args` (and `stdin`, for the restore tools); its output is the
/// caller's to read.
pub(crate) fn run_tool(
    tool: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<std::process::Output, NetworkError> {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| NetworkError::host(format!("run {tool} (install iptables)"), e))?;
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(input.as_bytes())
            .map_err(|e| NetworkError::host(format!("write to {tool}"), e))?;
    }
    child.wait_with_output().map_err(|e| NetworkError::host(tool, e))
}
