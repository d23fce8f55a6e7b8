//! The work of the normalize benchmarks (`benches/normalize.rs`) done a fixed number of times,
//! for counting instructions under valgrind's callgrind rather than timing: the count does not
//! move with the machine's load, so two builds can be told apart by less than this machine's
//! timing noise (±15–30%). Only what runs inside [`counted`] is counted (callgrind's
//! `--toggle-collect`), not the setup. `scripts/bench-instructions.sh` runs it for two builds.
//!
//! Usage: bench_count normalize|compare|check ROWS TIMES

#[path = "../benches/common/work.rs"]
mod work;

use labrun::compare::compare;
use labrun::normalize::{Line, Normalizer};

/// One round of `what`: all that is counted.
#[inline(never)]
fn counted(what: &str, norm: &Normalizer, a: &str, b: &str, la: &[Line], lb: &[Line]) -> usize {
    match what {
        "normalize" => norm.lines(a, work::COMMAND).len(),
        "compare" => {
            let c = compare(norm, la, lb, false);
            assert!(c.pass, "{:?}", c.reason);
            c.pairs.len()
        }
        _ => work::check_step(norm, a, b),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, what, rows, times] = &args[..] else {
        eprintln!("usage: bench_count normalize|compare|check ROWS TIMES");
        std::process::exit(2);
    };
    if !["normalize", "compare", "check"].contains(&what.as_str()) {
        eprintln!("unknown work `{what}`: normalize, compare or check");
        std::process::exit(2);
    }
    let rows: usize = rows.parse().expect("ROWS is a number");
    let times: usize = times.parse().expect("TIMES is a number");
    let norm = Normalizer::default();
    let (a, b) = (work::pods(rows, 1), work::pods(rows, 2));
    let (la, lb) = (norm.lines(&a, ""), norm.lines(&b, ""));
    let mut kept = 0usize;
    for _ in 0..times {
        kept += std::hint::black_box(counted(what, &norm, &a, &b, &la, &lb));
    }
    println!("{kept}");
}
