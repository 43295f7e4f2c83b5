//! The `filters` query parameter: a JSON map from a filter name to its values, in Docker's
//! current form (`{"label":{"a=b":true}}`) or the old one (`{"label":["a=b"]}`).

use std::collections::BTreeMap;

use crate::ApiError;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(BTreeMap<String, Vec<String>>);

impl Filters {
    /// Parses the parameter (empty means no filters).
    pub fn parse(text: &str) -> Result<Filters, ApiError> {
        if text.trim().is_empty() {
            return Ok(Filters::default());
        }
        let bad = |e: String| ApiError::invalid(format!("invalid filters {text:?}: {e}"));
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let obj = v.as_object().ok_or_else(|| bad("not a JSON object".into()))?;
        let mut out = BTreeMap::new();
        for (k, vals) in obj {
            let list: Vec<String> = match vals {
                serde_json::Value::Object(m) => {
                    m.iter().filter(|(_, on)| on.as_bool().unwrap_or(true)).map(|(v, _)| v.clone()).collect()
                }
                serde_json::Value::Array(a) => {
                    a.iter().filter_map(|v| v.as_str().map(String::from)).collect()
                }
                serde_json::Value::String(s) => vec![s.clone()],
                _ => return Err(bad(format!("the values of {k:?} must be a map or a list"))),
            };
            out.insert(k.clone(), list);
        }
        Ok(Filters(out))
    }

    /// Refuses filter names outside `allowed`, with Docker's message.
    pub fn validate(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(ApiError::invalid(format!("invalid filter '{k}'"))),
            None => Ok(()),
        }
    }

    pub fn get(&self, key: &str) -> &[String] {
        self.0.get(key).map(|v| v.as_slice()).unwrap_or_default()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when no value is given for `key`, or `test` accepts one of them.
    pub fn any(&self, key: &str, test: impl Fn(&str) -> bool) -> bool {
        let vals = self.get(key);
        vals.is_empty() || vals.iter().any(|v| test(v))
    }

    /// Docker's label matching: every `label` value (`key`, `key=value` or `key!=value`) must
    /// hold for `labels`.
    pub fn match_labels<'a>(&self, key: &str, labels: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.get(key).iter().all(|f| {
            if let Some((k, v)) = f.split_once("!=") {
                labels(k) != Some(v)
            } else if let Some((k, v)) = f.split_once('=') {
                labels(k) == Some(v)
            } else {
                labels(f).is_some()
            }
        })
    }

    /// The label filters of the prune endpoints: every `label` must hold and no `label!`
    /// (`key` or `key=value`) may.
    pub fn match_prune_labels<'a>(&self, labels: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.match_labels("label", &labels)
            && self.get("label!").iter().all(|l| match l.split_once('=') {
                Some((k, v)) => labels(k) != Some(v),
                None => labels(l).is_none(),
            })
    }

    /// A boolean filter (`dangling=true`); an error names the filter when the value is not one.
    pub fn bool_value(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key).first().map(|s| s.to_ascii_lowercase()) {
            None => Ok(None),
            Some(v) if v == "true" || v == "1" => Ok(Some(true)),
            Some(v) if v == "false" || v == "0" => Ok(Some(false)),
            Some(v) => Err(ApiError::invalid(format!("invalid filter '{key}={v}'"))),
        }
    }

    /// A time filter (`until=24h`, `until=2024-05-01T00:00:00Z`, Unix seconds) as Unix
    /// nanoseconds, relative ones counted back from `now`.
    pub fn timestamp(&self, key: &str, now: chrono::DateTime<chrono::Utc>) -> Result<Option<i64>, ApiError> {
        self.get(key).first().map(|v| crate::time::parse_timestamp(v, now)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_filters() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-05-02T00:00:00Z").unwrap().to_utc();
        let f = Filters::parse(r#"{"until":{"24h":true},"bad":{"soon":true}}"#).unwrap();
        let day_before = chrono::DateTime::parse_from_rfc3339("2024-05-01T00:00:00Z").unwrap();
        assert_eq!(f.timestamp("until", now).unwrap(), day_before.timestamp_nanos_opt());
        assert_eq!(f.timestamp("since", now).unwrap(), None);
        assert!(f.timestamp("bad", now).is_err());
    }

    #[test]
    fn prune_label_filters() {
        let labels = |k: &str| match k {
            "a" => Some("1"),
            "b" => Some(""),
            _ => None,
        };
        let table = [
            (r#"{"label":["a"]}"#, true),
            (r#"{"label":["a=2"]}"#, false),
            (r#"{"label!":["a"]}"#, false),
            (r#"{"label!":["a=2"]}"#, true),
            (r#"{"label!":["c"]}"#, true),
            (r#"{"label":["b"],"label!":["a=1"]}"#, false),
            ("", true),
        ];
        for (text, want) in table {
            assert_eq!(Filters::parse(text).unwrap().match_prune_labels(labels), want, "{text}");
        }
    }

    #[test]
    fn both_forms_parse_and_unknown_names_are_refused() {
        let cases = [
            (r#"{"label":{"a=b":true}}"#, "label", vec!["a=b"]),
            (r#"{"label":["a=b","c"]}"#, "label", vec!["a=b", "c"]),
            (r#"{"status":{"running":true,"exited":false}}"#, "status", vec!["running"]),
            ("", "label", vec![]),
        ];
        for (text, key, want) in cases {
            assert_eq!(Filters::parse(text).unwrap().get(key), want.as_slice(), "{text}");
        }
        assert!(Filters::parse("{").is_err());
        assert!(Filters::parse("[1]").is_err());
        let f = Filters::parse(r#"{"bogus":["x"]}"#).unwrap();
        assert_eq!(f.validate(&["label"]).unwrap_err().message, "invalid filter 'bogus'");
    }

    #[test]
    fn labels_match_as_docker_does() {
        let labels = |k: &str| match k {
            "a" => Some("1"),
            "b" => Some(""),
            _ => None,
        };
        let cases = [
            (r#"["a"]"#, true),
            (r#"["a=1"]"#, true),
            (r#"["a=2"]"#, false),
            (r#"["a!=2"]"#, true),
            (r#"["a!=1"]"#, false),
            (r#"["b="]"#, true),
            (r#"["c"]"#, false),
            (r#"["a","b"]"#, true),
            (r#"["a","c"]"#, false),
        ];
        for (vals, want) in cases {
            let f = Filters::parse(&format!(r#"{{"label":{vals}}}"#)).unwrap();
            assert_eq!(f.match_labels("label", labels), want, "{vals}");
        }
        let d = Filters::parse(r#"{"dangling":["true"]}"#).unwrap();
        assert_eq!(d.bool_value("dangling").unwrap(), Some(true));
        assert!(Filters::parse(r#"{"dangling":["maybe"]}"#).unwrap().bool_value("dangling").is_err());
    }
}
