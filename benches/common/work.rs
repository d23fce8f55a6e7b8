//! The work the normalize benchmarks measure, shared by `benches/normalize.rs` and the
//! instruction counter `examples/bench_count.rs`: a synthetic `kubectl get pods -A -o wide`
//! listing, and one step's check of two such listings.

use labrun::compare::compare;
use labrun::normalize::Normalizer;

/// The command the listings stand for.
pub const COMMAND: &str = "kubectl get pods -A -o wide";

const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Rows as kubectl prints them; `seed` changes every generated value.
pub fn pods(rows: usize, seed: usize) -> String {
    let mut s = String::from(
        "NAMESPACE   NAME   READY   STATUS   RESTARTS   AGE   IP   NODE   NOMINATED NODE   READINESS GATES\n",
    );
    let pick = |n: usize, len: usize| -> String {
        (0..len)
            .map(|i| SAFE[(n / SAFE.len().pow(i as u32) + i * 7) % SAFE.len()] as char)
            .collect()
    };
    for i in 0..rows {
        let n = i * 7919 + seed * 104_729;
        s.push_str(&format!(
            "ns-{}   app-{}-{}   1/1   Running   0   {}m{}s   10.{}.{}.{}   kind-worker{}   <none>   <none>\n",
            i % 20,
            pick(n, 9),
            pick(n + 1, 5),
            (n % 59) + 1,
            n % 60,
            (n / 65536) % 200 + 10,
            (n / 256) % 256,
            n % 256,
            n % 3 + 1
        ));
    }
    s
}

/// What `labrun check` does with one step's two outputs, from text to verdict and bindings.
pub fn check_step(norm: &Normalizer, doc: &str, live: &str) -> usize {
    let (d, l) = (norm.lines(doc, COMMAND), norm.lines(live, COMMAND));
    let c = compare(norm, &d, &l, false);
    assert!(c.pass, "{:?}", c.reason);
    let mut bindings = labrun::bind::Bindings::default();
    bindings.learn(&c.pairs);
    c.pairs.len()
}
