//! Benchmarks the photo pipeline against libvips and ImageMagick.
//!
//! ```text
//! cargo run --release -p anfang-core --example photo_bench -- [PATH]
//! ```
//!
//! PATH is a phone-style JPEG (default `/tmp/anfang-bench-12mp-orient6.jpg`).
//! If the default file is missing it is made from the Debian `mate-backgrounds`
//! wallpaper `Elephants_5640x3172.jpg`: cropped to 4032×3024 (12 megapixels,
//! 4:3 like a phone camera), baseline, 4:2:0, quality 92, then EXIF
//! Orientation=6 plus fake Make/Model/GPS tags added, i.e.
//!
//! ```text
//! convert Elephants_5640x3172.jpg -resize '4032x3024^' -gravity center -extent 4032x3024 \
//!     -sampling-factor 2x2 -quality 92 -interlace none /tmp/anfang-bench-12mp-orient6.jpg
//! exiftool -overwrite_original -Orientation#=6 -Make=FakePhoneMaker -Model=FakePhone12 \
//!     -GPSLatitude=31.2 -GPSLatitudeRef=N -GPSLongitude=107.5 -GPSLongitudeRef=E \
//!     /tmp/anfang-bench-12mp-orient6.jpg
//! ```
//!
//! Each contender runs as its own process (ours too: the example re-invokes
//! itself with `--one INPUT OUTPUT`), so wall time and peak RSS are
//! whole-process figures measured the same way for all: wall time by the
//! clock around the child, peak RSS (`ru_maxrss`) by GNU `/usr/bin/time -f %M`.
//! Every contender gets one warm-up run, then 5 timed runs, taken in turn
//! (round-robin); the median wall time and the largest peak RSS are printed.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anfang_core::photo::{PhotoOptions, process};

const DEFAULT_INPUT: &str = "/tmp/anfang-bench-12mp-orient6.jpg";
const RUNS: usize = 5;
const GNU_TIME: &str = "/usr/bin/time";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--one") {
        return one(&args[1..]);
    }
    let input = match args.first() {
        Some(p) => PathBuf::from(p),
        None => match default_input() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("photo_bench: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    if !input.is_file() {
        eprintln!("photo_bench: {} is not a file", input.display());
        return ExitCode::FAILURE;
    }
    bench(&input);
    ExitCode::SUCCESS
}

/// `--one INPUT OUTPUT`: one run of the pipeline, as a whole process.
fn one(args: &[String]) -> ExitCode {
    let [input, output] = args else {
        eprintln!("usage: photo_bench --one INPUT OUTPUT");
        return ExitCode::FAILURE;
    };
    let data = match std::fs::read(input) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{input}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let opts = PhotoOptions { max_long_edge: 2048, quality: 85, ..PhotoOptions::default() };
    match process(&data, &opts) {
        Ok(photo) => {
            drop(data);
            if let Err(e) = std::fs::write(output, &photo.jpeg) {
                eprintln!("{output}: {e}");
                return ExitCode::FAILURE;
            }
            println!(
                "{}x{} {} bytes, thumbnail {} bytes",
                photo.width,
                photo.height,
                photo.jpeg.len(),
                photo.thumbnail.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{input}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn default_input() -> Result<PathBuf, String> {
    let path = PathBuf::from(DEFAULT_INPUT);
    if path.is_file() {
        return Ok(path);
    }
    let source = ["abstract", "nature", "desktop"]
        .iter()
        .map(|d| PathBuf::from(format!("/usr/share/backgrounds/mate/{d}/Elephants_5640x3172.jpg")))
        .find(|p| p.is_file())
        .ok_or("no input given and Elephants_5640x3172.jpg not found (apt-get install mate-backgrounds, or pass a JPEG path)")?;
    eprintln!("making {} from {} ...", path.display(), source.display());
    let tmp = path.with_extension("tmp.jpg");
    run_ok(
        Command::new("convert")
            .arg(&source)
            .args([
                "-resize",
                "4032x3024^",
                "-gravity",
                "center",
                "-extent",
                "4032x3024",
                "-sampling-factor",
                "2x2",
                "-quality",
                "92",
                "-interlace",
                "none",
            ])
            .arg(&tmp),
    )
    .map_err(|e| format!("convert (ImageMagick) failed: {e}"))?;
    run_ok(
        Command::new("exiftool")
            .args([
                "-q",
                "-overwrite_original",
                "-Orientation#=6",
                "-Make=FakePhoneMaker",
                "-Model=FakePhone12",
                "-GPSLatitude=31.2",
                "-GPSLatitudeRef=N",
                "-GPSLongitude=107.5",
                "-GPSLongitudeRef=E",
            ])
            .arg(&tmp),
    )
    .map_err(|e| format!("exiftool failed: {e}"))?;
    std::fs::rename(&tmp, &path).map_err(|e| e.to_string())?;
    Ok(path)
}

fn run_ok(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| e.to_string())?;
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).trim().to_owned()) }
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
}

struct Figures {
    median_wall: f64,
    peak_rss_mib: Option<f64>,
    output_bytes: u64,
}

