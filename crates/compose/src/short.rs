//! The short syntaxes of a service's `ports` and `volumes`, read as Compose reads them into
//! their long forms: `[ip:][published:]target[/protocol]` with ranges (`9090-9091:8080-8081` is
//! two ports; a published range for one target leaves the engine to pick) and IPv6 addresses in
//! brackets; `[source:]target[:options]` where a source starting with `.`, `/` or `~` is a bind
//! (made when missing), any other a named volume, none an anonymous volume, and the options
//! `ro`/`rw`, `z`/`Z`, `nocopy`, a consistency and a propagation.

use crate::ComposeError;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Port {
    pub target: u16,
    /// A port, a range (the engine picks one of it), or nothing (the engine picks any).
    pub published: Option<String>,
    pub host_ip: Option<String>,
    pub protocol: String,
}

fn port_error(spec: &str, why: &str) -> ComposeError {
    ComposeError::Short { what: "port", spec: spec.to_string(), why: why.to_string() }
}

/// `start[-end]` as a range of ports.
fn range(text: &str, spec: &str) -> Result<(u16, u16), ComposeError> {
    let (a, b) = text.split_once('-').unwrap_or((text, text));
    let n = |s: &str| s.trim().parse::<u16>().map_err(|_| port_error(spec, &format!("invalid port {s:?}")));
    let (a, b) = (n(a)?, n(b)?);
    if b < a {
        return Err(port_error(spec, &format!("invalid range {text:?}: its end is before its start")));
    }
    Ok((a, b))
}

