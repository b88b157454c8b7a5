//! `anfang-load`: see the library's documentation, or `anfang-load --help`.

use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// Simulates many inspectors' devices syncing a day's findings with photos
/// at once against an Anfang server on this machine, through the real sync
/// engine, and prints per-request latency percentiles, throughput, errors
/// and the CPU and memory of the processes given with --watch. It adds
/// inspectors and findings: use a test installation only.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The server's address (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Office admin who adds the devices' inspectors.
    #[arg(long, default_value = "admin")]
    admin: String,
    /// File holding the admin's password: the password alone, or a
    /// `password …` line (as `serve --demo` writes demo-credentials.txt).
    /// Or set ANFANG_LOAD_PASSWORD.
    #[arg(long)]
    password_file: Option<PathBuf>,
    #[arg(long, default_value_t = 100)]
    devices: usize,
    /// Findings each device records before it syncs (a day's work).
    #[arg(long, default_value_t = 20)]
    findings: usize,
    #[arg(long, default_value_t = 3)]
    photos: usize,
    /// Long edge of the camera photos, before the phone's pipeline.
    #[arg(long, default_value_t = 2048)]
    photo_edge: u32,
    /// Devices syncing at the same moment; all of them by default.
    #[arg(long)]
    concurrency: Option<usize>,
    /// OS threads the simulated devices run on; one per core by default.
    #[arg(long)]
    threads: Option<usize>,
    /// Stop the load after this many seconds.
    #[arg(long, default_value_t = 1800)]
    max_duration: u64,
    /// Folder for the devices' stores (a temporary folder inside it).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// A process to measure, as LABEL=PID (repeat for each server instance).
    #[arg(long, value_parser = parse_watch)]
    watch: Vec<(String, u32)>,
    /// Also write the figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn parse_watch(s: &str) -> Result<(String, u32), String> {
    let (label, pid) = s.split_once('=').ok_or_else(|| format!("{s:?}: expected LABEL=PID, e.g. server=12345"))?;
    let pid = pid.parse().map_err(|_| format!("{pid:?} is not a process id"))?;
    Ok((label.to_owned(), pid))
}

fn password(args: &Args) -> anyhow::Result<String> {
    if let Some(path) = &args.password_file {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let line =
            text.lines().find_map(|l| l.strip_prefix("password ")).unwrap_or(text.trim_end_matches(['\n', '\r']));
        return Ok(line.to_owned());
    }
    std::env::var("ANFANG_LOAD_PASSWORD")
        .context("give the admin's password with --password-file or ANFANG_LOAD_PASSWORD")
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let options = anfang_load::Options {
        server: args.server.clone(),
        admin_username: args.admin.clone(),
        admin_password: password(&args)?,
        devices: args.devices,
        findings_per_device: args.findings,
        photos_per_finding: args.photos,
        photo_edge: args.photo_edge,
        concurrency: args.concurrency.unwrap_or(args.devices),
        threads: args.threads.unwrap_or(cores),
        max_duration: Duration::from_secs(args.max_duration),
        work_dir: args.work_dir.clone(),
        watch: args.watch.clone(),
    };
    options.check()?;
    println!("machine: {}; load average {}", anfang_load::procstat::machine(), anfang_load::procstat::load_average());
    let fleet = anfang_load::Fleet::set_up(&options)?;
    // Scripts wait for this line (e.g. to start killing a server only once
    // the devices are enrolled and hold their day's work).
    println!("setup done; load starting");
    std::io::Write::flush(&mut std::io::stdout())?;
    let load = fleet.load()?;
    let report = fleet.check(load)?;
    report.print();
    println!("load average at the end: {}", anfang_load::procstat::load_average());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if report.errors() > 0 {
        std::process::exit(1);
    }
    Ok(())
}