fn bench(input: &Path) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("machine: {cpu}, nproc {nproc}");
    let size = std::fs::metadata(input).map(|m| m.len()).unwrap_or(0);
    println!("input:   {} ({:.1} MiB)", input.display(), size as f64 / 1048576.0);
    println!("task:    long edge 2048, JPEG quality 85, EXIF orientation applied, metadata stripped");
    let have_time = Path::new(GNU_TIME).is_file();
    if !have_time {
        println!("note:    {GNU_TIME} not found (apt-get install time): peak RSS not measured");
    }
    println!("{RUNS} runs each (round-robin) after one warm-up; median wall time, largest peak RSS\n");

    let dir = std::env::temp_dir().join(format!("photo_bench.{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let me = std::env::current_exe().expect("own path");
    let inp = input.to_string_lossy().into_owned();

    let ours_out = dir.join("ours.jpg");
    let vips_out = dir.join("vips.jpg");
    let magick_out = dir.join("magick.jpg");
    let contenders: Vec<(&str, Option<Vec<String>>, &Path, &str)> = vec![
        (
            "ours (anfang-core photo::process)",
            Some(vec![
                me.to_string_lossy().into_owned(),
                "--one".into(),
                inp.clone(),
                ours_out.to_string_lossy().into_owned(),
            ]),
            &ours_out,
            "",
        ),
        (
            "vipsthumbnail (libvips)",
            on_path("vipsthumbnail").then(|| {
                vec![
                    "vipsthumbnail".into(),
                    inp.clone(),
                    "-s".into(),
                    "2048x2048".into(),
                    "-o".into(),
                    format!("{}[Q=85,strip]", vips_out.display()),
                ]
            }),
            &vips_out,
            "not installed (apt-get install libvips-tools)",
        ),
        (
            "ImageMagick convert",
            on_path("convert").then(|| {
                vec![
                    "convert".into(),
                    inp.clone(),
                    "-auto-orient".into(),
                    "-resize".into(),
                    "2048x2048".into(),
                    "-strip".into(),
                    "-quality".into(),
                    "85".into(),
                    magick_out.to_string_lossy().into_owned(),
                ]
            }),
            &magick_out,
            "not installed (apt-get install imagemagick)",
        ),
    ];

    // Round-robin (ours, vips, magick, ours, ...) so that a noisy neighbour
    // on a shared machine hurts every contender alike.
    let runnable: Vec<Option<Vec<String>>> = contenders.iter().map(|c| c.1.clone()).collect();
    let measured = measure_all(&runnable, have_time, &dir);

    println!("{:<36} {:>10} {:>14} {:>12}", "", "wall (s)", "peak RSS (MiB)", "output (KiB)");
    let mut results = Vec::new();
    for ((name, cmd, out, missing), m) in contenders.into_iter().zip(measured) {
        if cmd.is_none() {
            println!("{name:<36} {missing}");
            results.push(None);
            continue;
        }
        match m {
            Ok(mut f) => {
                f.output_bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
                let rss = f.peak_rss_mib.map_or("n/a".to_owned(), |m| format!("{m:.1}"));
                println!("{name:<36} {:>10.3} {:>14} {:>12.0}", f.median_wall, rss, f.output_bytes as f64 / 1024.0);
                results.push(Some(f));
            }
            Err(e) => {
                println!("{name:<36} failed: {e}");
                results.push(None);
            }
        }
    }
    println!();
    match (&results[0], &results[1]) {
        (Some(ours), Some(vips)) => {
            println!("ours / vipsthumbnail: time {:.2}×", ours.median_wall / vips.median_wall);
            if let (Some(a), Some(b)) = (ours.peak_rss_mib, vips.peak_rss_mib) {
                println!("ours / vipsthumbnail: peak RSS {:.2}×", a / b);
            }
        }
        _ => println!("ours / vipsthumbnail: not available"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs every available command once as a warm-up, then `RUNS` rounds of
/// each in turn.
fn measure_all(cmds: &[Option<Vec<String>>], have_time: bool, dir: &Path) -> Vec<Result<Figures, String>> {
    let mut walls: Vec<Vec<f64>> = vec![Vec::new(); cmds.len()];
    let mut peaks: Vec<Option<f64>> = vec![None; cmds.len()];
    let mut failed: Vec<Option<String>> = vec![None; cmds.len()];
    for round in 0..=RUNS {
        for (i, cmd) in cmds.iter().enumerate() {
            let Some(cmd) = cmd else { continue };
            if failed[i].is_some() {
                continue;
            }
            match run_once(cmd, have_time, dir) {
                Ok((wall, rss)) if round > 0 => {
                    walls[i].push(wall);
                    if let Some(mib) = rss {
                        peaks[i] = Some(peaks[i].map_or(mib, |p: f64| p.max(mib)));
                    }
                }
                Ok(_) => {} // warm-up: page cache, dynamic linker
                Err(e) => failed[i] = Some(e),
            }
        }
    }
    (0..cmds.len())
        .map(|i| {
            if let Some(e) = failed[i].take() {
                return Err(e);
            }
            let mut w = std::mem::take(&mut walls[i]);
            if w.is_empty() {
                return Err("not run".to_owned());
            }
            w.sort_by(f64::total_cmp);
            Ok(Figures { median_wall: w[w.len() / 2], peak_rss_mib: peaks[i], output_bytes: 0 })
        })
        .collect()
}

/// One run: wall seconds and, with GNU time, peak RSS in MiB.
fn run_once(cmd: &[String], have_time: bool, dir: &Path) -> Result<(f64, Option<f64>), String> {
    let rss_file = dir.join("rss.txt");
    let mut c = if have_time {
        let mut c = Command::new(GNU_TIME);
        c.arg("-f").arg("%M").arg("-o").arg(&rss_file).args(cmd);
        c
    } else {
        let mut c = Command::new(&cmd[0]);
        c.args(&cmd[1..]);
        c
    };
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    let start = Instant::now();
    let output = c.output().map_err(|e| format!("{}: {e}", cmd[0]))?;
    let wall = start.elapsed().as_secs_f64();
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).trim().to_owned());
    }
    let rss = if have_time {
        let kib: f64 = std::fs::read_to_string(&rss_file)
            .ok()
            .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()))
            .ok_or("could not read /usr/bin/time output")?;
        Some(kib / 1024.0)
    } else {
        None
    };
    Ok((wall, rss))
}
