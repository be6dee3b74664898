//! How the benchmarks measure: one child process's wall time and peak RSS (`wait4`),
//! this process's own peak, medians, and the scratch folder.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// One measured process run.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub wall: Duration,
    /// Peak resident set size in bytes (of the largest process in the tree that was waited for).
    pub peak_rss: u64,
    /// User plus system CPU time of the child and every descendant it waited for.
    pub cpu: Duration,
}

/// The benchmark's scratch folder: `--work-dir DIR` (created, and kept afterwards), else
/// the temporary folder `temp` (removed when it drops).
pub fn work_dir(keep: Option<&Path>, temp: &tempfile::TempDir) -> Result<PathBuf> {
    match keep {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            Ok(dir.to_path_buf())
        }
        None => Ok(temp.path().to_path_buf()),
    }
}

/// Spawn `cmd`, wait for it with `wait4` and return its wall time and peak RSS.
pub fn run_measured(cmd: &mut std::process::Command) -> Result<Sample> {
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("starting {:?}", cmd.get_program()))?;
    let stderr = child.stderr.take();
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet reaped; the pointers are valid for the call.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    if reaped != pid {
        bail!("waiting for {:?}: {}", cmd.get_program(), std::io::Error::last_os_error());
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let mut message = String::new();
        if let Some(mut stderr) = stderr {
            use std::io::Read as _;
            let _ = stderr.read_to_string(&mut message);
        }
        bail!("{:?} failed (status {status}): {}", cmd.get_program(), message.trim());
    }
    let seconds = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    // Linux reports ru_maxrss in KiB.
    Ok(Sample { wall, peak_rss: usage.ru_maxrss as u64 * 1024, cpu: seconds(usage.ru_utime) + seconds(usage.ru_stime) })
}

/// This process's own peak RSS in bytes (`VmHWM` of its address space; `getrusage` would
/// also count what `cargo run` used before it exec'd us).
pub fn self_peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] }
}

pub fn median_ms(samples: &[Sample]) -> f64 {
    median(samples.iter().map(|s| s.wall.as_secs_f64() * 1000.0).collect())
}

pub fn median_mb(samples: &[Sample]) -> f64 {
    median(samples.iter().map(|s| s.peak_rss as f64 / 1e6).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
