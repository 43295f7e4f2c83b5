//! Convergence, as docker compose decides it: the project's desired services against the
//! containers the engine has for the project (read from their labels), per container: a
//! missing replica is created, one whose configuration hash changed (or every one with
//! `--force-recreate`) is recreated, a stopped one started, replicas beyond the wanted count
//! removed, and containers of services the project no longer has reported as orphans (removed
//! with `--remove-orphans`). Services come in levels by their dependencies, so that a level's
//! services start together once the levels before them are up. Pure.

use sha2::{Digest as _, Sha256};

use crate::model::{Project, Service};
use crate::ComposeError;

/// A container of the project, as its labels describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub id: String,
    pub name: String,
    pub service: String,
    pub number: u32,
    /// A `run` container, which `up` leaves alone.
    pub oneoff: bool,
    pub config_hash: String,
    /// The image ID it was made from (`com.docker.compose.image`).
    pub image: String,
    /// Its network mode as the engine has it (`container:<id>` when it joined another's).
    pub network_mode: String,
    pub running: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub force_recreate: bool,
    pub no_recreate: bool,
    pub remove_orphans: bool,
    /// The services named on the command line (all when empty).
    pub services: Vec<String>,
    /// `--compatibility`: `<project>_<service>_<n>` names.
    pub compatibility: bool,
    /// The image ID each service's containers should have (a service not listed is not
    /// checked): a container made from another is recreated.
    pub images: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create {
        service: String,
        number: u32,
        name: String,
    },
    Recreate {
        service: String,
        number: u32,
        container: String,
        name: String,
    },
    Start {
        service: String,
        container: String,
    },
    /// A dependant with `depends_on.restart` of a recreated service.
    Restart {
        service: String,
        container: String,
    },
    Remove {
        service: String,
        container: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Actions by level: a level's actions may run at once, after the levels before it.
    pub levels: Vec<Vec<Action>>,
    /// Containers of services the project does not have (names), left in place.
    pub orphans: Vec<String>,
}

/// The hash docker compose labels a container with (`com.docker.compose.config-hash`): the
/// service's configuration, without what may change without recreating it (replicas, build,
/// profiles, watch rules).
pub fn config_hash(s: &Service) -> String {
    let mut canonical = s.clone();
    canonical.replicas = 0;
    canonical.build = None;
    canonical.profiles.clear();
    canonical.watch.clear();
    let json = serde_json::to_vec(&canonical).expect("a service serialises");
    Sha256::digest(&json).iter().map(|b| format!("{b:02x}")).collect()
}

/// A replica's container name: the service's `container_name`, else `<project>-<service>-<n>`.
pub fn container_name(project: &str, s: &Service, number: u32, compatibility: bool) -> String {
    if let Some(n) = &s.container_name {
        return n.clone();
    }
    let sep = if compatibility { '_' } else { '-' };
    format!("{project}{sep}{}{sep}{number}", s.name)
}

/// The services whose namespaces or volumes `s` shares (`network_mode`, `ipc`, `pid`:
/// `service:x`; `volumes_from`): it must be made again when they are.
pub fn shares_with(s: &Service) -> Vec<String> {
    let mut d: Vec<String> = [&s.network_mode, &s.ipc, &s.pid]
        .into_iter()
        .filter_map(|m| m.as_deref().and_then(|m| m.strip_prefix("service:")).map(String::from))
        .collect();
    d.extend(
        s.volumes_from
            .iter()
            .filter(|v| !v.starts_with("container:"))
            .map(|v| v.split(':').next().unwrap_or_default().to_string()),
    );
    d
}

/// Every service `s` needs up before it: `depends_on`, `links`, and those it shares with.
pub fn needs(s: &Service) -> Vec<String> {
    let mut d: Vec<String> = s.depends_on.iter().map(|(n, _)| n.clone()).collect();
    d.extend(s.links.iter().map(|l| l.split(':').next().unwrap_or_default().to_string()));
    d.extend(shares_with(s));
    d
}

