//! Docker's number formatting (go-units and Go's `%g`), shared by the daemon's progress
//! messages and the command line's tables.

/// `units.HumanSizeWithPrecision`; `units.HumanSize` is precision 4.
pub fn human_size_precision(size: f64, precision: usize) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = size;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g(size, precision), UNITS[i])
}

/// Go's `strconv.FormatFloat(v, 'g', precision, 64)`: `precision` significant digits, trailing
/// zeros dropped, an exponent when it is below -4 or at least the precision.
pub fn go_g(v: f64, precision: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let sci = format!("{:.*e}", precision.saturating_sub(1), v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= precision as i32 {
        let m = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", exp.abs());
    }
    let decimals = (precision as i32 - 1 - exp).max(0) as usize;
    trim_zeros(&format!("{v:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// `units.RAMInBytes`: `4g`, `512m`, `1.5GB`, `100` (bytes); binary multiples.
pub fn ram_in_bytes(text: &str) -> Option<i64> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024f64.powi(4),
        "p" | "pb" | "pib" => 1024f64.powi(5),
        _ => return None,
    };
    Some((n * mult) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_g_formats() {
        for (v, p, want) in [
            (4.262912, 3, "4.26"),
            (1.0, 3, "1"),
            (0.0001234, 3, "0.000123"),
            (0.00001234, 3, "1.23e-05"),
            (12.5, 4, "12.5"),
        ] {
            assert_eq!(go_g(v, p), want, "{v}");
        }
    }

    #[test]
    fn human_sizes_have_four_digits_by_default() {
        for (n, want) in [(524288.0, "524.3kB"), (2159616.0, "2.16MB"), (999.0, "999B"), (0.0, "0B")] {
            assert_eq!(human_size_precision(n, 4), want, "{n}");
        }
    }
}
