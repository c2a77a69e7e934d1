//! Human units for sizes and times: 3 significant digits (`1.50 MB`, `412 KB`, `96 B`, `45.6 ms`). Shared by the trace lines, the REPL, `--alloc-sites` and `loam bench`.

/// A time with 3 significant digits: `1.23 s`, `45.6 ms`, `789 µs`.
pub fn time(secs: f64) -> String {
    let (v, unit) = if secs >= 0.9995 {
        (secs, "s")
    } else if secs >= 0.9995e-3 {
        (secs * 1e3, "ms")
    } else {
        (secs * 1e6, "µs")
    };
    format!("{} {unit}", sig3(v))
}

/// Bytes in B, KB, MB or GB (powers of 1024), 3 significant digits.
pub fn bytes(n: u64) -> String {
    let n = n as f64;
    let (v, unit) = if n >= 0.9995 * (1u64 << 30) as f64 {
        (n / (1u64 << 30) as f64, "GB")
    } else if n >= 0.9995 * (1u64 << 20) as f64 {
        (n / (1u64 << 20) as f64, "MB")
    } else if n >= 0.9995 * 1024.0 {
        (n / 1024.0, "KB")
    } else {
        return format!("{n} B");
    };
    format!("{} {unit}", sig3(v))
}

/// `1 object`, `2 objects`: a count with the noun in the number it needs.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub fn sig3(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    // Rounding first, so that 99.96 becomes "100" rather than "100.0".
    let digits = v.abs().log10().floor() as i32;
    let r = {
        let p = 10f64.powi(2 - digits);
        (v * p).round() / p
    };
    let digits = r.abs().log10().floor() as i32;
    format!("{r:.*}", (2 - digits).max(0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_have_three_significant_digits() {
        assert_eq!(time(1.23456), "1.23 s");
        assert_eq!(time(0.0456), "45.6 ms");
        assert_eq!(time(0.000789), "789 µs");
        assert_eq!(time(123.4), "123 s");
        assert_eq!(time(0.9999), "1.00 s");
        assert_eq!(time(0.0), "0 µs");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes((1 << 20) - 1), "1.00 MB");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.50 KB");
        assert_eq!(bytes(25 << 20), "25.0 MB");
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(96), "96 B");
        assert_eq!(bytes(3 << 30), "3.00 GB");
        assert_eq!(count(1, "object", "objects"), "1 object");
        assert_eq!(count(0, "object", "objects"), "0 objects");
        assert_eq!(count(7, "object", "objects"), "7 objects");
    }
}
