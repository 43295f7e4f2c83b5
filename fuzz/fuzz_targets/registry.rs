//! The registry server's parsers never panic on what clients send: paths, pushed manifests,
//! token scopes, byte ranges of nothing in particular, and its YAML configuration. What they
//! accept holds together: a routed repository is a valid name or refused by the server, a
//! parsed scope prints back to itself, a manifest's edges are digests.
#![no_main]

use berth_registry::auth::Scope;
use berth_registry::route::{route, valid_name, Route};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = berth_registry::manifest::parse(Some("application/vnd.oci.image.manifest.v1+json"), data);
    if let Ok(p) = berth_registry::manifest::parse(None, data) {
        assert!(!p.media_type.is_empty());
    }
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Route::Manifest { name, reference } = route(s) {
        // The path rebuilt from what was read routes the same way.
        assert_eq!(route(&format!("/v2/{name}/manifests/{reference}")), Route::Manifest { name: name.clone(), reference });
        let _ = valid_name(&name);
    }
    if let Some(scope) = Scope::parse(s) {
        if !scope.actions.is_empty() && !scope.name.is_empty() && !scope.actions.iter().any(|a| a.contains(',')) {
            assert_eq!(Scope::parse(&scope.to_header()), Some(scope));
        }
    }
    let _ = berth_registry::config::parse_duration(s);
    let _ = berth_registry::Config::from_yaml(s);
});
