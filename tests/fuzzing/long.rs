//! The long fuzzing run: `cargo run --release --example fuzz -- [INPUTS] [SEED]` (default ten
//! million inputs, seed 1), spread over the machine's cores. Prints the inputs per target,
//! the slowest input, and every panic with the index that reproduces it; exits 1 on a panic
//! or an input slower than a second. See tests/fuzzing/harness.rs.

#[path = "harness.rs"]
mod harness;

use std::time::Duration;

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
    let tallies: Vec<harness::Tally> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let seeds = &seeds;
                let (from, to) = (total * t / threads, total * (t + 1) / threads);
                s.spawn(move || harness::run(seed, from, to, seeds))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
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
