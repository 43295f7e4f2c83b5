use super::*;
use crate::model::decode;
use crate::resources::{networks, volumes};
use crate::tree::parse;

const YAML: &str = "services:
  web:
    image: web:1
    command: [serve, --port, '80']
    ports: ['8080:80', '127.0.0.1::90/udp']
    expose: ['7000']
    volumes: ['./site:/srv:ro', 'data:/data', '/scratch', {type: tmpfs, target: /tmp}, '~/cfg:/cfg']
    networks: {front: {aliases: [www]}, back: {ipv4_address: 10.5.0.9}}
    depends_on: {db: {condition: service_healthy, restart: true}}
    healthcheck: {test: [CMD, probe], interval: 2s, timeout: 1500ms, retries: 4}
    restart: on-failure:3
    stop_grace_period: 1m
    secrets: [pw, tok]
    configs: [{source: conf, target: /etc/app.conf, mode: 0440, uid: '7'}]
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 64}
    sysctls: [net.core.somaxconn=1024]
    deploy: {resources: {limits: {memory: 64m, cpus: '0.5'}}}
    labels: [tier=front]
    dns_search: [example.org]
    oom_score_adj: -100
    oom_kill_disable: true
    memswap_limit: 128m
    cpuset: '0'
  db:
    image: db
    network_mode: service:web
    ipc: service:web
    volumes_from: [web:ro]
networks:
  front: {}
  back: {ipam: {config: [{subnet: 10.5.0.0/24}]}}
volumes:
  data: {}
secrets:
  pw: {file: ./pw.txt}
  tok: {environment: TOKEN}
configs:
  conf: {content: 'a=1'}
";

fn project() -> (Project, Vec<NetworkDef>, Vec<VolumeDef>) {
    let p = decode(&parse(YAML, "compose.yaml").unwrap(), "app", "/src/app").unwrap();
    let nets = networks("app", &p.networks, uses_default_network(&p)).unwrap();
    let vols = volumes("app", &p.volumes).unwrap();
    (p, nets, vols)
}

fn body_of(name: &str) -> (Value, Vec<(String, Value)>) {
    let (p, nets, vols) = project();
    let s = p.services.iter().find(|s| s.name == name).unwrap();
    let r = Replica {
        number: 2,
        image_id: "sha256:abc".into(),
        env: vec!["A=1".into()],
        config_hash: "h".into(),
        ..Replica::default()
    };
    let c = Context {
        working_dir: "/src/app".into(),
        config_files: vec!["/src/app/compose.yaml".into()],
        home: "/root".into(),
    };
    container_body(&p, &nets, &vols, s, &r, &c).unwrap()
}

#[test]
fn a_container_carries_composes_labels() {
    let (b, _) = body_of("web");
    let l = &b["Labels"];
    for (k, v) in [
        (PROJECT, "app"),
        (SERVICE, "web"),
        (NUMBER, "2"),
        (ONEOFF, "False"),
        (CONFIG_HASH, "h"),
        (IMAGE, "sha256:abc"),
        (DEPENDS_ON, "db:service_healthy:true"),
        (WORKING_DIR, "/src/app"),
        (CONFIG_FILES, "/src/app/compose.yaml"),
        ("tier", "front"),
    ] {
        assert_eq!(l[k], v, "{k}");
    }
    assert_eq!(b["Image"], "web:1");
    assert_eq!(b["Env"], json!(["A=1"]));
}

