//! CPU time and memory of processes on this machine, from `/proc` (Linux):
//! the server's processes, given by pid, and the load tool itself.

use std::time::Duration;

/// What one process used over the measured interval.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Usage {
    pub label: String,
    pub pid: u32,
    /// User + system CPU seconds over the interval (0 when `ended`).
    pub cpu_s: f64,
    /// The process was gone at the end (killed, or restarted under a new
    /// pid), so its CPU time is unknown.
    pub ended: bool,
    /// `cpu_s` over the interval's wall time: 1.0 is one core busy throughout.
    pub cores: f64,
    /// Highest resident memory seen while sampling, MiB.
    pub peak_rss_mib: f64,
}

/// User + system CPU time of `pid` so far, or `None` if it is gone.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields start after its ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_secs_f64(ticks as f64 / USER_HZ))
}

/// The unit of /proc's CPU times: 100 on every Linux architecture the
/// server targets, whatever the kernel's CONFIG_HZ.
const USER_HZ: f64 = 100.0;

/// Resident memory of `pid` now, MiB.
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches(" kB").trim().parse().ok()?;
    Some(kb / 1024.0)
}

/// Samples the given processes' memory every `every` until told to stop,
/// and reports CPU and peak memory over that time.
pub struct Sampler {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<Vec<Usage>>,
}

impl Sampler {
    pub fn start(processes: Vec<(String, u32)>, every: Duration) -> Self {
        let (stop, stopped) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let cpu0: Vec<Option<Duration>> = processes.iter().map(|(_, pid)| cpu_time(*pid)).collect();
            let mut peak = vec![0.0f64; processes.len()];
            loop {
                for (i, (_, pid)) in processes.iter().enumerate() {
                    peak[i] = peak[i].max(rss_mib(*pid).unwrap_or(0.0));
                }
                if stopped.recv_timeout(every).is_ok() {
                    break;
                }
            }
            let wall = started.elapsed().as_secs_f64();
            processes
                .into_iter()
                .enumerate()
                .map(|(i, (label, pid))| {
                    let (cpu_s, ended) = match (cpu0[i], cpu_time(pid)) {
                        (Some(a), Some(b)) => ((b - a).as_secs_f64(), false),
                        _ => (0.0, true),
                    };
                    Usage { label, pid, cpu_s, ended, cores: cpu_s / wall.max(1e-9), peak_rss_mib: peak[i] }
                })
                .collect()
        });
        Sampler { stop, thread }
    }

    pub fn finish(self) -> Vec<Usage> {
        let _ = self.stop.send(());
        self.thread.join().unwrap_or_default()
    }
}

/// CPU model and core count.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!("{cpu}, {cores} cores")
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
