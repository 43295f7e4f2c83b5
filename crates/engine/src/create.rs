//! `POST /containers/create`: validation, the image's defaults merged under the request's,
//! a name reserved atomically, the writable layer, the record.

use berth_api::models::ContainerCreateBody;
use berth_records::{ContainerConfig, RestartPolicyName};
use rand::Rng;

use super::record::{ContainerRecord, RunState, Status};
use super::{validate, Container, Engine};
use crate::error::{EngineError, Result};

/// How long a create (of a container or an exec) keeps the cgroup path primed for the start that
/// usually follows (`docker run` and `docker exec` send it within a few milliseconds).
pub(crate) const AFTER_CREATE: std::time::Duration = std::time::Duration::from_millis(250);

/// What create answers.
pub struct Created {
    pub id: String,
    pub warnings: Vec<String>,
}

/// Docker's rule for names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, an optional leading `/`.
pub fn validate_name(name: &str) -> Result<String> {
    let n = name.strip_prefix('/').unwrap_or(name);
    let mut chars = n.chars();
    let ok = n.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !ok {
        return Err(EngineError::InvalidArgument(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    Ok(n.to_string())
}

const LEFT: &[&str] = &[
    "admiring",
    "adoring",
    "affectionate",
    "agitated",
    "amazing",
    "angry",
    "awesome",
    "beautiful",
    "blissful",
    "bold",
    "boring",
    "brave",
    "busy",
    "charming",
    "clever",
    "compassionate",
    "competent",
    "condescending",
    "confident",
    "cool",
    "cranky",
    "crazy",
    "dazzling",
    "determined",
    "distracted",
    "dreamy",
    "eager",
    "ecstatic",
    "elastic",
    "elated",
    "elegant",
    "eloquent",
    "epic",
    "exciting",
    "fervent",
    "festive",
    "flamboyant",
    "focused",
    "friendly",
    "frosty",
    "funny",
    "gallant",
    "gifted",
    "goofy",
    "gracious",
    "great",
    "happy",
    "hardcore",
    "heuristic",
    "hopeful",
    "hungry",
    "infallible",
    "inspiring",
    "intelligent",
    "interesting",
    "jolly",
    "jovial",
    "keen",
    "kind",
    "laughing",
    "loving",
    "lucid",
    "magical",
    "modest",
    "musing",
    "mystifying",
    "naughty",
    "nervous",
    "nice",
    "nifty",
    "nostalgic",
    "objective",
    "optimistic",
    "peaceful",
    "pedantic",
    "pensive",
    "practical",
    "priceless",
    "quirky",
    "quizzical",
    "recursing",
    "relaxed",
    "reverent",
    "romantic",
    "sad",
    "serene",
    "sharp",
    "silly",
    "sleepy",
    "stoic",
    "strange",
    "stupefied",
    "suspicious",
    "sweet",
    "tender",
    "thirsty",
    "trusting",
    "unruffled",
    "upbeat",
    "vibrant",
    "vigilant",
    "vigorous",
    "wizardly",
    "wonderful",
    "xenodochial",
    "youthful",
    "zealous",
    "zen",
];
const RIGHT: &[&str] = &[
    "agnesi",
    "albattani",
    "allen",
    "almeida",
    "archimedes",
    "ardinghelli",
    "babbage",
    "banach",
    "bardeen",
    "bartik",
    "bassi",
    "bell",
    "benz",
    "bhabha",
    "bohr",
    "booth",
    "borg",
    "bose",
    "brahmagupta",
    "brown",
    "carson",
    "cerf",
    "chandrasekhar",
    "clarke",
    "colden",
    "cori",
    "cray",
    "curie",
    "darwin",
    "davinci",
    "diffie",
    "dijkstra",
    "dirac",
    "driscoll",
    "dubinsky",
    "einstein",
    "elion",
    "engelbart",
    "euclid",
    "euler",
    "faraday",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "galileo",
    "gates",
    "goldberg",
    "goldstine",
    "goodall",
    "gould",
    "hamilton",
    "hawking",
    "heisenberg",
    "hermann",
    "hodgkin",
    "hofstadter",
    "hopper",
    "hypatia",
    "jackson",
    "jang",
    "jennings",
    "jepsen",
    "johnson",
    "joliot",
    "jones",
    "kalam",
    "kare",
    "keller",
    "kepler",
    "khorana",
    "kilby",
    "knuth",
    "kowalevski",
    "lalande",
    "lamarr",
    "lamport",
    "leakey",
    "leavitt",
    "lederberg",
    "lehmann",
    "lewin",
    "liskov",
    "lovelace",
    "lumiere",
    "mahavira",
    "mayer",
    "mccarthy",
    "mclean",
    "meitner",
    "mendel",
    "merkle",
    "mirzakhani",
    "montalcini",
    "moore",
    "morse",
    "napier",
    "nash",
    "neumann",
    "newton",
    "nobel",
    "noether",
    "northcutt",
    "noyce",
    "panini",
    "pare",
    "pascal",
    "pasteur",
    "payne",
    "perlman",
    "pike",
    "poincare",
    "ptolemy",
    "raman",
    "ramanujan",
    "ride",
    "ritchie",
    "robinson",
    "rosalind",
    "rubin",
    "saha",
    "sammet",
    "shamir",
    "shannon",
    "shaw",
    "shirley",
    "shockley",
    "sinoussi",
    "snyder",
    "spence",
    "stonebraker",
    "sutherland",
    "swanson",
    "swartz",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "varahamihira",
    "visvesvaraya",
    "volhard",
    "wescoff",
    "wiles",
    "williams",
    "wilson",
    "wing",
    "wozniak",
    "wright",
    "wu",
    "yalow",
    "yonath",
];

fn random_name(rng: &mut impl Rng) -> String {
    let l = LEFT[rng.random_range(0..LEFT.len())];
    let r = RIGHT[rng.random_range(0..RIGHT.len())];
    format!("{l}_{r}")
}

/// The request's `Config` part, without `HostConfig` and `NetworkingConfig`.
fn config_part(body: &ContainerCreateBody) -> Result<berth_api::models::ContainerConfig> {
    let mut v = serde_json::to_value(body).map_err(|e| EngineError::internal("config", e))?;
    if let Some(o) = v.as_object_mut() {
        o.remove("HostConfig");
        o.remove("NetworkingConfig");
    }
    serde_json::from_value(v)
        .map_err(|e| EngineError::InvalidArgument(format!("invalid container config: {e}")))
}

/// The image's defaults under the request's, as Docker merges them at create.
fn merge_image_config(c: &mut ContainerConfig, img: Option<berth_image::ContainerConfig>) -> Result<()> {
    let img: ContainerConfig = match img {
        Some(i) => serde_json::from_value(serde_json::to_value(i).unwrap_or_default())
            .map_err(|e| EngineError::internal("the image's config", e))?,
        None => ContainerConfig::default(),
    };
    let empty = |v: &Option<String>| v.as_deref().unwrap_or_default().is_empty();
    if empty(&c.user) {
        c.user = img.user.clone();
    }
    if empty(&c.working_dir) {
        c.working_dir = img.working_dir.clone();
    }
    let entry_given = c.entrypoint.as_ref().is_some_and(|e| !e.is_empty());
    if !entry_given {
        if c.entrypoint.is_none() {
            c.entrypoint = img.entrypoint.clone();
        }
        if c.cmd.as_ref().is_none_or(|v| v.is_empty()) {
            c.cmd = img.cmd.clone();
        }
    }
    let env = berth_spec::merge_env(&img.env.clone().unwrap_or_default(), &c.env.clone().unwrap_or_default());
    c.env = Some(env);
    let mut labels = img.labels.clone().unwrap_or_default();
    labels.extend(c.labels.clone().unwrap_or_default());
    c.labels = Some(labels);
    if c.exposed_ports.is_none() {
        c.exposed_ports = img.exposed_ports.clone();
    }
    // The image's volumes join the request's (Docker's union); none shows as null.
    let mut volumes = c.volumes.take().unwrap_or_default();
    for v in img.volumes.clone().unwrap_or_default() {
        if !volumes.contains(&v) {
            volumes.push(v);
        }
    }
    c.volumes = (!volumes.is_empty()).then_some(volumes);
    if empty(&c.stop_signal) {
        c.stop_signal = img.stop_signal.clone();
    }
    match (&c.healthcheck, &img.healthcheck) {
        (None, Some(h)) => c.healthcheck = Some(h.clone()),
        (Some(mine), Some(theirs)) if mine.test.as_ref().is_none_or(|t| t.is_empty()) => {
            // Only the timings were given: the image's test with them.
            let mut h = theirs.clone();
            h.interval = mine.interval.or(h.interval);
            h.timeout = mine.timeout.or(h.timeout);
            h.retries = mine.retries.or(h.retries);
            h.start_period = mine.start_period.or(h.start_period);
            h.start_interval = mine.start_interval.or(h.start_interval);
            c.healthcheck = Some(h);
        }
        _ => {}
    }
    if c.on_build.is_none() {
        c.on_build = img.on_build.clone();
    }
    Ok(())
}

impl Engine {
    pub fn create(&self, name: Option<&str>, body: ContainerCreateBody) -> Result<Created> {
        let mut config = berth_api::record::container_config(config_part(&body)?);
        let mut hc = berth_api::record::host_config(body.host_config.clone().unwrap_or_default());
        let image_name = config.image.clone().filter(|i| !i.is_empty()).ok_or_else(|| {
            EngineError::InvalidArgument(
                "config.Image is required: name the image to create the container from".into(),
            )
        })?;
        validate::host_config(&hc, &validate::HostFacts::read())?;
        if hc.init == Some(true) {
            if let Some(m) = &self.init_missing {
                return Err(EngineError::InvalidArgument(format!("cannot run with --init: {m}")));
            }
        }
        validate::config(&config)?;
        if let Some(h) = &config.healthcheck {
            validate::health(h)?;
        }
        let name = name.filter(|n| !n.is_empty()).map(validate_name).transpose()?;
        let img = self.images.resolve(&image_name)?;
        let inspect = self.images.inspect(&img.id.to_string())?;
        merge_image_config(&mut config, inspect.config)?;
        let args: Vec<String> = config
            .entrypoint
            .clone()
            .unwrap_or_default()
            .into_iter()
            .chain(config.cmd.clone().unwrap_or_default())
            .collect();
        if args.is_empty() {
            return Err(EngineError::InvalidArgument("No command specified".into()));
        }
        let cfg = self.config();
        let runtime = hc.runtime.clone().filter(|r| !r.is_empty()).unwrap_or(cfg.default_runtime.clone());
        if !cfg.runtimes.contains_key(&runtime) {
            return Err(EngineError::InvalidArgument(format!("unknown or invalid runtime name: {runtime}")));
        }
        hc.runtime = Some(runtime.clone());
        if hc.network_mode.as_deref().is_none_or(|m| m.is_empty() || m == "default") {
            hc.network_mode = Some("bridge".into());
        }
        if hc.log_config.as_ref().and_then(|l| l.typ.as_deref()).is_none_or(|t| t.is_empty()) {
            hc.log_config = Some(berth_records::LogConfig {
                typ: Some(cfg.log_driver.clone()),
                config: Some(cfg.log_opts.clone().into_iter().collect()),
            });
        }
        if hc.shm_size.unwrap_or(0) == 0 {
            hc.shm_size = Some(64 * 1024 * 1024);
        }
        if hc.restart_policy.is_none() {
            hc.restart_policy = Some(berth_records::RestartPolicy {
                name: Some(RestartPolicyName::No),
                maximum_retry_count: Some(0),
            });
        }
        hc.masked_paths
            .get_or_insert_with(|| berth_spec::MASKED_PATHS.iter().map(|s| s.to_string()).collect());
        hc.readonly_paths
            .get_or_insert_with(|| berth_spec::READONLY_PATHS.iter().map(|s| s.to_string()).collect());
        if hc.privileged == Some(true) {
            hc.masked_paths = Some(Vec::new());
            hc.readonly_paths = Some(Vec::new());
        }
        let id = berth_sys::new_id();
        if config.hostname.as_deref().unwrap_or_default().is_empty() {
            config.hostname = Some(id[..12].to_string());
        }
        let networks = self.plan_endpoints(&hc, body.networking_config.as_ref())?;
        let name = self.reserve_name(name, &id)?;
        let mounts = match self.plan_mounts(&id, &hc, config.volumes.as_deref().unwrap_or_default()) {
            Ok(m) => m,
            Err(e) => {
                self.reg().names.remove(&name);
                return Err(e);
            }
        };
        let rec = ContainerRecord {
            id: id.clone(),
            name: name.clone(),
            created: berth_shim::now_rfc3339(),
            image: image_name,
            image_id: img.id.to_string(),
            path: args[0].clone(),
            args: args[1..].to_vec(),
            config,
            host_config: hc,
            state: RunState { status: Status::Created, ..Default::default() },
            restart_count: 0,
            manually_stopped: false,
            runtime,
            mounts: Some(mounts),
            networks,
            ports: Vec::new(),
        };
        let made = (|| -> Result<()> {
            self.images.prepare_rootfs(&id, &rec.image_id)?;
            self.populate_volumes(&rec)?;
            std::fs::create_dir_all(self.data_dir(&id))?;
            self.db.write(|tx| tx.put(&id, &rec))?;
            Ok(())
        })();
        if let Err(e) = made {
            self.reg().names.remove(&name);
            let _ = self.images.remove_rootfs(&id);
            let _ = std::fs::remove_dir_all(self.data_dir(&id));
            self.release_volumes(&rec, true);
            return Err(e);
        }
        let c = Container::new(rec);
        self.reg().by_id.insert(id.clone(), c.clone());
        self.event(&c, "create", &[]);
        // `docker run` starts it within milliseconds: open the cgroup path for that start now.
        self.primer.prime_for(AFTER_CREATE);
        Ok(Created { id, warnings: Vec::new() })
    }

    /// Takes a name for `id`: the one asked for, or a free random one.
    fn reserve_name(&self, wanted: Option<String>, id: &str) -> Result<String> {
        let mut reg = self.reg();
        match wanted {
            Some(n) => {
                if let Some(other) = reg.names.get(&n) {
                    return Err(EngineError::Conflict(format!(
                        "Conflict. The container name \"/{n}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
                    )));
                }
                reg.names.insert(n.clone(), id.to_string());
                Ok(n)
            }
            None => {
                let mut rng = rand::rng();
                for attempt in 0.. {
                    let mut n = random_name(&mut rng);
                    if attempt > 10 {
                        n = format!("{n}{}", rng.random_range(0..100));
                    }
                    if !reg.names.contains_key(&n) {
                        reg.names.insert(n.clone(), id.to_string());
                        return Ok(n);
                    }
                }
                unreachable!("the loop returns")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_rule() {
        let cases = [
            ("web", Some("web")),
            ("/web", Some("web")),
            ("a.b-c_d", Some("a.b-c_d")),
            ("a", None),
            ("-web", None),
            ("we b", None),
            ("", None),
            ("/", None),
            ("ü1", None),
        ];
        for (n, want) in cases {
            assert_eq!(validate_name(n).ok().as_deref(), want, "{n}");
        }
        assert_eq!(
            validate_name("-x").unwrap_err().to_string(),
            "Invalid container name (-x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        );
        let n = random_name(&mut rand::rng());
        assert!(validate_name(&n).is_ok() && n.contains('_'));
    }

    #[test]
    fn image_defaults_merge_under_the_request() {
        let img = berth_image::ContainerConfig {
            env: Some(vec!["PATH=/bin".into(), "A=1".into()]),
            cmd: Some(vec!["sh".into()]),
            working_dir: Some("/w".into()),
            labels: Some([("x".to_string(), "1".to_string())].into()),
            ..Default::default()
        };
        let mut c = ContainerConfig { env: Some(vec!["A=2".into()]), ..Default::default() };
        merge_image_config(&mut c, Some(img.clone())).unwrap();
        assert_eq!(c.env.unwrap(), vec!["PATH=/bin", "A=2"]);
        assert_eq!(c.cmd.unwrap(), vec!["sh"]);
        assert_eq!(c.working_dir.as_deref(), Some("/w"));
        assert_eq!(c.labels.unwrap()["x"], "1");
        // An entrypoint in the request drops the image's cmd.
        let mut c = ContainerConfig { entrypoint: Some(vec!["echo".into()]), ..Default::default() };
        merge_image_config(&mut c, Some(img)).unwrap();
        assert_eq!(c.cmd, None);
    }
}
