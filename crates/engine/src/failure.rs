//! A runtime's failure to start a process (a container's first one, or an exec), in the words
//! Docker's clients look for and with Docker's exit codes: 127 when the command is not found,
//! 126 when it cannot be run. The runtime reports failures as text (its JSON log), so this is
//! the one place that reads that text; nothing else decides on a runtime's words. Pure.

/// Which start failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The container's own process (`docker start`, `docker run`).
    Create,
    /// A process started in a running container (`docker exec`).
    Exec,
}

impl Stage {
    fn prefix(self) -> &'static str {
        match self {
            Stage::Create => {
                "failed to create task for container: OCI runtime create failed: unable to start container process"
            }
            Stage::Exec => "OCI runtime exec failed: exec failed: unable to start container process",
        }
    }

    /// The code when the failure is not the command's: Docker's 128 for a container that could
    /// not start, 126 for an exec.
    fn other_code(self) -> i64 {
        match self {
            Stage::Create => 128,
            Stage::Exec => 126,
        }
    }
}

/// A failure as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub exit_code: i64,
    /// The request is at fault (the command is missing or not executable), not the engine.
    pub not_runnable: bool,
}

/// `chdir to cwd` failing: an exec's working directory that is not a directory in the container.
pub fn missing_cwd(stage: Stage, cwd: &str) -> Failure {
    Failure {
        message: format!(
            "{}: chdir to cwd (\"{cwd}\") set in config.json failed: no such file or directory: unknown",
            stage.prefix()
        ),
        exit_code: stage.other_code(),
        not_runnable: true,
    }
}

/// The runtime's message `msg` in Docker's words, with its exit code.
pub fn translate(stage: Stage, msg: &str) -> Failure {
    let prefix = stage.prefix();
    let fail = |message: String, exit_code: i64| Failure { message, exit_code, not_runnable: true };
    if let Some(rest) = msg.find("executable '").map(|i| &msg[i + "executable '".len()..]) {
        if let Some(exe) = rest.find("' not found").map(|j| &rest[..j]) {
            return fail(
                if exe.contains('/') {
                    format!("{prefix}: exec: \"{exe}\": stat {exe}: no such file or directory: unknown")
                } else {
                    format!("{prefix}: exec: \"{exe}\": executable file not found in $PATH: unknown")
                },
                127,
            );
        }
        // libcontainer's words for a path that is not an executable file (a directory, no x
        // bit); runc says "permission denied", which the docker CLI turns into exit code 126.
        if let Some(exe) = rest
            .find("' at path")
            .filter(|_| rest.contains("does not have correct permissions"))
            .map(|j| &rest[..j])
        {
            return fail(format!("{prefix}: exec: \"{exe}\": permission denied: unknown"), 126);
        }
    }
    if msg.to_ascii_lowercase().contains("permission denied") {
        return fail(format!("{prefix}: {msg}: permission denied: unknown"), 126);
    }
    // runc's and crun's own words pass through as they are, with their codes.
    let lower = msg.to_ascii_lowercase();
    if lower.contains("executable file not found") || lower.contains("no such file or directory") {
        return fail(msg.to_string(), 127);
    }
    Failure { message: msg.to_string(), exit_code: stage.other_code(), not_runnable: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_use_dockers_words_and_codes() {
        let create = "failed to create task for container: OCI runtime create failed: unable to start container process";
        let exec = "OCI runtime exec failed: exec failed: unable to start container process";
        let table: &[(Stage, &str, String, i64)] = &[
            (
                Stage::Create,
                "create: failed to create container: exec process failed with error error in executing process : executable 'nope' not found in $PATH",
                format!("{create}: exec: \"nope\": executable file not found in $PATH: unknown"),
                127,
            ),
            (
                Stage::Exec,
                "exec: failed to create container: exec process failed with error error in executing process : executable 'nope' not found in $PATH",
                format!("{exec}: exec: \"nope\": executable file not found in $PATH: unknown"),
                127,
            ),
            (
                Stage::Create,
                "executable '/bin/nope' not found",
                format!("{create}: exec: \"/bin/nope\": stat /bin/nope: no such file or directory: unknown"),
                127,
            ),
            (
                Stage::Exec,
                "create: failed to create container: exec process failed with error error in executing process : executable '/etc' at path '\"/etc\"' does not have correct permissions",
                format!("{exec}: exec: \"/etc\": permission denied: unknown"),
                126,
            ),
            (Stage::Create, "other", "other".into(), 128),
            (Stage::Exec, "other", "other".into(), 126),
        ];
        for (stage, msg, want, code) in table {
            let f = translate(*stage, msg);
            assert_eq!((&f.message, f.exit_code), (want, *code), "{msg}");
            assert_eq!(f.not_runnable, *msg != "other", "{msg}");
        }
        let f = missing_cwd(Stage::Exec, "/nope");
        assert_eq!(f.message, format!("{exec}: chdir to cwd (\"/nope\") set in config.json failed: no such file or directory: unknown"));
        assert_eq!(f.exit_code, 126);
    }
}
