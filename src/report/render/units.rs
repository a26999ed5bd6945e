//! Durations and sizes as people read them, the same in every format.

/// A duration: `850 µs`, `12.3 ms`, `2.07 s`, `3 min 12 s`.
pub fn seconds(s: f64) -> String {
    if !s.is_finite() {
        return "–".into();
    }
    if s < 0.001 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1000.0)
    } else if s < 120.0 {
        format!("{s:.2} s")
    } else {
        format!("{} min {:.0} s", (s / 60.0).floor(), s % 60.0)
    }
}

/// A latency given in milliseconds, as [`seconds`] writes it.
pub fn millis(ms: f64) -> String {
    seconds(ms / 1000.0)
}

/// Bytes in B/kB/MB/GB (powers of 1000).
pub fn bytes(b: f64) -> String {
    match b {
        b if !b.is_finite() => "–".into(),
        b if b < 1e3 => format!("{b:.0} B"),
        b if b < 1e6 => format!("{:.1} kB", b / 1e3),
        b if b < 1e9 => format!("{:.1} MB", b / 1e6),
        b => format!("{:.2} GB", b / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_read_well() {
        assert_eq!(seconds(0.000_5), "500 µs");
        assert_eq!(seconds(0.0123), "12.3 ms");
        assert_eq!(seconds(2.071), "2.07 s");
        assert_eq!(seconds(192.0), "3 min 12 s");
        assert_eq!(seconds(f64::INFINITY), "–");
        assert_eq!(millis(2490.0), "2.49 s");
        assert_eq!(bytes(59_500.0), "59.5 kB");
        assert_eq!(bytes(4.57e9), "4.57 GB");
    }
}
