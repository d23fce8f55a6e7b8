//! A short fuzzing run in every `cargo test` (the long one is the `fuzz` example; see
//! tests/fuzzing/harness.rs): generated and mutated inputs to the document readers, the step
//! splitter, the normalizer and the run-file and snapshot readers, none of which may panic.

#[path = "../fuzzing/harness.rs"]
mod harness;

#[test]
fn generated_and_mutated_inputs_never_panic_any_reader() {
    let seeds = harness::seeds(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(
        seeds.len() > 20,
        "the corpus and the book are there to mutate"
    );
    let seed = std::env::var("LABRUN_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let tally = harness::run(seed, 0, 5_000, &seeds);
    assert_eq!(tally.inputs, 5_000);
    assert!(
        tally.panics.is_empty(),
        "panics (input index, message): {:?}",
        tally.panics
    );
}

#[test]
fn the_generator_is_repeatable_and_reaches_every_target() {
    let seeds = harness::seeds(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    for i in 0..50 {
        let (a, b) = (harness::input(3, i, &seeds), harness::input(3, i, &seeds));
        assert_eq!(a.text, b.text);
        assert_eq!(a.target, harness::TARGETS[(i % 5) as usize]);
    }
}
