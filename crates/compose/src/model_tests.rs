use super::*;
use crate::tree::parse;

const PROJECT: &str = "services:
  web:
    build: ./web
    command: sh -c 'echo hi'
    environment: [A=1, B]
    labels: {tier: front, empty: null}
    ports: ['8080:80', {target: 90, published: '9090', protocol: udp}]
    volumes: ['./data:/data:ro', 'cache:/cache', {type: tmpfs, target: /tmp}]
    networks: [front]
    depends_on: [db]
    healthcheck: {test: curl -f localhost, interval: 5s, retries: 3}
    env_file: [./web.env, {path: ./opt.env, required: false}]
    extra_hosts: {svc: 10.0.0.1}
    secrets: [pw, {source: key, target: /etc/key, mode: '0400'}]
    deploy: {replicas: 2}
    tty: 'true'
  db:
    image: db
    entrypoint: [/bin/db, --serve]
    networks: {back: {aliases: [database], ipv4_address: 10.1.0.5}}
    depends_on: {init: {condition: service_completed_successfully, required: false}}
    healthcheck: {disable: true}
secrets:
  pw: {file: ./pw.txt}
  key: {environment: KEY}
";

#[test]
fn a_project_decodes_into_its_canonical_forms() {
    let p = decode(&parse(PROJECT, "compose.yaml").unwrap(), "app", "/src/app").unwrap();
    let web = &p.services[0];
    assert_eq!(web.build.as_ref().unwrap().context, "/src/app/web");
    assert_eq!(web.command.as_deref(), Some(&["sh".to_string(), "-c".into(), "echo hi".into()][..]));
    assert_eq!(web.environment, [("A".into(), Some("1".into())), ("B".into(), None)]);
    assert_eq!(web.labels, [("tier".into(), "front".into()), ("empty".into(), String::new())]);
    assert_eq!(web.ports.len(), 2);
    assert_eq!(
        (web.ports[1].target, web.ports[1].published.as_deref(), web.ports[1].protocol.as_str()),
        (90, Some("9090"), "udp")
    );
    let v: Vec<(&str, Option<&str>, &str, bool)> =
        web.volumes.iter().map(|v| (v.kind, v.source.as_deref(), v.target.as_str(), v.read_only)).collect();
    assert_eq!(
        v,
        [
            ("bind", Some("/src/app/data"), "/data", true),
            ("volume", Some("cache"), "/cache", false),
            ("tmpfs", None, "/tmp", false)
        ]
    );
    assert_eq!(web.networks[0].0, "front");
    assert_eq!(
        web.depends_on,
        [("db".into(), Dependency { condition: "service_started".into(), required: true, restart: false })]
    );
    let hc = web.healthcheck.as_ref().unwrap();
    assert_eq!(
        (hc.test.clone(), hc.interval.as_deref(), hc.retries),
        (vec!["CMD-SHELL".to_string(), "curl -f localhost".into()], Some("5s"), Some(3))
    );
    assert_eq!(web.env_files, [("/src/app/web.env".into(), true), ("/src/app/opt.env".into(), false)]);
    assert_eq!(web.extra_hosts, ["svc:10.0.0.1"]);
    assert_eq!(
        web.secrets,
        [
            FileMount {
                source: "pw".into(),
                target: "/run/secrets/pw".into(),
                uid: None,
                gid: None,
                mode: None
            },
            FileMount {
                source: "key".into(),
                target: "/etc/key".into(),
                uid: None,
                gid: None,
                mode: Some(0o400)
            },
        ]
    );
    assert_eq!((web.replicas, web.tty), (2, true));
    let db = &p.services[1];
    assert_eq!(db.entrypoint.as_deref(), Some(&["/bin/db".to_string(), "--serve".into()][..]));
    assert_eq!(
        db.networks,
        [(
            "back".into(),
            Attachment {
                aliases: vec!["database".into()],
                ipv4_address: Some("10.1.0.5".into()),
                ipv6_address: None
            }
        )]
    );
    assert_eq!(
        db.depends_on[0].1,
        Dependency { condition: "service_completed_successfully".into(), required: false, restart: false }
    );
    assert_eq!(db.healthcheck.as_ref().unwrap().test, ["NONE"]);
    assert_eq!(db.replicas, 1);
    assert_eq!(
        p.secrets,
        [
            ("pw".into(), FileObject::File("/src/app/pw.txt".into())),
            ("key".into(), FileObject::Environment("KEY".into()))
        ]
    );
}

#[test]
fn bad_values_name_their_path_and_line() {
    let cases = [
        ("services:\n  a:\n    image: x\n    tty: maybe\n", "line 4, column 5: services.a.tty: \"maybe\" is not a boolean"),
        ("services:\n  a:\n    image: x\n    ports: ['80/icmp']\n", "line 4, column 13: services.a.ports: invalid port \"80/icmp\": invalid protocol \"icmp\": use tcp, udp or sctp"),
        ("services:\n  a:\n    image: x\n    command: \"echo 'open\"\n", "line 4, column 5: services.a.command: invalid command \"echo 'open\": a quote is not closed"),
        ("services:\n  a:\n    image: x\n    deploy: {replicas: many}\n", "line 4, column 14: services.a.deploy.replicas: give a number of replicas"),
        ("secrets:\n  s: {}\n", "line 2, column 3: secrets.s: give a file, an environment variable or content"),
    ];
    for (text, want) in cases {
        let err = decode(&parse(text, "c.yml").unwrap(), "p", "/d").unwrap_err();
        assert_eq!(err.to_string(), want, "{text:?}");
    }
}

#[test]
fn what_berth_does_not_apply_is_warned_about() {
    let yaml = "services:\n  a:\n    image: x\n    x-note: 1\n    userns_mode: host\n    deploy: {replicas: 2, placement: {constraints: [node.role==manager]}, resources: {reservations: {devices: [{capabilities: [gpu]}]}}}\n  b: {image: y}\n";
    assert_eq!(
        unsupported(&parse(yaml, "f").unwrap()),
        [
            "services.a: userns_mode is not supported by berth and is ignored",
            "services.a: deploy.placement is ignored on a single engine",
            "services.a: deploy.resources.reservations.devices is not supported by berth and is ignored",
        ]
    );
}

#[test]
fn a_deploy_restart_policy_stands_for_restart() {
    for (policy, want) in [
        ("{condition: on-failure, max_attempts: 3}", "on-failure:3"),
        ("{condition: none}", "no"),
        ("{condition: any}", "always"),
        ("{}", "always"),
    ] {
        let yaml = format!("services:\n  a:\n    image: x\n    deploy: {{restart_policy: {policy}}}\n");
        let p = decode(&parse(&yaml, "f").unwrap(), "p", "/").unwrap();
        assert_eq!(p.services[0].restart.as_deref(), Some(want), "{policy}");
    }
    let yaml = "services:\n  a:\n    image: x\n    restart: unless-stopped\n    deploy: {restart_policy: {condition: none}}\n";
    assert_eq!(
        decode(&parse(yaml, "f").unwrap(), "p", "/").unwrap().services[0].restart.as_deref(),
        Some("unless-stopped")
    );
}
