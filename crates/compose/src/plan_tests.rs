use super::*;
use crate::model::decode;
use crate::tree::parse;

const PROJECT: &str = "services:
  web:
    image: web
    depends_on: [api]
    deploy: {replicas: 2}
  api:
    image: api
    depends_on: [db, cache]
  db:
    image: db
  cache:
    image: cache
    network_mode: service:db
";

fn project() -> Project {
    decode(&parse(PROJECT, "compose.yaml").unwrap(), "app", "/src").unwrap()
}

fn running(p: &Project, service: &str, number: u32) -> Observed {
    let s = p.services.iter().find(|s| s.name == service).unwrap();
    Observed {
        id: format!("{service}{number}"),
        name: container_name("app", s, number, false),
        service: service.into(),
        number,
        oneoff: false,
        config_hash: config_hash(s),
        image: format!("sha256:{service}"),
        network_mode: String::new(),
        running: true,
    }
}

fn create(service: &str, number: u32) -> Action {
    Action::Create { service: service.into(), number, name: format!("app-{service}-{number}") }
}

#[test]
fn services_come_in_levels_by_what_they_need() {
    assert_eq!(levels(&project()).unwrap(), [vec!["db"], vec!["cache"], vec!["api"], vec!["web"]]);
    let cyclic =
        "services:\n  a: {image: a, depends_on: [b]}\n  b: {image: b, depends_on: [a]}\n  c: {image: c}\n";
    let p = decode(&parse(cyclic, "c.yml").unwrap(), "p", "/").unwrap();
    assert_eq!(levels(&p).unwrap_err().to_string(), "dependency cycle detected among a, b");
}

#[test]
fn a_first_up_creates_everything_in_order() {
    let plan = plan(&project(), &[], &Options::default()).unwrap();
    assert_eq!(
        plan.levels,
        [
            vec![create("db", 1)],
            vec![create("cache", 1)],
            vec![create("api", 1)],
            vec![create("web", 1), create("web", 2)]
        ]
    );
}

#[test]
fn a_second_up_touches_nothing_and_a_change_recreates_only_its_service() {
    let p = project();
    let all: Vec<Observed> = vec![
        running(&p, "db", 1),
        running(&p, "cache", 1),
        running(&p, "api", 1),
        running(&p, "web", 1),
        running(&p, "web", 2),
    ];
    assert_eq!(plan(&p, &all, &Options::default()).unwrap(), Plan::default());

    let mut changed = p.clone();
    changed
        .services
        .iter_mut()
        .find(|s| s.name == "api")
        .unwrap()
        .environment
        .push(("X".into(), Some("1".into())));
    let got = plan(&changed, &all, &Options::default()).unwrap();
    assert_eq!(
        got.levels,
        [vec![Action::Recreate {
            service: "api".into(),
            number: 1,
            container: "api1".into(),
            name: "app-api-1".into()
        }]]
    );
    // Scaling is no change of configuration: only replicas come and go.
    let mut scaled = p.clone();
    scaled.services.iter_mut().find(|s| s.name == "web").unwrap().replicas = 1;
    let got = plan(&scaled, &all, &Options::default()).unwrap();
    assert_eq!(got.levels, [vec![Action::Remove { service: "web".into(), container: "web2".into() }]]);
}

#[test]
fn stopped_containers_start_orphans_are_reported_and_flags_are_honoured() {
    let p = project();
    let mut all: Vec<Observed> = vec![
        running(&p, "db", 1),
        running(&p, "cache", 1),
        running(&p, "api", 1),
        running(&p, "web", 1),
        running(&p, "web", 2),
    ];
    all[0].running = false;
    let orphan =
        Observed { id: "old1".into(), name: "app-old-1".into(), service: "old".into(), ..all[1].clone() };
    let oneoff = Observed { id: "run1".into(), name: "app-api-run-1".into(), oneoff: true, ..all[2].clone() };
    all.extend([orphan, oneoff]);
    let got = plan(&p, &all, &Options::default()).unwrap();
    assert_eq!(got.levels, [vec![Action::Start { service: "db".into(), container: "db1".into() }]]);
    assert_eq!(got.orphans, ["app-old-1"]);
    let got = plan(&p, &all, &Options { remove_orphans: true, ..Options::default() }).unwrap();
    assert_eq!(
        got.levels.last().unwrap(),
        &[Action::Remove { service: "old".into(), container: "old1".into() }]
    );
    assert!(got.orphans.is_empty());
    let got =
        plan(&p, &all, &Options { force_recreate: true, services: vec!["db".into()], ..Options::default() })
            .unwrap();
    assert_eq!(
        got.levels,
        [vec![Action::Recreate {
            service: "db".into(),
            number: 1,
            container: "db1".into(),
            name: "app-db-1".into()
        }]]
    );
    let names: Vec<String> = p.services.iter().map(|s| container_name("app", s, 1, true)).collect();
    assert_eq!(names, ["app_web_1", "app_api_1", "app_db_1", "app_cache_1"]);
}

#[test]
fn a_new_image_recreates_its_service_and_those_sharing_with_it() {
    let yaml = "services:
  db: {image: db}
  sidecar: {image: s, network_mode: service:db}
  api: {image: api, depends_on: {db: {condition: service_started, restart: true}}}
  web: {image: web, depends_on: [db]}
";
    let p = decode(&parse(yaml, "c.yml").unwrap(), "app", "/").unwrap();
    let all: Vec<Observed> = ["db", "sidecar", "api", "web"].iter().map(|s| running(&p, s, 1)).collect();
    let same = Options { images: vec![("db".into(), "sha256:db".into())], ..Options::default() };
    assert_eq!(plan(&p, &all, &same).unwrap(), Plan::default());
    let newer = Options { images: vec![("db".into(), "sha256:db2".into())], ..Options::default() };
    let recreate = |s: &str| Action::Recreate {
        service: s.into(),
        number: 1,
        container: format!("{s}1"),
        name: format!("app-{s}-1"),
    };
    assert_eq!(
        plan(&p, &all, &newer).unwrap().levels,
        [
            vec![recreate("db")],
            vec![recreate("sidecar"), Action::Restart { service: "api".into(), container: "api1".into() }]
        ]
    );
}

#[test]
fn a_replica_on_a_remade_containers_network_is_made_again() {
    let yaml = "services:\n  db: {image: db}\n  side: {image: s, network_mode: service:db}\n";
    let p = decode(&parse(yaml, "c.yml").unwrap(), "app", "/").unwrap();
    let db = running(&p, "db", 1);
    let mut side = running(&p, "side", 1);
    side.network_mode = "container:db1".into();
    assert_eq!(plan(&p, &[db.clone(), side.clone()], &Options::default()).unwrap(), Plan::default());
    side.network_mode = "container:olddb".into();
    let got = plan(&p, &[db, side], &Options::default()).unwrap();
    assert_eq!(
        got.levels,
        [vec![Action::Recreate {
            service: "side".into(),
            number: 1,
            container: "side1".into(),
            name: "app-side-1".into()
        }]]
    );
}
