//! The process's resident memory (Linux `/proc/self/status`; `None` elsewhere), in MiB.

fn status_mb(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Peak resident memory so far (VmHWM).
pub fn peak_rss_mb() -> Option<f64> {
    status_mb("VmHWM:")
}

/// Resident memory now (VmRSS).
pub fn rss_mb() -> Option<f64> {
    status_mb("VmRSS:")
}
