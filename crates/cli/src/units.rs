//! Docker's units: sizes as `units.HumanSizeWithPrecision` and `RAMInBytes` parse them, and
//! Go's `%g` that the former prints with.

use berth_api::shape::human_duration;
pub use berth_api::units::{go_g, human_size_precision, ram_in_bytes};

/// `units.HumanSizeWithPrecision(size, 3)`: decimal units, three significant digits.
pub fn human_size(size: f64) -> String {
    human_size_precision(size, 3)
}

/// `units.BytesSize`: binary units, four significant digits (`docker stats`, `info`).
pub fn bytes_size(size: f64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut size = size;
    let mut i = 0;
    while size >= 1024.0 && i < UNITS.len() - 1 {
        size /= 1024.0;
        i += 1;
    }
    format!("{}{}", go_g(size, 4), UNITS[i])
}

/// `units.HumanDuration(d) + " ago"`, the age columns of `ps` and `images`.
pub fn ago(now_secs: i64, then_secs: i64) -> String {
    format!("{} ago", human_duration((now_secs - then_secs).max(0) * 1_000_000_000))
}

/// Go's `time.Time.String()` for a Unix time in UTC: `2006-01-02 15:04:05 +0000 UTC`.
pub fn go_time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_dockers() {
        for (n, want) in [
            (0.0, "0B"),
            (123.0, "123B"),
            (1000.0, "1kB"),
            (1234.0, "1.23kB"),
            (4_262_912.0, "4.26MB"),
            (999_999.0, "1e+03kB"),
            (2_000_000_000.0, "2GB"),
        ] {
            assert_eq!(human_size(n), want, "{n}");
        }
        assert_eq!(bytes_size(1536.0), "1.5KiB");
        assert_eq!(bytes_size(0.0), "0B");
        assert_eq!(bytes_size(64.0 * 1024.0 * 1024.0), "64MiB");
    }

    #[test]
    fn ram_sizes_parse_as_dockers() {
        for (t, want) in [
            ("4g", Some(4 << 30)),
            ("512m", Some(512 << 20)),
            ("1.5GB", Some(3 << 29)),
            ("100", Some(100)),
            ("12x", None),
            ("", None),
            ("m", None),
        ] {
            assert_eq!(ram_in_bytes(t), want, "{t}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(go_time(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(ago(100, 40), "About a minute ago");
    }
}
