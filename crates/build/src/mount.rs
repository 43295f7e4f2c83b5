//! `RUN --mount=…` as BuildKit reads it: comma-separated `key=value` fields (quoted fields
//! allowed), `type=bind` by default, and each type's defaults (a bind is read-only, a secret
//! lands in `/run/secrets/<id>` with mode 0400, an SSH socket in `/run/buildkit/ssh_agent.N`).
//! Variables are expanded before this sees the text. Pure.

/// What is mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// Files of the context or of another stage or image, read-only unless `rw`.
    Bind,
    /// A directory kept between builds, keyed by `id` (the target by default).
    Cache,
    Tmpfs,
    /// A secret the build was given (`--secret id=…`), for this step only.
    Secret,
    /// The build's SSH agent socket (`--ssh`).
    Ssh,
}

/// How builds running at once share a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    Shared,
    Private,
    Locked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub kind: MountKind,
    pub target: String,
    pub source: Option<String>,
    /// A stage or image the source is taken from (bind and cache).
    pub from: Option<String>,
    pub readonly: bool,
    pub id: Option<String>,
    pub sharing: Sharing,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// A secret or SSH agent that must have been given.
    pub required: bool,
    /// tmpfs size in bytes.
    pub size: Option<u64>,
    /// A secret exposed as this environment variable (instead of, or besides, a file).
    pub env: Option<String>,
}

impl Mount {
    /// Parses one `--mount` value; `ssh_index` numbers the SSH sockets of one step.
    pub fn parse(text: &str, ssh_index: usize) -> Result<Mount, String> {
        let fields = csv_fields(text)?;
        let mut kind = MountKind::Bind;
        for f in &fields {
            if let Some(("type", v)) = f.split_once('=') {
                kind = match v.to_ascii_lowercase().as_str() {
                    "bind" => MountKind::Bind,
                    "cache" => MountKind::Cache,
                    "tmpfs" => MountKind::Tmpfs,
                    "secret" => MountKind::Secret,
                    "ssh" => MountKind::Ssh,
                    _ => {
                        return Err(format!(
                            "unsupported mount type {v:?}: use bind, cache, tmpfs, secret or ssh"
                        ))
                    }
                };
            }
        }
        let mut m = Mount {
            kind,
            target: String::new(),
            source: None,
            from: None,
            readonly: kind == MountKind::Bind,
            id: None,
            sharing: Sharing::Shared,
            mode: None,
            uid: None,
            gid: None,
            required: false,
            size: None,
            env: None,
        };
        for f in &fields {
            let (key, value) = match f.split_once('=') {
                Some((k, v)) => (k.to_ascii_lowercase(), Some(v)),
                None => (f.to_ascii_lowercase(), None),
            };
            let text_value = || {
                value
                    .map(str::to_string)
                    .ok_or_else(|| format!("invalid field {f:?} in --mount: give {key}=value"))
            };
            match key.as_str() {
                "type" => {}
                "target" | "dst" | "destination" => m.target = text_value()?,
                "source" | "src" => m.source = Some(text_value()?),
                "from" => m.from = Some(text_value()?),
                "id" => m.id = Some(text_value()?),
                "env" => m.env = Some(text_value()?),
                "readonly" | "ro" => m.readonly = boolean(&key, value)?,
                "readwrite" | "rw" => m.readonly = !boolean(&key, value)?,
                "required" => m.required = boolean(&key, value)?,
                "sharing" => {
                    m.sharing = match text_value()?.as_str() {
                        "shared" => Sharing::Shared,
                        "private" => Sharing::Private,
                        "locked" => Sharing::Locked,
                        other => {
                            return Err(format!(
                                "unsupported sharing value {other:?}: use shared, private or locked"
                            ))
                        }
                    }
                }
                "mode" => {
                    let v = text_value()?;
                    m.mode = Some(u32::from_str_radix(&v, 8).map_err(|_| {
                        format!("invalid mode {v:?} in --mount: give octal digits, such as 0755")
                    })?);
                }
                "uid" | "gid" => {
                    let v = text_value()?;
                    let n =
                        v.parse().map_err(|_| format!("invalid {key} {v:?} in --mount: give a number"))?;
                    *(if key == "uid" { &mut m.uid } else { &mut m.gid }) = Some(n);
                }
                "size" => m.size = Some(size(&text_value()?)?),
                _ => return Err(format!("unexpected key '{key}' in '{f}'")),
            }
            let allowed = match key.as_str() {
                "type" | "target" | "dst" | "destination" | "readonly" | "ro" | "readwrite" | "rw" => true,
                "source" | "src" | "from" => matches!(kind, MountKind::Bind | MountKind::Cache),
                "id" | "uid" | "gid" | "mode" => kind != MountKind::Tmpfs,
                "sharing" => kind == MountKind::Cache,
                "required" => matches!(kind, MountKind::Secret | MountKind::Ssh),
                "size" => kind == MountKind::Tmpfs,
                "env" => kind == MountKind::Secret,
                _ => false,
            };
            if !allowed || (kind == MountKind::Bind && matches!(key.as_str(), "id" | "uid" | "gid" | "mode"))
            {
                return Err(format!("unexpected key '{key}' for mount type {}", kind_name(kind)));
            }
        }
        match kind {
            MountKind::Secret => {
                if m.target.is_empty() && m.env.is_none() {
                    let id =
                        m.id.clone()
                            .filter(|i| !i.is_empty())
                            .ok_or("a secret mount needs an id or a target: give id=…")?;
                    m.target = format!("/run/secrets/{id}");
                }
                if m.id.is_none() {
                    m.id = m.target.rsplit('/').next().map(str::to_string).filter(|s| !s.is_empty());
                }
                m.mode.get_or_insert(0o400);
                m.readonly = true;
            }
            MountKind::Ssh => {
                if m.target.is_empty() {
                    m.target = format!("/run/buildkit/ssh_agent.{ssh_index}");
                }
                m.id.get_or_insert_with(|| "default".to_string());
                m.mode.get_or_insert(0o600);
                m.readonly = true;
            }
            _ if m.target.is_empty() => {
                return Err(format!("mount type {} needs a target: give target=/path", kind_name(kind)))
            }
            MountKind::Cache => {
                m.mode.get_or_insert(0o755);
            }
            _ => {}
        }
        Ok(m)
    }
}

