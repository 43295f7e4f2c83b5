use super::*;
use crate::tree::{parse, show};

/// The service `s` of `over` merged over `base`, both given as the service's YAML.
fn merged(base: &str, over: &str) -> Result<String, ComposeError> {
    let file = |body: &str| {
        let indented: String = body.lines().map(|l| format!("    {l}\n")).collect();
        format!("services:\n  s:\n{indented}")
    };
    let (b, mut o) = (parse(&file(base), "base.yml")?, parse(&file(over), "over.yml")?);
    let mut b = b;
    apply_resets(&mut b, &resets(&mut o));
    let mut m = merge(b, o)?;
    enforce_unicity(&mut m)?;
    Ok(show(m.get("services").unwrap().get("s").unwrap()))
}

#[test]
fn merges_as_compose_go() {
    let cases: &[(&str, &str, &str)] = &[
        ("image: a\nrestart: always", "image: b", "{image: b, restart: always}"),
        ("environment: {A: 1, B: 2}", "environment: [B=3, C]", "{environment: [A=1, B=3, C]}"),
        ("labels: [x=1]", "labels: {y: 2, x: 3}", "{labels: [x=3, y=2]}"),
        ("command: [a, b]", "command: c", "{command: c}"),
        ("entrypoint: a", "entrypoint: [b]", "{entrypoint: [b]}"),
        ("healthcheck: {test: [CMD, a], retries: 3}", "healthcheck: {test: [CMD, b]}", "{healthcheck: {test: [CMD, b], retries: 3}}"),
        ("ports: ['8080:80']", "ports: ['8080:80', '9090:90']", "{ports: [8080:80, 9090:90]}"),
        ("ports: [{target: 80, published: 8080}]", "ports: [{target: 80, published: 8080, protocol: tcp}]", "{ports: [{target: 80, published: 8080, protocol: tcp}]}"),
        ("volumes: ['./a:/data', 'v:/keep']", "volumes: ['./b:/data:ro']", "{volumes: [./b:/data:ro, v:/keep]}"),
        ("volumes: [{type: bind, source: ./a, target: /data}]", "volumes: ['./b:/data']", "{volumes: [./b:/data]}"),
        ("build: .", "build: {dockerfile: Other}", "{build: {context: ., dockerfile: Other}}"),
        ("build: {context: ., args: {A: 1}}", "build: {args: [B=2]}", "{build: {context: ., args: [A=1, B=2]}}"),
        ("depends_on: [db]", "depends_on: {cache: {condition: service_healthy}}", "{depends_on: {db: {condition: service_started, required: true}, cache: {condition: service_healthy}}}"),
        ("networks: [front]", "networks: {back: {aliases: [b]}}", "{networks: {front: , back: {aliases: [b]}}}"),
        ("logging: {driver: json-file, options: {max-size: 1m}}", "logging: {options: {max-file: '3'}}", "{logging: {driver: json-file, options: {max-size: 1m, max-file: 3}}}"),
        ("logging: {driver: json-file, options: {max-size: 1m}}", "logging: {driver: syslog}", "{logging: {driver: syslog}}"),
        ("ulimits: {nofile: {soft: 1, hard: 2}}", "ulimits: {nofile: {soft: 3}}", "{ulimits: {nofile: {soft: 3}}}"),
        ("extra_hosts: [a:1.1.1.1]", "extra_hosts: {a: 1.1.1.1, b: 2.2.2.2}", "{extra_hosts: [a:1.1.1.1, a=1.1.1.1, b=2.2.2.2]}"),
        ("secrets: [a]", "secrets: [{source: a, target: /run/secrets/a, mode: 0400}]", "{secrets: [{source: a, target: /run/secrets/a, mode: 0400}]}"),
        ("cap_add: [NET_ADMIN]", "cap_add: [NET_ADMIN, SYS_TIME]", "{cap_add: [NET_ADMIN, SYS_TIME]}"),
        ("dns: 8.8.8.8", "dns: [1.1.1.1]", "{dns: [8.8.8.8, 1.1.1.1]}"),
        ("image: a\nx-extra: {a: 1}", "x-extra: {b: 2}", "{image: a, x-extra: {a: 1, b: 2}}"),
        ("image: a\nuser: me", "user:", "{image: a, user: me}"),
        // `!reset` drops what the earlier files set; `!override` replaces it whole.
        ("image: a\nports: ['80:80']", "ports: !reset []", "{image: a}"),
        ("environment: {A: 1}\nimage: a", "environment: !override {B: 2}", "{image: a, environment: {B: 2}}"),
    ];
    for (base, over, want) in cases {
        assert_eq!(merged(base, over).as_deref(), Ok(*want), "{base:?} + {over:?}");
    }
}

#[test]
fn says_what_cannot_be_merged() {
    assert_eq!(
        merged("ports: ['80:80']", "ports: '90:90'").unwrap_err().to_string(),
        "services.s.ports: cannot override it with a value of another kind"
    );
    assert_eq!(
        merged("volumes: [{type: bind, source: ./a}]", "image: x").unwrap_err().to_string(),
        "services.s.volumes: an entry is missing its target"
    );
}
