//! Micro-benchmark of mmcount's counting kernels: `Spec::count` on one thread over an in-memory buffer
//! of prose-like bytes (256 MiB by default, so it streams from RAM, not cache), printing GB/s per kernel.
//!
//! `cargo bench --bench kernels [-- NAME...]` runs the kernels whose names contain one of the NAMEs
//! (all by default). `KERNELS_MIB` sets the buffer size in MiB, `KERNELS_ITERS` the timed iterations.
//! A "floor" kernel (summing the buffer as u64 words) shows how fast one core streams the buffer at all.
//! No benchmark framework: std::time::Instant and a median, so the crate gains no dependency.

use std::hint::black_box;
use std::time::{Duration, Instant};

use mmtools::count::Spec;

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}")),
        Err(_) => default,
    }
}

/// Prose-like bytes: lower-case words of 1 to 10 letters, single spaces, a newline every few words.
fn prose(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::with_capacity(len + 16);
    let mut words_in_line = 0;
    while out.len() < len {
        let r = next();
        for i in 0..=(r % 10) {
            out.push(b'a' + ((r >> (8 + 4 * i)) % 26) as u8);
        }
        words_in_line += 1;
        if words_in_line >= 6 + (r >> 60) {
            out.push(b'\n');
            words_in_line = 0;
        } else {
            out.push(b' ');
        }
    }
    out.truncate(len);
    out
}

/// The slowest honest reader: sum the buffer as little-endian u64 words.
fn floor(bytes: &[u8]) -> u64 {
    bytes
        .chunks_exact(8)
        .map(|w| u64::from_le_bytes(w.try_into().unwrap()))
        .fold(0u64, u64::wrapping_add)
}

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mib = env_usize("KERNELS_MIB", 256);
    let iters = env_usize("KERNELS_ITERS", 7).max(1);
    let data = prose(mib << 20);

    let spec = |f: fn(&mut Spec)| {
        let mut s = Spec::default();
        f(&mut s);
        s
    };
    let kernels: Vec<(&str, Option<Spec>)> = vec![
        ("floor (u64 sum)", None),
        ("spaces", Some(spec(|s| s.spaces = true))),
        ("lines", Some(spec(|s| s.lines = true))),
        ("blanks", Some(spec(|s| s.blanks = true))),
        ("whitespace", Some(spec(|s| s.whitespace = true))),
        ("words", Some(spec(|s| s.words = true))),
        (
            "chars (UTF-8)",
            Some(spec(|s| {
                s.chars = true;
                s.encoding = mmtools::count::Encoding::Utf8;
            })),
        ),
        ("max line (C)", Some(spec(|s| s.max_line = true))),
        (
            "all",
            Some(Spec {
                lines: true,
                words: true,
                spaces: true,
                blanks: true,
                whitespace: true,
                bytes: true,
                byte_values: vec![b'e'],
                ..Spec::default()
            }),
        ),
    ];

    println!(
        "kernels: one thread, {mib} MiB buffer, {iters} iterations after one warm-up; median and best"
    );
    println!(
        "{:<16} {:>10} {:>10} {:>9} {:>9}",
        "kernel", "median", "best", "GB/s", "best GB/s"
    );
    for (name, spec) in &kernels {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let run = || match spec {
            Some(s) => {
                let c = s.count(black_box(&data));
                c.lines ^ c.words ^ c.spaces ^ c.blanks ^ c.whitespace
            }
            None => floor(black_box(&data)),
        };
        black_box(run());
        let mut times: Vec<Duration> = (0..iters)
            .map(|_| {
                let start = Instant::now();
                black_box(run());
                start.elapsed()
            })
            .collect();
        times.sort();
        let median = times[times.len() / 2];
        let best = times[0];
        let gbps = |d: Duration| data.len() as f64 / d.as_secs_f64() / 1e9;
        println!(
            "{:<16} {:>8.1}ms {:>8.1}ms {:>9.2} {:>9.2}",
            name,
            median.as_secs_f64() * 1e3,
            best.as_secs_f64() * 1e3,
            gbps(median),
            gbps(best)
        );
    }
}