#[test]
fn a_containers_host_config_follows_the_service() {
    let (b, more) = body_of("web");
    let h = &b["HostConfig"];
    assert_eq!(h["PortBindings"]["80/tcp"], json!([{"HostIp": "", "HostPort": "8080"}]));
    assert_eq!(h["PortBindings"]["90/udp"], json!([{"HostIp": "127.0.0.1", "HostPort": ""}]));
    assert!(b["ExposedPorts"].get("7000/tcp").is_some());
    assert_eq!(
        h["Binds"],
        json!(["/src/app/site:/srv:ro", "/root/cfg:/cfg:rw", "/src/app/pw.txt:/run/secrets/pw:ro"])
    );
    let mounts: Vec<(String, String)> = h["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["Type"].as_str().unwrap().into(), m["Source"].as_str().unwrap_or("-").into()))
        .collect();
    assert_eq!(
        mounts,
        [
            ("volume".to_string(), "app_data".to_string()),
            ("volume".into(), String::new()),
            ("tmpfs".into(), "-".into())
        ]
    );
    assert_eq!(h["RestartPolicy"], json!({"Name": "on-failure", "MaximumRetryCount": 3}));
    assert_eq!(h["Memory"], 64 * 1024 * 1024);
    assert_eq!(h["NanoCpus"], 500_000_000);
    assert_eq!(h["Ulimits"][0], json!({"Name": "nofile", "Soft": 1024, "Hard": 2048}));
    assert_eq!(h["Ulimits"][1], json!({"Name": "nproc", "Soft": 64, "Hard": 64}));
    assert_eq!(h["Sysctls"]["net.core.somaxconn"], "1024");
    assert_eq!(b["StopTimeout"], 60);
    assert_eq!(
        (&h["DnsSearch"], &h["OomScoreAdj"], &h["OomKillDisable"], &h["MemorySwap"], &h["CpusetCpus"]),
        (&json!(["example.org"]), &json!(-100), &json!(true), &json!(128 * 1024 * 1024), &json!("0"))
    );
    assert_eq!(
        b["Healthcheck"],
        json!({"Test": ["CMD", "probe"], "Interval": 2_000_000_000i64, "Timeout": 1_500_000_000i64, "Retries": 4})
    );
    // The first network (by name) comes with the body, the others are connected after.
    assert_eq!(h["NetworkMode"], "app_back");
    let first = &b["NetworkingConfig"]["EndpointsConfig"]["app_back"];
    assert_eq!(first["Aliases"], json!(["web"]));
    assert_eq!(first["IPAMConfig"]["IPv4Address"], "10.5.0.9");
    assert_eq!(more.len(), 1);
    assert_eq!(more[0].0, "app_front");
    assert_eq!(more[0].1["Aliases"], json!(["web", "www"]));
}

#[test]
fn service_namespaces_mean_the_first_container() {
    let (b, more) = body_of("db");
    assert_eq!(b["HostConfig"]["NetworkMode"], "container:app-web-1");
    assert_eq!(b["HostConfig"]["IpcMode"], "container:app-web-1");
    assert_eq!(b["HostConfig"]["VolumesFrom"], json!(["app-web-1:ro"]));
    assert!(b.get("NetworkingConfig").is_none());
    assert!(more.is_empty());
}

#[test]
fn undefined_resources_are_named() {
    for (yaml, want) in [
        ("services: {a: {image: x, volumes: ['nope:/d']}}", "undefined volume nope"),
        ("services: {a: {image: x, networks: [nope]}}", "undefined network nope"),
        ("services: {a: {image: x, secrets: [nope]}}", "undefined secret nope"),
        ("services: {a: {image: x, stop_grace_period: soon}}", "stop_grace_period \"soon\""),
        ("services: {a: {image: x, secrets: [s]}}\nsecrets: {s: {external: true}}", "secret s is external"),
    ] {
        let p = decode(&parse(yaml, "f").unwrap(), "p", "/d").unwrap();
        let nets = networks("p", &p.networks, uses_default_network(&p)).unwrap();
        let err = container_body(&p, &nets, &[], &p.services[0], &Replica::default(), &Context::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{yaml}: {err}");
    }
}

#[test]
fn resources_are_labelled_for_the_project() {
    let (_, nets, vols) = project();
    let front = network_body("app", &nets[0]);
    assert_eq!(front["Name"], "app_front");
    assert_eq!(front["Labels"][NETWORK], "front");
    assert_eq!(front["Labels"][PROJECT], "app");
    assert_eq!(network_body("app", &nets[1])["IPAM"]["Config"], json!([{"Subnet": "10.5.0.0/24"}]));
    let data = volume_body("app", &vols[0]);
    assert_eq!((data["Name"].as_str(), data["Labels"][VOLUME].as_str()), (Some("app_data"), Some("data")));
}

#[test]
fn copied_files_and_environments_resolve() {
    let (p, _, _) = project();
    let web = &p.services[0];
    let lookup = |k: &str| (k == "TOKEN").then(|| "t0k".to_string());
    let read =
        |path: &str| if path == "/src/app/pw.txt" { Ok(b"pw".to_vec()) } else { Err("missing".to_string()) };
    let copies = file_copies(&p, web, &lookup, &read).unwrap();
    assert_eq!(
        copies,
        [
            FileCopy {
                target: "/run/secrets/tok".into(),
                content: b"t0k".to_vec(),
                uid: 0,
                gid: 0,
                mode: 0o444
            },
            FileCopy {
                target: "/etc/app.conf".into(),
                content: b"a=1".to_vec(),
                uid: 7,
                gid: 0,
                mode: 0o440
            },
        ]
    );
    assert!(file_copies(&p, web, &|_| None, &read).unwrap_err().to_string().contains("TOKEN"));
    let svc = decode(&parse("services: {a: {image: x, environment: [A=1, B, C]}}", "f").unwrap(), "p", "/")
        .unwrap();
    let env = environment(&svc.services[0], &[("A".into(), "0".into()), ("Z".into(), "9".into())], &|k| {
        (k == "B").then(|| "b".into())
    });
    assert_eq!(env, ["A=1", "Z=9", "B=b"]);
}
