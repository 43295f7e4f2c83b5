//! The registry's door: which requests need credentials, the challenge a client is given
//! (`WWW-Authenticate: Basic …` or `Bearer realm,service,scope`), and the token endpoint.

use serde_json::{json, Value};

use crate::auth::{basic_credentials, bearer, granted, Claims, Htpasswd, Rule, Scope, Signer};
use crate::records::now;
use crate::route::Query;

pub enum Guard {
    /// Anyone may do anything.
    Open,
    /// Basic auth against htpasswd; whoever logs in may do everything.
    Basic { realm: String, htpasswd: Htpasswd },
    /// Bearer tokens from `/token`.
    Token(TokenIssuer),
}

pub struct TokenIssuer {
    /// The token endpoint's URL; by default `/token` on the address the client used.
    pub realm: Option<String>,
    pub service: String,
    pub issuer: String,
    /// Accounts; without, only the anonymous get tokens.
    pub htpasswd: Option<Htpasswd>,
    pub rules: Vec<Rule>,
    /// Seconds an access token lasts.
    pub ttl: u64,
    pub signer: Signer,
}

/// Refresh tokens last this long (seconds): 30 days.
const REFRESH_TTL: u64 = 30 * 24 * 3600;

/// Who a request comes from.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub account: Option<String>,
    claims: Option<Claims>,
}

/// Why a request is turned away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 401 with this `WWW-Authenticate`.
    Challenge { www_authenticate: String, message: String },
    /// 403.
    Denied(String),
}

/// Where the request came in, for a token realm made from it.
pub struct Origin<'a> {
    pub host: &'a str,
    pub tls: bool,
}

fn quote(s: &str) -> String {
    s.replace('"', "")
}

impl Guard {
    /// Whether the request, with its `Authorization`, may do what `need` says (`None`: only be
    /// authenticated, as `GET /v2/` asks).
    pub fn check(
        &self,
        authorization: Option<&str>,
        origin: &Origin,
        need: Option<&Scope>,
    ) -> Result<Identity, Refusal> {
        match self {
            Guard::Open => Ok(Identity::default()),
            Guard::Basic { realm, htpasswd } => match basic_credentials(authorization) {
                Some((u, p)) if htpasswd.verify(&u, &p) => Ok(Identity { account: Some(u), claims: None }),
                _ => Err(Refusal::Challenge {
                    www_authenticate: format!("Basic realm=\"{}\"", quote(realm)),
                    message: "authentication required".into(),
                }),
            },
            Guard::Token(t) => {
                let claims = bearer(authorization).and_then(|b| t.signer.verify(b)).filter(|c| !c.refresh);
                let covered = |c: &Claims| need.is_none_or(|n| covers(&c.access, n));
                match claims {
                    Some(c) if covered(&c) => Ok(Identity { account: c.sub.clone(), claims: Some(c) }),
                    Some(_) => Err(t.challenge(origin, need, Some("insufficient_scope"))),
                    None => Err(t.challenge(origin, need, None)),
                }
            }
        }
    }

    /// Whether `who` may also do `scope` (a mount's source repository).
    pub fn allows(&self, who: &Identity, scope: &Scope) -> bool {
        match self {
            Guard::Open => true,
            Guard::Basic { .. } => who.account.is_some(),
            Guard::Token(_) => who.claims.as_ref().is_some_and(|c| covers(&c.access, scope)),
        }
    }

    pub fn issuer(&self) -> Option<&TokenIssuer> {
        match self {
            Guard::Token(t) => Some(t),
            _ => None,
        }
    }
}

fn covers(access: &[Scope], need: &Scope) -> bool {
    need.actions.iter().all(|a| {
        access.iter().any(|s| {
            s.kind == need.kind
                && s.name == need.name
                && (s.actions.contains(a) || s.actions.iter().any(|x| x == "*"))
        })
    })
}

impl TokenIssuer {
    fn realm(&self, origin: &Origin) -> String {
        self.realm.clone().unwrap_or_else(|| {
            format!("{}://{}/token", if origin.tls { "https" } else { "http" }, origin.host)
        })
    }

