use super::*;

/// A container record as berth 0.1 (format 1) wrote it, read from the upgrade fixture's
/// database.
const V1_EXITED: &str = include_str!("../testdata/v1-exited0.json");

#[test]
fn a_format_1_record_migrates_to_the_same_container() {
    let v1: serde_json::Value = serde_json::from_str(V1_EXITED).unwrap();
    let v2 = migrate_container(1, v1.clone()).unwrap();
    let rec: ContainerRecord = serde_json::from_value(v2.clone()).unwrap();
    assert_eq!(rec.name, "exited0");
    assert_eq!(rec.config.env.as_deref().unwrap()[1], "GREETING=hello");
    assert_eq!(rec.config.exposed_ports, Some(vec!["80/tcp".to_string()]));
    assert_eq!(rec.config.labels.as_ref().unwrap()["app"], "web");
    let ports = rec.host_config.port_bindings.as_ref().unwrap();
    assert_eq!(ports["80/tcp"].as_ref().unwrap()[0].host_port.as_deref(), Some("8080"));
    assert_eq!(rec.host_config.restart_policy_name(), RestartPolicyName::No);
    assert_eq!(rec.state.status, Status::Exited);
    assert_eq!(rec.networks["bridge"].network_id.len(), 64);
    // Nothing the old record said is lost: format 2 writes every key format 1 had, alike.
    assert_eq!(v2, v1);
    // And a current record needs no step.
    assert_eq!(migrate_container(FORMAT, v2.clone()).unwrap(), v2);
}

#[test]
fn what_does_not_read_is_refused_naming_why() {
    let cases: Vec<(u64, serde_json::Value, &str)> = vec![
        (1, serde_json::json!({"id": "x"}), "missing field `name`"),
        (1, serde_json::json!([1]), "format 1 does not read"),
        (0, serde_json::json!({}), "no migration from container record format 0"),
    ];
    for (from, value, want) in cases {
        let e = migrate_container(from, value).unwrap_err();
        assert!(e.0.contains(want), "{from}: {e} lacks {want}");
    }
}

#[test]
fn restart_policy_names_are_dockers() {
    for (name, text) in [
        (RestartPolicyName::Empty, ""),
        (RestartPolicyName::No, "no"),
        (RestartPolicyName::Always, "always"),
        (RestartPolicyName::UnlessStopped, "unless-stopped"),
        (RestartPolicyName::OnFailure, "on-failure"),
    ] {
        assert_eq!(serde_json::to_value(name).unwrap(), text);
        assert_eq!(name.as_str(), text);
        assert_eq!(serde_json::from_value::<RestartPolicyName>(text.into()).unwrap(), name);
    }
}