/// A port's short syntax (or a bare number): one port a target.
pub fn parse_port(spec: &str) -> Result<Vec<Port>, ComposeError> {
    let (rest, protocol) = spec.rsplit_once('/').unwrap_or((spec, "tcp"));
    if !matches!(protocol, "tcp" | "udp" | "sctp") {
        return Err(port_error(spec, &format!("invalid protocol {protocol:?}: use tcp, udp or sctp")));
    }
    // An IPv6 address is in brackets, so the last colons split the rest.
    let (ip, ports) = match rest.strip_prefix('[') {
        Some(bracketed) => {
            let (ip, after) =
                bracketed.split_once(']').ok_or_else(|| port_error(spec, "an IPv6 address lacks its ']'"))?;
            let after =
                after.strip_prefix(':').ok_or_else(|| port_error(spec, "no port after the address"))?;
            (Some(ip.to_string()), after)
        }
        None => match rest.matches(':').count() {
            0 | 1 => (None, rest),
            2 => {
                let (ip, after) = rest.split_once(':').expect("two colons");
                (Some(ip.to_string()).filter(|i| !i.is_empty()), after)
            }
            _ => return Err(port_error(spec, "too many colons")),
        },
    };
    let (host, container) = match ports.split_once(':') {
        Some((h, c)) => (Some(h).filter(|h| !h.is_empty()), c),
        None => (None, ports),
    };
    let (c0, c1) = range(container, spec)?;
    let host = host.map(|h| range(h, spec).map(|r| (h, r))).transpose()?;
    let count = usize::from(c1 - c0) + 1;
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let published = match host {
            None => None,
            Some((_, (h0, h1))) if h0 == h1 => Some(h0.to_string()),
            Some((_, (h0, h1))) if usize::from(h1 - h0) + 1 == count => Some((h0 + i as u16).to_string()),
            // One target, a range to publish it on: the engine picks.
            Some((text, _)) if count == 1 => Some(text.to_string()),
            Some(_) => {
                return Err(port_error(spec, "the published and target ranges are of different lengths"));
            }
        };
        out.push(Port {
            target: c0 + i as u16,
            published,
            host_ip: ip.clone(),
            protocol: protocol.to_string(),
        });
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Volume {
    /// `bind` or `volume`.
    pub kind: &'static str,
    /// None for an anonymous volume.
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    /// `z` or `Z`.
    pub selinux: Option<String>,
    pub nocopy: bool,
    pub consistency: Option<String>,
    pub propagation: Option<String>,
}

fn volume_error(spec: &str, why: &str) -> ComposeError {
    ComposeError::Short { what: "volume", spec: spec.to_string(), why: why.to_string() }
}

/// A volume's short syntax.
pub fn parse_volume(spec: &str) -> Result<Volume, ComposeError> {
    if spec.is_empty() {
        return Err(volume_error(spec, "it is empty"));
    }
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, options) = match parts.as_slice() {
        [t] => (None, *t, None),
        [s, t] => (Some(*s), *t, None),
        [s, t, o] => (Some(*s), *t, Some(*o)),
        _ => return Err(volume_error(spec, "too many colons")),
    };
    if target.is_empty() {
        return Err(volume_error(spec, "it has no target"));
    }
    if !target.starts_with('/') {
        return Err(volume_error(spec, &format!("the target {target:?} is not an absolute path")));
    }
    let source = source.filter(|s| !s.is_empty());
    let kind = match source {
        Some(s) if s.starts_with(['.', '/', '~']) => "bind",
        _ => "volume",
    };
    let mut v =
        Volume { kind, source: source.map(String::from), target: target.to_string(), ..Volume::default() };
    for o in options.into_iter().flat_map(|o| o.split(',')) {
        match o {
            "ro" => v.read_only = true,
            "rw" => v.read_only = false,
            "z" | "Z" => v.selinux = Some(o.to_string()),
            "nocopy" => v.nocopy = true,
            "consistent" | "cached" | "delegated" => v.consistency = Some(o.to_string()),
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => {
                v.propagation = Some(o.to_string())
            }
            other => return Err(volume_error(spec, &format!("unknown option {other:?}"))),
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(target: u16, published: Option<&str>, ip: Option<&str>, protocol: &str) -> Port {
        Port {
            target,
            published: published.map(String::from),
            host_ip: ip.map(String::from),
            protocol: protocol.into(),
        }
    }

    #[test]
    fn ports_as_compose_reads_them() {
        let cases: Vec<(&str, Vec<Port>)> = vec![
            ("3000", vec![port(3000, None, None, "tcp")]),
            ("3000-3001", vec![port(3000, None, None, "tcp"), port(3001, None, None, "tcp")]),
            ("8000:8000", vec![port(8000, Some("8000"), None, "tcp")]),
            (
                "9090-9091:8080-8081",
                vec![port(8080, Some("9090"), None, "tcp"), port(8081, Some("9091"), None, "tcp")],
            ),
            ("49100:22", vec![port(22, Some("49100"), None, "tcp")]),
            ("8000-8010:80", vec![port(80, Some("8000-8010"), None, "tcp")]),
            ("127.0.0.1:8001:8001", vec![port(8001, Some("8001"), Some("127.0.0.1"), "tcp")]),
            ("127.0.0.1::5000", vec![port(5000, None, Some("127.0.0.1"), "tcp")]),
            ("6060:6060/udp", vec![port(6060, Some("6060"), None, "udp")]),
            ("[::1]:6001:6001", vec![port(6001, Some("6001"), Some("::1"), "tcp")]),
            ("[::1]:6002", vec![port(6002, None, Some("::1"), "tcp")]),
        ];
        for (spec, want) in cases {
            assert_eq!(parse_port(spec), Ok(want), "{spec}");
        }
        for (spec, why) in [
            ("80/icmp", "invalid protocol \"icmp\": use tcp, udp or sctp"),
            ("http", "invalid port \"http\""),
            ("1:2:3:4", "too many colons"),
            ("9000-9001:80-82", "the published and target ranges are of different lengths"),
            ("90-80", "invalid range \"90-80\": its end is before its start"),
        ] {
            assert_eq!(
                parse_port(spec),
                Err(ComposeError::Short { what: "port", spec: spec.into(), why: why.into() }),
                "{spec}"
            );
        }
    }

    #[test]
    fn volumes_as_compose_reads_them() {
        let v = |kind, source: Option<&str>, target: &str| Volume {
            kind,
            source: source.map(String::from),
            target: target.into(),
            ..Volume::default()
        };
        assert_eq!(parse_volume("/data"), Ok(v("volume", None, "/data")));
        assert_eq!(parse_volume("db:/var/lib/db"), Ok(v("volume", Some("db"), "/var/lib/db")));
        assert_eq!(parse_volume("./src:/app"), Ok(v("bind", Some("./src"), "/app")));
        assert_eq!(parse_volume("~/cfg:/cfg"), Ok(v("bind", Some("~/cfg"), "/cfg")));
        assert_eq!(
            parse_volume("/host:/in:ro,Z,rslave"),
            Ok(Volume {
                read_only: true,
                selinux: Some("Z".into()),
                propagation: Some("rslave".into()),
                ..v("bind", Some("/host"), "/in")
            })
        );
        assert_eq!(
            parse_volume("data:/d:nocopy"),
            Ok(Volume { nocopy: true, ..v("volume", Some("data"), "/d") })
        );
        for (spec, why) in [
            ("", "it is empty"),
            ("a:b:c:d", "too many colons"),
            ("data:relative", "the target \"relative\" is not an absolute path"),
            ("/a:/b:bogus", "unknown option \"bogus\""),
        ] {
            assert_eq!(
                parse_volume(spec),
                Err(ComposeError::Short { what: "volume", spec: spec.into(), why: why.into() }),
                "{spec:?}"
            );
        }
    }
}
