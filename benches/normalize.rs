//! Normalization plus comparison on a large output: a synthetic `kubectl get pods -A -o wide`
//! of 100 000 rows against a second one in which every volatile value differs; and the cost
//! curve of checking one such step (both tables masked, compared, bound) from 1 000 to
//! 100 000 rows, in bytes per second: a flat throughput is a linear cost.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use labrun::compare::compare;
use labrun::normalize::Normalizer;

#[path = "common/work.rs"]
mod work;
use work::{check_step, pods};

fn bench(c: &mut Criterion) {
    let norm = Normalizer::default();
    let a = pods(100_000, 1);
    let b = pods(100_000, 2);
    let mut g = c.benchmark_group("kubectl-get-pods-100k");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(a.len() as u64));
    g.bench_function("normalize", |bch| {
        bch.iter(|| norm.lines(&a, work::COMMAND))
    });
    let (la, lb) = (norm.lines(&a, ""), norm.lines(&b, ""));
    let verdict = compare(&norm, &la, &lb, false);
    assert!(
        verdict.pass,
        "the two listings must agree: {:?}",
        verdict.reason
    );
    g.bench_function("compare", |bch| {
        bch.iter(|| compare(&norm, &la, &lb, false))
    });
    g.finish();
}

fn curve(c: &mut Criterion) {
    let norm = Normalizer::default();
    let mut g = c.benchmark_group("check-step-rows");
    g.sample_size(10);
    for rows in [1_000, 10_000, 100_000] {
        let (a, b) = (pods(rows, 1), pods(rows, 2));
        g.throughput(Throughput::Bytes((a.len() + b.len()) as u64));
        g.bench_function(criterion::BenchmarkId::from_parameter(rows), |bch| {
            bch.iter(|| check_step(&norm, &a, &b))
        });
    }
    g.finish();
}

criterion_group!(benches, bench, curve);
criterion_main!(benches);
