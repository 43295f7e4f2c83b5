//! Docker's time arguments (`since`, `until` of logs and events, `until` of prune): a Unix time
//! with an optional fraction, an RFC 3339 date (with or without a zone or seconds), or a Go
//! duration counted back from now (`10m`, `1h30m`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

use crate::ApiError;

/// Nanoseconds since the epoch that `value` names, relative durations counted from `now`.
pub fn parse_timestamp(value: &str, now: DateTime<Utc>) -> Result<i64, ApiError> {
    let v = value.trim();
    let bad = || {
        ApiError::invalid(format!(
            "invalid time {value:?}: use a Unix time (1700000000.5), an RFC 3339 date or a duration such as 10m"
        ))
    };
    if v.is_empty() {
        return Err(bad());
    }
    if let Some(d) = parse_duration(v) {
        return Ok(now.timestamp_nanos_opt().unwrap_or(0) - d);
    }
    if let Some((secs, frac)) = split_unix(v) {
        return Ok(secs * 1_000_000_000 + frac);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return t.timestamp_nanos_opt().ok_or_else(bad);
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, f) {
            return Utc.from_utc_datetime(&t).timestamp_nanos_opt().ok_or_else(bad);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        let t = d.and_hms_opt(0, 0, 0).ok_or_else(bad)?;
        return Utc.from_utc_datetime(&t).timestamp_nanos_opt().ok_or_else(bad);
    }
    Err(bad())
}

/// `secs` or `secs.fraction` (up to nanoseconds).
fn split_unix(v: &str) -> Option<(i64, i64)> {
    let (s, f) = v.split_once('.').unwrap_or((v, ""));
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) || !f.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if f.len() > 9 {
        return None;
    }
    let frac = if f.is_empty() { 0 } else { format!("{f:0<9}").parse().ok()? };
    Some((s.parse().ok()?, frac))
}

/// A Go duration (`300ms`, `1.5h`, `2h45m`) in nanoseconds.
pub fn parse_duration(v: &str) -> Option<i64> {
    if v.is_empty() || v.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let mut total = 0f64;
    let mut rest = v;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * unit;
        rest = &rest[unit_end..];
    }
    Some(total as i64)
}

/// RFC 3339 with nanoseconds in UTC, Docker's way of writing times.
pub fn rfc3339_nanos(nanos: i64) -> String {
    Utc.timestamp_nanos(nanos).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Nanoseconds since the epoch of an RFC 3339 time (0 for Docker's zero time or garbage).
pub fn nanos_of(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .filter(|n| *n > 0)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_every_form_docker_takes() {
        let now = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
        let n = now.timestamp_nanos_opt().unwrap();
        let cases: &[(&str, i64)] = &[
            ("1700000000", 1_700_000_000_000_000_000),
            ("1700000000.5", 1_700_000_000_500_000_000),
            ("1700000000.000000001", 1_700_000_000_000_000_001),
            ("10m", n - 600_000_000_000),
            ("1h30m", n - 5_400_000_000_000),
            ("1.5s", n - 1_500_000_000),
            ("2024-01-02T03:04:05Z", n),
            ("2024-01-02T04:04:05+01:00", n),
            ("2024-01-02T03:04:05", n),
            ("2024-01-02", n - (3 * 3600 + 4 * 60 + 5) * 1_000_000_000),
        ];
        for (text, want) in cases {
            assert_eq!(parse_timestamp(text, now).unwrap(), *want, "{text}");
        }
        for bad in ["", "yesterday", "10x", "1.2.3", "-5"] {
            assert!(parse_timestamp(bad, now).is_err(), "{bad}");
        }
        assert_eq!(rfc3339_nanos(1_700_000_000_000_000_001), "2023-11-14T22:13:20.000000001Z");
        assert_eq!(nanos_of("0001-01-01T00:00:00Z"), 0);
        assert_eq!(nanos_of("2023-11-14T22:13:20.000000001Z"), 1_700_000_000_000_000_001);
    }
}