fn kind_name(kind: MountKind) -> &'static str {
    match kind {
        MountKind::Bind => "bind",
        MountKind::Cache => "cache",
        MountKind::Tmpfs => "tmpfs",
        MountKind::Secret => "secret",
        MountKind::Ssh => "ssh",
    }
}

fn boolean(key: &str, value: Option<&str>) -> Result<bool, String> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(v) => Err(format!("invalid value for {key}: {v}")),
    }
}

/// A size as Docker's flags write them: bytes, or with k, m, g (optionally followed by `b`).
fn size(v: &str) -> Result<u64, String> {
    let lower = v.to_ascii_lowercase();
    let body = lower.strip_suffix('b').unwrap_or(&lower);
    let (digits, scale) = match body.chars().last() {
        Some('k') => (&body[..body.len() - 1], 1u64 << 10),
        Some('m') => (&body[..body.len() - 1], 1 << 20),
        Some('g') => (&body[..body.len() - 1], 1 << 30),
        _ => (body, 1),
    };
    digits
        .parse::<u64>()
        .map(|n| n * scale)
        .map_err(|_| format!("invalid size {v:?} in --mount: give bytes or a number with k, m or g"))
}

/// Comma-separated fields, a field quoted with `"` where it holds commas (CSV's rules).
fn csv_fields(text: &str) -> Result<Vec<String>, String> {
    let (mut out, mut field, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    if quoted {
        return Err(format!("unterminated quote in --mount={text}"));
    }
    out.push(field);
    Ok(out.into_iter().map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_get_their_types_defaults() {
        let m = Mount::parse("target=/src", 0).unwrap();
        assert_eq!((m.kind, m.readonly, m.target.as_str()), (MountKind::Bind, true, "/src"));
        let m = Mount::parse("type=bind,from=build,source=/out,target=/in,rw", 0).unwrap();
        assert_eq!(
            (m.from.as_deref(), m.source.as_deref(), m.readonly),
            (Some("build"), Some("/out"), false)
        );
        let m = Mount::parse("type=cache,target=/root/.cache,sharing=locked,id=pip", 0).unwrap();
        assert_eq!(
            (m.kind, m.sharing, m.id.as_deref(), m.mode, m.readonly),
            (MountKind::Cache, Sharing::Locked, Some("pip"), Some(0o755), false)
        );
        let m = Mount::parse("type=secret,id=token", 0).unwrap();
        assert_eq!((m.target.as_str(), m.mode, m.required), ("/run/secrets/token", Some(0o400), false));
        let m = Mount::parse("type=secret,target=/etc/key,required", 0).unwrap();
        assert_eq!((m.id.as_deref(), m.required), (Some("key"), true));
        let m = Mount::parse("type=secret,id=aws,env=AWS_KEY", 0).unwrap();
        assert_eq!((m.env.as_deref(), m.target.as_str()), (Some("AWS_KEY"), ""));
        let m = Mount::parse("type=ssh", 1).unwrap();
        assert_eq!(
            (m.target.as_str(), m.id.as_deref(), m.mode),
            ("/run/buildkit/ssh_agent.1", Some("default"), Some(0o600))
        );
        let m = Mount::parse("type=tmpfs,target=/t,size=64m", 0).unwrap();
        assert_eq!(m.size, Some(64 << 20));
        let m = Mount::parse("\"type=bind,target=/a,b\"", 0);
        assert!(m.is_err(), "one quoted field is one field: {m:?}");
    }

    #[test]
    fn bad_mounts_say_what_is_wrong() {
        for (text, message) in [
            ("type=nfs,target=/x", "unsupported mount type \"nfs\": use bind, cache, tmpfs, secret or ssh"),
            ("type=cache", "mount type cache needs a target: give target=/path"),
            (
                "type=cache,target=/x,sharing=all",
                "unsupported sharing value \"all\": use shared, private or locked",
            ),
            ("type=cache,target=/x,mode=9", "invalid mode \"9\" in --mount: give octal digits, such as 0755"),
            ("target=/x,colour=red", "unexpected key 'colour' in 'colour=red'"),
            ("type=tmpfs,target=/x,id=a", "unexpected key 'id' for mount type tmpfs"),
            ("type=bind,target=/x,sharing=locked", "unexpected key 'sharing' for mount type bind"),
            ("type=secret", "a secret mount needs an id or a target: give id=…"),
            ("target=/x,ro=maybe", "invalid value for ro: maybe"),
            ("target=\"/x", "unterminated quote in --mount=target=\"/x"),
        ] {
            assert_eq!(Mount::parse(text, 0).unwrap_err(), message, "{text}");
        }
    }
}
