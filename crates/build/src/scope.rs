//! A stage's variables as its instructions see them, by Docker's rules: the base image's
//! environment and the stage's `ENV`s; `ARG`s once declared (a `--build-arg` over the default,
//! a bare `ARG NAME` taking the global value of that name); `ENV` over `ARG` of the same name;
//! the proxy args usable undeclared. Also which instructions are expanded and how: ENV, LABEL,
//! COPY, ADD, EXPOSE, STOPSIGNAL, USER, WORKDIR, VOLUME and the flags `--from`, `--chown`,
//! `--chmod` and `--mount`; RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK and ONBUILD are left to the
//! shell or to later. Pure.

use std::collections::{BTreeMap, BTreeSet};

use crate::instructions::{ArgDef, Instruction};
use crate::lex::Lexer;

/// Build args that need no `ARG` and stay out of the image's history.
pub const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

#[derive(Debug, Clone, Default)]
pub struct Scope {
    globals: BTreeMap<String, String>,
    proxies: BTreeMap<String, String>,
    /// Declared ARGs, in order; `None` when declared without a value.
    args: Vec<(String, Option<String>)>,
    /// `KEY=value` entries, in order.
    env: Vec<(String, String)>,
    used: BTreeSet<String>,
}

impl Scope {
    /// The scope a stage starts with: the global args (for bare `ARG NAME`s) and its base
    /// image's environment (`KEY=value` entries).
    pub fn new(globals: &BTreeMap<String, String>, image_env: &[String]) -> Scope {
        let mut s = Scope { globals: globals.clone(), ..Scope::default() };
        for e in image_env {
            let (k, v) = e.split_once('=').unwrap_or((e, ""));
            s.set_env(k, v);
        }
        s
    }

    /// The proxy args of the build, usable without `ARG`.
    pub fn with_proxies(mut self, build_args: &BTreeMap<String, String>) -> Scope {
        for name in PROXY_ARGS {
            if let Some(v) = build_args.get(name) {
                self.proxies.insert(name.to_string(), v.clone());
            }
        }
        self
    }

    /// `ARG name[=default]`.
    pub fn declare(
        &mut self,
        def: &ArgDef,
        build_args: &BTreeMap<String, String>,
        lexer: &Lexer,
    ) -> Result<(), String> {
        let value = match (build_args.get(&def.name), &def.default) {
            (Some(v), _) => {
                self.used.insert(def.name.clone());
                Some(v.clone())
            }
            (None, Some(d)) => Some(self.word(lexer, d)?),
            (None, None) => self.globals.get(&def.name).cloned(),
        };
        self.args.retain(|(n, _)| *n != def.name);
        self.args.push((def.name.clone(), value));
        Ok(())
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        match self.env.iter_mut().find(|(k, _)| k == key) {
            Some(e) => e.1 = value.to_string(),
            None => self.env.push((key.to_string(), value.to_string())),
        }
    }

    /// A variable's value: ENV first, then a declared ARG, then a proxy arg.
    pub fn get(&self, name: &str) -> Option<String> {
        if let Some((_, v)) = self.env.iter().find(|(k, _)| k == name) {
            return Some(v.clone());
        }
        if let Some((_, v)) = self.args.iter().find(|(k, _)| k == name) {
            return v.clone();
        }
        self.proxies.get(name).cloned()
    }

    pub fn word(&self, lexer: &Lexer, text: &str) -> Result<String, String> {
        lexer.word(text, &|n| self.get(n)).map_err(|e| e.to_string())
    }

    pub fn words(&self, lexer: &Lexer, text: &str) -> Result<Vec<String>, String> {
        lexer.words(text, &|n| self.get(n)).map_err(|e| e.to_string())
    }

