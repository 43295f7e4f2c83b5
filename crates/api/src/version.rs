//! API versions: the `/v1.NN` path prefix, and Docker's answers to versions out of range.

use std::fmt;
use std::str::FromStr;

use crate::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion(pub u32, pub u32);

/// The version berth implements (`shared/reference/engine-api-v1.51.yaml`).
pub const CURRENT: ApiVersion = ApiVersion(1, 51);
/// The oldest version berth still answers.
pub const MINIMUM: ApiVersion = ApiVersion(1, 24);

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

impl FromStr for ApiVersion {
    type Err = ();
    fn from_str(s: &str) -> Result<ApiVersion, ()> {
        let (a, b) = s.split_once('.').ok_or(())?;
        Ok(ApiVersion(a.parse().map_err(|_| ())?, b.parse().map_err(|_| ())?))
    }
}

/// Splits a request path into its version prefix (if any) and the rest:
/// `/v1.41/containers/json` → (`Some("1.41")`, `/containers/json`).
pub fn split_path(path: &str) -> (Option<&str>, &str) {
    if let Some(rest) = path.strip_prefix("/v") {
        let end = rest.find('/').unwrap_or(rest.len());
        let v = &rest[..end];
        if !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return (Some(v), &rest[end..]);
        }
    }
    (None, path)
}

/// The version a request speaks: its prefix if it has one (checked against the range berth
/// serves, with Docker's messages), else [`CURRENT`].
pub fn negotiate(prefix: Option<&str>) -> Result<ApiVersion, ApiError> {
    let Some(text) = prefix else { return Ok(CURRENT) };
    let v: ApiVersion =
        text.parse().map_err(|_| ApiError::invalid(format!("invalid API version {text:?}: use 1.NN")))?;
    if v > CURRENT {
        return Err(ApiError::invalid(format!(
            "client version {text} is too new. Maximum supported API version is {CURRENT}"
        )));
    }
    if v < MINIMUM {
        return Err(ApiError::invalid(format!(
            "client version {text} is too old. Minimum supported API version is {MINIMUM}, please upgrade your client to a newer version"
        )));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_and_versions_are_checked() {
        let cases = [
            ("/v1.41/containers/json", Some("1.41"), "/containers/json"),
            ("/_ping", None, "/_ping"),
            ("/v1.51/_ping", Some("1.51"), "/_ping"),
            ("/volumes", None, "/volumes"),
            ("/v1.44", Some("1.44"), ""),
        ];
        for (path, v, rest) in cases {
            assert_eq!(split_path(path), (v, rest), "{path}");
        }
        assert_eq!(negotiate(None).unwrap(), CURRENT);
        assert_eq!(negotiate(Some("1.44")).unwrap(), ApiVersion(1, 44));
        assert_eq!(
            negotiate(Some("1.99")).unwrap_err().message,
            "client version 1.99 is too new. Maximum supported API version is 1.51"
        );
        assert!(negotiate(Some("1.12")).unwrap_err().message.starts_with("client version 1.12 is too old"));
        assert!(negotiate(Some("1")).is_err());
        assert!(ApiVersion(1, 9) < ApiVersion(1, 10));
    }
}
