//! The workload executor: libcontainer's default one, except that the environment is set in
//! the order the spec lists it. libcontainer hands the variables over as a HashMap, which
//! scrambles them; runc keeps the spec's order, and `env` in a container shows it (Docker's is
//! PATH, HOSTNAME, then the image's and the user's variables, then HOME).

use std::collections::HashMap;

use libcontainer::workload::default::DefaultExecutor;
use libcontainer::workload::{Executor, ExecutorError, ExecutorSetEnvsError, ExecutorValidationError};
use oci_spec::runtime::Spec;

use crate::seccomp::Plan;

#[derive(Clone)]
pub(crate) struct SpecOrder {
    /// Variable names in the order the process's `env` lists them.
    order: Vec<String>,
    /// The seccomp filter berth-runc installs itself, right before exec.
    seccomp: Option<Plan>,
}

impl SpecOrder {
    pub(crate) fn new(env: &[String]) -> SpecOrder {
        SpecOrder {
            order: env.iter().map(|e| e.split('=').next().unwrap_or("").to_string()).collect(),
            seccomp: None,
        }
    }

    pub(crate) fn with_seccomp(self, plan: Plan) -> SpecOrder {
        SpecOrder { seccomp: Some(plan), ..self }
    }

    /// The variables in the order they are set: the spec's, then any others (the HOME that
    /// libcontainer adds) by name.
    fn ordered(&self, mut envs: HashMap<String, String>) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(envs.len());
        for k in &self.order {
            if let Some(v) = envs.remove(k) {
                out.push((k.clone(), v));
            }
        }
        let mut rest: Vec<(String, String)> = envs.into_iter().collect();
        rest.sort();
        out.extend(rest);
        out
    }
}

impl Executor for SpecOrder {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        if let Some(plan) = &self.seccomp {
            plan.apply().map_err(ExecutorError::Other)?;
        }
        DefaultExecutor {}.exec(spec)
    }

    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        DefaultExecutor {}.validate(spec)
    }

    fn setup_envs(&self, envs: HashMap<String, String>) -> Result<(), ExecutorSetEnvsError> {
        // The container's init is single-threaded here, about to exec: setenv appends each
        // variable to the (emptied) environment, so the order holds through execvp.
        for (k, _) in std::env::vars_os() {
            std::env::remove_var(k);
        }
        for (k, v) in self.ordered(envs) {
            std::env::set_var(k, v);
        }
        Ok(())
    }
}

/// The env list of a process document (`config.json`'s `process`, or an exec's process file).
pub(crate) fn env_of(process: &serde_json::Value) -> Vec<String> {
    process["env"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_keep_the_specs_order() {
        let e = SpecOrder::new(&["PATH=/bin".into(), "HOSTNAME=h".into(), "A=1".into(), "B=".into()]);
        let envs: HashMap<String, String> =
            [("B", ""), ("HOME", "/root"), ("A", "1"), ("PATH", "/bin"), ("HOSTNAME", "h")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let keys: Vec<String> = e.ordered(envs).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["PATH", "HOSTNAME", "A", "B", "HOME"]);
    }
}