    /// The image's environment as its config keeps it (`KEY=value`).
    pub fn env(&self) -> Vec<String> {
        self.env.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    /// What a RUN step sees: the environment, and the declared args with values that no ENV
    /// hides, and the proxy args.
    pub fn run_env(&self) -> Vec<String> {
        let mut out = self.env();
        let hidden = |k: &str| self.env.iter().any(|(e, _)| e == k);
        for (k, v) in &self.args {
            if let Some(v) = v.as_ref().filter(|_| !hidden(k)) {
                out.push(format!("{k}={v}"));
            }
        }
        for (k, v) in &self.proxies {
            if !hidden(k) && !self.args.iter().any(|(a, _)| a == k) {
                out.push(format!("{k}={v}"));
            }
        }
        out
    }

    /// The declared args with values, which a RUN step's cache key and history record
    /// (`|N K=V … command`), proxies left out.
    pub fn declared(&self) -> Vec<String> {
        self.args.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}"))).collect()
    }

    /// The build args the stage consumed.
    pub fn used_build_args(&self) -> &BTreeSet<String> {
        &self.used
    }

    /// `instruction` with its variables expanded (see the module's documentation). An ARG
    /// or ENV is also taken into the scope.
    pub fn expand(
        &mut self,
        instruction: &Instruction,
        lexer: &Lexer,
        build_args: &BTreeMap<String, String>,
    ) -> Result<Instruction, String> {
        let word = |s: &Scope, t: &str| s.word(lexer, t);
        let opt = |s: &Scope, t: &Option<String>| t.as_ref().map(|t| s.word(lexer, t)).transpose();
        Ok(match instruction {
            Instruction::Env(pairs) => {
                let mut out = Vec::new();
                for (k, v) in pairs {
                    let (k, v) = (word(self, k)?, word(self, v)?);
                    self.set_env(&k, &v);
                    out.push((k, v));
                }
                Instruction::Env(out)
            }
            Instruction::Label(pairs) => Instruction::Label(
                pairs
                    .iter()
                    .map(|(k, v)| Ok((word(self, k)?, word(self, v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            Instruction::Arg(defs) => {
                for d in defs {
                    self.declare(d, build_args, lexer)?;
                }
                instruction.clone()
            }
            Instruction::Add(t) | Instruction::Copy(t) => {
                let mut t = t.clone();
                t.sources = t.sources.iter().map(|s| word(self, s)).collect::<Result<_, _>>()?;
                t.dest = word(self, &t.dest)?;
                t.from = opt(self, &t.from)?;
                t.chown = opt(self, &t.chown)?;
                t.chmod = opt(self, &t.chmod)?;
                t.exclude = t.exclude.iter().map(|s| word(self, s)).collect::<Result<_, _>>()?;
                for f in &mut t.inline {
                    if f.expand {
                        f.data = word(self, &f.data)?;
                    }
                }
                if matches!(instruction, Instruction::Add(_)) {
                    Instruction::Add(t)
                } else {
                    Instruction::Copy(t)
                }
            }
            Instruction::Expose(ports) => {
                let mut out = Vec::new();
                for p in ports {
                    out.extend(self.words(lexer, p)?);
                }
                Instruction::Expose(out)
            }
            Instruction::StopSignal(s) => Instruction::StopSignal(word(self, s)?),
            Instruction::User(u) => Instruction::User(word(self, u)?),
            Instruction::Workdir(w) => Instruction::Workdir(word(self, w)?),
            Instruction::Volume(v) => {
                Instruction::Volume(v.iter().map(|s| word(self, s)).collect::<Result<_, _>>()?)
            }
            Instruction::Run(r) => {
                let mut r = r.clone();
                r.mounts = r.mounts.iter().map(|m| word(self, m)).collect::<Result<_, _>>()?;
                Instruction::Run(r)
            }
            other => other.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn def(name: &str, default: Option<&str>) -> ArgDef {
        ArgDef { name: name.into(), default: default.map(Into::into) }
    }

    #[test]
    fn args_and_env_resolve_by_dockers_rules() {
        let lx = Lexer::new('\\');
        let globals = args(&[("VERSION", "1.2"), ("TARGETARCH", "amd64")]);
        let build = args(&[("FROM_CLI", "cli"), ("HTTP_PROXY", "http://proxy:3128")]);
        let mut s = Scope::new(&globals, &["PATH=/bin".into(), "HOME=/root".into()]).with_proxies(&build);
        assert_eq!(s.get("VERSION"), None, "a global arg is not seen until declared");
        s.declare(&def("VERSION", None), &build, &lx).unwrap();
        s.declare(&def("TARGETARCH", None), &build, &lx).unwrap();
        s.declare(&def("FROM_CLI", Some("default")), &build, &lx).unwrap();
        s.declare(&def("DERIVED", Some("v${VERSION}-$HOME")), &build, &lx).unwrap();
        s.declare(&def("UNSET", None), &build, &lx).unwrap();
        assert_eq!(s.get("VERSION").as_deref(), Some("1.2"));
        assert_eq!(s.get("TARGETARCH").as_deref(), Some("amd64"));
        assert_eq!(s.get("FROM_CLI").as_deref(), Some("cli"));
        assert_eq!(s.get("DERIVED").as_deref(), Some("v1.2-/root"));
        assert_eq!(s.get("UNSET"), None);
        assert_eq!(s.get("HTTP_PROXY").as_deref(), Some("http://proxy:3128"));
        s.set_env("VERSION", "env wins");
        assert_eq!(s.get("VERSION").as_deref(), Some("env wins"));
        assert_eq!(s.used_build_args().iter().collect::<Vec<_>>(), ["FROM_CLI"]);
        assert_eq!(s.env(), ["PATH=/bin", "HOME=/root", "VERSION=env wins"]);
        assert_eq!(
            s.run_env(),
            [
                "PATH=/bin",
                "HOME=/root",
                "VERSION=env wins",
                "TARGETARCH=amd64",
                "FROM_CLI=cli",
                "DERIVED=v1.2-/root",
                "HTTP_PROXY=http://proxy:3128"
            ]
        );
        assert_eq!(s.declared(), ["VERSION=1.2", "TARGETARCH=amd64", "FROM_CLI=cli", "DERIVED=v1.2-/root"]);
    }

    #[test]
    fn instructions_are_expanded_where_docker_expands_them() {
        let lx = Lexer::new('\\');
        let df = crate::parse(
            "FROM x\nENV DIR=/app NAME=\"my app\"\nWORKDIR $DIR\nCOPY --chown=$UID:0 src/ ${DIR}/\nLABEL title=\"$NAME\"\nEXPOSE ${PORT:-80} 443\nRUN echo $DIR\nUSER ${USER:-nobody}\nVOLUME $DIR/data\n",
        )
        .unwrap();
        let mut s = Scope::new(&BTreeMap::new(), &["UID=1000".into()]);
        let build = BTreeMap::new();
        let out: Vec<Instruction> =
            df.stages[0].commands.iter().map(|c| s.expand(&c.instruction, &lx, &build).unwrap()).collect();
        assert_eq!(
            out[0],
            Instruction::Env(vec![("DIR".into(), "/app".into()), ("NAME".into(), "my app".into())])
        );
        assert_eq!(out[1], Instruction::Workdir("/app".into()));
        let Instruction::Copy(t) = &out[2] else { panic!("a copy") };
        assert_eq!(
            (t.chown.as_deref(), t.sources.as_slice(), t.dest.as_str()),
            (Some("1000:0"), &["src/".to_string()][..], "/app/")
        );
        assert_eq!(out[3], Instruction::Label(vec![("title".into(), "my app".into())]));
        assert_eq!(out[4], Instruction::Expose(vec!["80".into(), "443".into()]));
        assert_eq!(out[5], df.stages[0].commands[5].instruction, "RUN is the shell's to expand");
        assert_eq!(out[6], Instruction::User("nobody".into()));
        assert_eq!(out[7], Instruction::Volume(vec!["/app/data".into()]));
    }
}