/// The services in levels: each after every service it needs.
pub fn levels(project: &Project) -> Result<Vec<Vec<String>>, ComposeError> {
    let names: Vec<&str> = project.services.iter().map(|s| s.name.as_str()).collect();
    let deps = |s: &Service| -> Vec<String> {
        let mut d = needs(s);
        d.retain(|n| names.contains(&n.as_str()));
        d
    };
    let mut placed: Vec<String> = Vec::new();
    let mut out = Vec::new();
    while placed.len() < names.len() {
        let level: Vec<String> = project
            .services
            .iter()
            .filter(|s| !placed.contains(&s.name))
            .filter(|s| deps(s).iter().all(|d| placed.contains(d)))
            .map(|s| s.name.clone())
            .collect();
        if level.is_empty() {
            let left: Vec<&str> = names.iter().copied().filter(|n| !placed.iter().any(|p| p == n)).collect();
            return Err(ComposeError::Project {
                why: format!("dependency cycle detected among {}", left.join(", ")),
            });
        }
        placed.extend(level.iter().cloned());
        out.push(level);
    }
    Ok(out)
}

/// What `up` does to bring the engine's containers (`observed`) to the project.
pub fn plan(project: &Project, observed: &[Observed], opts: &Options) -> Result<Plan, ComposeError> {
    let mut plan = Plan::default();
    let targeted = |name: &str| opts.services.is_empty() || opts.services.iter().any(|s| s == name);
    // Services whose containers are made again: those sharing with them follow; those
    // depending on them with `restart: true` restart.
    let mut remade: Vec<String> = Vec::new();
    for level in levels(project)? {
        let mut actions = Vec::new();
        for name in level.iter().filter(|n| targeted(n)) {
            let s = project
                .services
                .iter()
                .find(|s| s.name == *name)
                .expect("a level holds the project's services");
            let hash = config_hash(s);
            let image = opts.images.iter().find(|(n, _)| n == name).map(|(_, i)| i.as_str());
            let follows = shares_with(s).iter().any(|d| remade.contains(d));
            // The container whose network a replica must be on: the first of that service.
            let joined = s.network_mode.as_deref().and_then(|m| m.strip_prefix("service:")).and_then(|x| {
                observed.iter().find(|o| o.service == x && o.number == 1 && !o.oneoff).map(|o| o.id.as_str())
            });
            let restarts = s.depends_on.iter().any(|(d, dep)| dep.restart && remade.contains(d));
            let mut recreated = false;
            let mut mine: Vec<&Observed> =
                observed.iter().filter(|o| o.service == *name && !o.oneoff).collect();
            mine.sort_by_key(|o| o.number);
            let wanted = u32::try_from(s.replicas).unwrap_or(u32::MAX);
            for number in 1..=wanted {
                let name_for = container_name(&project.name, s, number, opts.compatibility);
                match mine.iter().find(|o| o.number == number) {
                    None => actions.push(Action::Create { service: s.name.clone(), number, name: name_for }),
                    Some(o) => {
                        // A replica on the network of a container since made again is stale.
                        let stale = match (joined, o.network_mode.strip_prefix("container:")) {
                            (Some(want), Some(have)) => !(want.starts_with(have) || have.starts_with(want)),
                            _ => false,
                        };
                        let changed =
                            o.config_hash != hash || image.is_some_and(|i| i != o.image) || follows || stale;
                        if !opts.no_recreate && (opts.force_recreate || changed) {
                            recreated = true;
                            actions.push(Action::Recreate {
                                service: s.name.clone(),
                                number,
                                container: o.id.clone(),
                                name: name_for,
                            });
                        } else if !o.running {
                            actions.push(Action::Start { service: s.name.clone(), container: o.id.clone() });
                        } else if restarts {
                            actions
                                .push(Action::Restart { service: s.name.clone(), container: o.id.clone() });
                        }
                    }
                }
            }
            for o in mine.iter().filter(|o| o.number > wanted) {
                actions.push(Action::Remove { service: s.name.clone(), container: o.id.clone() });
            }
            if recreated {
                remade.push(s.name.clone());
            }
        }
        plan.levels.push(actions);
    }
    // Containers of services the project no longer has.
    let known = |n: &str| project.services.iter().any(|s| s.name == n);
    let orphans: Vec<&Observed> = observed.iter().filter(|o| !known(&o.service) && !o.oneoff).collect();
    if opts.remove_orphans {
        plan.levels.push(
            orphans
                .iter()
                .map(|o| Action::Remove { service: o.service.clone(), container: o.id.clone() })
                .collect(),
        );
    } else {
        plan.orphans = orphans.iter().map(|o| o.name.clone()).collect();
    }
    plan.levels.retain(|l| !l.is_empty());
    Ok(plan)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
