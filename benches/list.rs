//! `labrun list` on a long document: a 10 000-line Markdown page built from the corpus's
//! styles (prompted and unprompted blocks, loops, output blocks of their own, a Hugo
//! shortcode, list-nested fences), read and split into steps. The reader's aim: under 100 ms.

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A document of at least `lines` lines, repeating sections in every style the reader knows.
fn document(lines: usize) -> (String, usize) {
    let section = |i: usize| {
        format!(
            "## Part {i}\n\nCreate it:\n\n```shell\nkubectl create deployment web-{i} --image=web:1\n```\n\n\
             The output is similar to:\n\n```\ndeployment.apps/web-{i} created\n```\n\n\
             ```console\n$ kubectl get pods -l app=web-{i}\nNAME                     READY   STATUS\n\
             web-{i}-5d8f9c7b6-x2k9d   1/1     Running\n# wait for it\n$ ./check.sh {i}\nok\n```\n\n\
             ```bash\nfor p in a b; do\n  echo \"$p-{i}\"\ndone\na-{i}\nb-{i}\n\n\
             curl localhost:8080/\nHello\ncurl localhost:8080/healthz\nHealthy\n```\n\n\
             1. In a list:\n\n    ```bash\n    ip netns add ns-{i}\n    ip netns list\n    ns-{i}\n    ```\n\n\
             {{{{< text bash >}}}}\n$ kubectl apply -f @samples/app-{i}.yaml@\nservice/app-{i} created\n\
             {{{{< /text >}}}}\n\n"
        )
    };
    let mut doc = String::from("# A long page\n\n");
    let mut i = 0;
    while doc.lines().count() < lines {
        doc.push_str(&section(i));
        i += 1;
    }
    (doc, i)
}

fn bench(c: &mut Criterion) {
    let (doc, sections) = document(10_000);
    let path = Path::new("long.md");
    let steps = labrun::steps::split(&labrun::document::parse(path, doc.clone()).unwrap());
    assert_eq!(steps.len(), 9 * sections, "nine steps a section");
    let mut g = c.benchmark_group("list");
    g.throughput(Throughput::Bytes(doc.len() as u64));
    g.bench_function("10000 lines: read, split, list as JSON", |b| {
        b.iter(|| {
            let d = labrun::document::parse(path, doc.clone()).unwrap();
            let steps = labrun::steps::split(&d);
            let mut out = Vec::with_capacity(1 << 20);
            labrun::list::json(&d, &steps, &mut out).unwrap();
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
