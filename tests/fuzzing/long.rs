//! The long fuzzing run: `cargo run --release --example fuzz -- [INPUTS] [SEED]` (default ten
//! million inputs, seed 1), spread over the machine's cores. Prints the inputs per target,
//! the slowest input, and every panic with the index that reproduces it; exits 1 on a panic
//! or an input slower than a second. See tests/fuzzing/harness.rs.

#[path = "harness.rs"]
mod harness;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

/// This process's resident memory, from `/proc/self/statm`.
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // `show INDEX [SEED]`: print one input (to reproduce a finding) and its target
    if args.get(1).is_some_and(|a| a == "show") {
        let i: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(0);
        let seed: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1);
        let input = harness::input(seed, i, &harness::seeds(root));
        eprintln!("target: {:?}", input.target);
        print!("{}", input.text);
        return;
    }
    let total: u64 = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let seed: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1);
    let seeds = harness::seeds(root);
    std::panic::set_hook(Box::new(|_| {})); // panics are counted, not printed one by one
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let started = std::time::Instant::now();
    let current: Vec<AtomicU64> = (0..threads).map(|_| AtomicU64::new(0)).collect();
    let finished = AtomicBool::new(false);
    let tallies: Vec<harness::Tally> = std::thread::scope(|s| {
        // the watchdog: an input that takes a second, or memory past 2 GiB, is named and ends
        // the run (a runaway input would otherwise take the machine's memory)
        s.spawn(|| {
            let mut last: Vec<(u64, Instant)> =
                current.iter().map(|c| (c.load(Relaxed), Instant::now())).collect();
            while !finished.load(Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                let rss = resident_bytes();
                for (t, c) in current.iter().enumerate() {
                    let now = c.load(Relaxed);
                    if now == u64::MAX {
                        continue;
                    }
                    if now != last[t].0 {
                        last[t] = (now, Instant::now());
                    }
                    let stuck = last[t].1.elapsed() > Duration::from_secs(2);
                    if stuck {
                        println!(
                            "fuzz: input #{now} (seed {seed}) runs for more than 2 s — reproduce with `show {now} {seed}`"
                        );
                        std::process::exit(1);
                    }
                    if rss > 2 << 30 {
                        // any thread's input may be the one: name every input being read
                        let all: Vec<String> = current
                            .iter()
                            .map(|c| c.load(Relaxed))
                            .filter(|n| *n != u64::MAX)
                            .map(|n| format!("#{n}"))
                            .collect();
                        println!(
                            "fuzz: the memory went past 2 GiB while reading input {} (seed {seed}) — reproduce with `show N {seed}`",
                            all.join(" or ")
                        );
                        std::process::exit(1);
                    }
                }
            }
        });
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (seeds, current) = (&seeds, &current[t as usize]);
                let (from, to) = (total * t / threads, total * (t + 1) / threads);
                s.spawn(move || {
                    let tally = harness::run_watched(seed, from, to, seeds, current);
                    current.store(u64::MAX, Relaxed); // done: nothing for the watchdog to watch
                    tally
                })
            })
            .collect();
        let out = handles.into_iter().map(|h| h.join().unwrap()).collect();
        finished.store(true, Relaxed);
        out
    });
    let mut inputs = 0;
    let mut per = [0u64; 5];
    let mut slowest = (Duration::ZERO, 0);
    let mut panics = Vec::new();
    for t in tallies {
        inputs += t.inputs;
        for (a, b) in per.iter_mut().zip(t.per_target) {
            *a += b;
        }
        if t.slowest.0 > slowest.0 {
            slowest = t.slowest;
        }
        panics.extend(t.panics);
    }
    println!(
        "fuzz: {inputs} inputs (seed {seed}) in {:.1} s on {threads} thread(s)",
        started.elapsed().as_secs_f64()
    );
    for (target, n) in harness::TARGETS.iter().zip(per) {
        println!("  {target:?}: {n}");
    }
    println!(
        "  slowest input: #{} in {:.1} ms",
        slowest.1,
        slowest.0.as_secs_f64() * 1e3
    );
    println!("  panics: {}", panics.len());
    for (i, what) in panics.iter().take(20) {
        println!("    #{i}: {what}");
    }
    if !panics.is_empty() || slowest.0 > Duration::from_secs(1) {
        std::process::exit(1);
    }
}
