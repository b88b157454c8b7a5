//! Times `photo::process` in-process on one file: the native figure the web
//! app's benchmark (`tests/browser/bench.mjs`) sets beside the same photo
//! processed by the same code compiled to WebAssembly in a browser worker.
//!
//! ```text
//! cargo run --release -p anfang-core --example photo_time -- PHOTO.jpg [RUNS]
//! ```
//!
//! Prints one line: `median_ms=… min_ms=… runs=… out=WxH bytes=…`.

use anfang_core::photo::{PhotoOptions, process};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: photo_time PHOTO.jpg [RUNS]");
    let runs: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(5);
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let opts = PhotoOptions::default();
    // One warm-up, like the browser side (which warms up its wasm too).
    let first = process(&data, &opts).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let p = process(&data, &opts).expect("processed once already");
            std::hint::black_box(p);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    println!(
        "median_ms={:.1} min_ms={:.1} runs={runs} out={}x{} bytes={} sha256={}",
        ms[ms.len() / 2],
        ms[0],
        first.width,
        first.height,
        first.jpeg.len(),
        first.sha256
    );
}