    fn challenge(&self, origin: &Origin, need: Option<&Scope>, error: Option<&str>) -> Refusal {
        let mut h =
            format!("Bearer realm=\"{}\",service=\"{}\"", quote(&self.realm(origin)), quote(&self.service));
        if let Some(n) = need {
            h.push_str(&format!(",scope=\"{}\"", quote(&n.to_header())));
        }
        if let Some(e) = error {
            h.push_str(&format!(",error=\"{e}\""));
        }
        Refusal::Challenge { www_authenticate: h, message: "authentication required".into() }
    }

    fn login(&self, user: &str, password: &str) -> bool {
        self.htpasswd.as_ref().is_some_and(|h| h.verify(user, password))
    }

    fn refused(&self) -> Refusal {
        Refusal::Challenge {
            www_authenticate: format!("Basic realm=\"{}\"", quote(&self.service)),
            message: "invalid username or password".into(),
        }
    }

    fn issue(&self, account: Option<&str>, scopes: &[Scope], refresh: bool) -> Value {
        let iat = now();
        let access: Vec<Scope> = scopes
            .iter()
            .map(|s| Scope { actions: granted(&self.rules, account, s), ..s.clone() })
            .filter(|s| !s.actions.is_empty())
            .collect();
        let scope_text = access.iter().map(Scope::to_header).collect::<Vec<_>>().join(" ");
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: account.map(str::to_string),
            aud: self.service.clone(),
            exp: iat + self.ttl,
            iat,
            access,
            refresh: false,
        };
        let token = self.signer.sign(&claims);
        let issued = chrono::DateTime::from_timestamp(iat as i64, 0)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut out = json!({
            "token": token, "access_token": token, "expires_in": self.ttl, "issued_at": issued, "scope": scope_text,
        });
        if refresh && account.is_some() {
            let r = Claims { access: vec![], refresh: true, exp: iat + REFRESH_TTL, ..claims };
            out["refresh_token"] = self.signer.sign(&r).into();
        }
        out
    }

    /// `GET /token?service&scope&offline_token` with optional Basic credentials.
    pub fn get(&self, authorization: Option<&str>, q: &Query) -> Result<Value, Refusal> {
        let account = match basic_credentials(authorization) {
            Some((u, p)) if self.login(&u, &p) => Some(u),
            Some(_) => return Err(self.refused()),
            None => None,
        };
        let scopes: Vec<Scope> =
            q.all("scope").iter().flat_map(|s| s.split(' ')).filter_map(Scope::parse).collect();
        Ok(self.issue(account.as_deref(), &scopes, q.get("offline_token") == Some("true")))
    }

    /// `POST /token` (OAuth2 form): `grant_type=password` with `username`/`password`, or
    /// `grant_type=refresh_token` with `refresh_token`; `scope` space-separated.
    pub fn post(&self, form: &Query) -> Result<Value, Refusal> {
        let scopes: Vec<Scope> =
            form.get("scope").unwrap_or("").split(' ').filter_map(Scope::parse).collect();
        let (account, refresh) = match form.get("grant_type") {
            Some("password") => {
                let (u, p) = (form.get("username").unwrap_or(""), form.get("password").unwrap_or(""));
                if !self.login(u, p) {
                    return Err(self.refused());
                }
                (u.to_string(), form.get("access_type") == Some("offline"))
            }
            Some("refresh_token") => {
                let claims =
                    form.get("refresh_token").and_then(|t| self.signer.verify(t)).filter(|c| c.refresh);
                let Some(account) = claims.and_then(|c| c.sub) else {
                    return Err(Refusal::Denied("invalid or expired refresh token: log in again".into()));
                };
                let mut out = self.issue(Some(&account), &scopes, false);
                out["refresh_token"] = form.get("refresh_token").unwrap_or("").into();
                return Ok(out);
            }
            other => {
                return Err(Refusal::Denied(format!(
                    "unsupported grant_type {:?}: use password or refresh_token",
                    other.unwrap_or("")
                )))
            }
        };
        Ok(self.issue(Some(&account), &scopes, refresh))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(dir: &std::path::Path, rules: Vec<Rule>) -> TokenIssuer {
        let pw = dir.join("htpasswd");
        std::fs::write(&pw, format!("alice:{}\n", bcrypt::hash("secret", 4).unwrap())).unwrap();
        TokenIssuer {
            realm: None,
            service: "reg".into(),
            issuer: "berth".into(),
            htpasswd: Some(Htpasswd::open(&pw).unwrap()),
            rules,
            ttl: 300,
            signer: Signer::open(&dir.join("key")).unwrap(),
        }
    }

    const ALICE: &str = "Basic YWxpY2U6c2VjcmV0";
    const ORIGIN: Origin = Origin { host: "127.0.0.1:5000", tls: false };

    #[test]
    fn a_token_from_the_endpoint_opens_what_it_was_granted() {
        let dir = tempfile::tempdir().unwrap();
        let guard = Guard::Token(issuer(dir.path(), vec![]));
        let t = guard.issuer().unwrap();
        let pull = Scope::repository("a", &["pull"]);
        let push = Scope::repository("a", &["pull", "push"]);
        // No token: the challenge names the realm, the service and the scope.
        let Err(Refusal::Challenge { www_authenticate, .. }) = guard.check(None, &ORIGIN, Some(&pull)) else {
            panic!()
        };
        assert_eq!(
            www_authenticate,
            r#"Bearer realm="http://127.0.0.1:5000/token",service="reg",scope="repository:a:pull""#
        );
        let q = Query::parse(Some("service=reg&scope=repository:a:pull&offline_token=true"));
        let out = t.get(Some(ALICE), &q).unwrap();
        let token = out["token"].as_str().unwrap();
        let auth = format!("Bearer {token}");
        assert_eq!(guard.check(Some(&auth), &ORIGIN, Some(&pull)).unwrap().account.as_deref(), Some("alice"));
        let Err(Refusal::Challenge { www_authenticate, .. }) = guard.check(Some(&auth), &ORIGIN, Some(&push))
        else {
            panic!()
        };
        assert!(www_authenticate.ends_with(r#"error="insufficient_scope""#), "{www_authenticate}");
        assert!(guard.check(Some(&auth), &ORIGIN, None).is_ok());
        // A refresh token is no access token, and gives new ones.
        let refresh = out["refresh_token"].as_str().unwrap();
        assert!(guard.check(Some(&format!("Bearer {refresh}")), &ORIGIN, None).is_err());
        let form = Query::parse(Some(&format!(
            "grant_type=refresh_token&refresh_token={refresh}&scope=repository:a:pull,push"
        )));
        let again = t.post(&form).unwrap();
        let auth = format!("Bearer {}", again["access_token"].as_str().unwrap());
        assert!(guard.check(Some(&auth), &ORIGIN, Some(&push)).is_ok());
        // Wrong passwords are refused; the anonymous get tokens with nothing granted.
        assert!(t.get(Some("Basic YWxpY2U6d3Jvbmc="), &q).is_err());
        assert!(t.post(&Query::parse(Some("grant_type=password&username=alice&password=wrong"))).is_err());
        let anon = t.get(None, &q).unwrap();
        assert_eq!(anon["scope"], "");
        assert!(anon.get("refresh_token").is_none());
    }

    #[test]
    fn basic_auth_challenges_and_admits() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("htpasswd");
        std::fs::write(&pw, format!("alice:{}\n", bcrypt::hash("secret", 4).unwrap())).unwrap();
        let guard = Guard::Basic { realm: "r".into(), htpasswd: Htpasswd::open(&pw).unwrap() };
        let Err(Refusal::Challenge { www_authenticate, .. }) = guard.check(None, &ORIGIN, None) else {
            panic!()
        };
        assert_eq!(www_authenticate, r#"Basic realm="r""#);
        assert!(guard.check(Some(ALICE), &ORIGIN, Some(&Scope::catalog())).is_ok());
    }
}
