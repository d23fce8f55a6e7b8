//! `labrun build` against a plain mdBook build of the same book, side by side in one run
//! (`cargo bench --bench build`; `ROUNDS=N` to change the 40 rounds).
//!
//! All build a scratch copy of `book/` (with `snapshots/`, `labrun.toml`, `manifests/`) in
//! process through mdbook-driver: mdBook without the labrun preprocessor (book.toml without
//! `[preprocessor.labrun]`, so the AsciiDoc chapter goes through as raw text), `labrun build`
//! with `mode = "off"` (AsciiDoc converted, no annotations), and `labrun build` replaying the
//! committed runs (the main job).

use std::path::Path;

use labrun::render::preprocessor::{Labrun, Mode, Options};
use std::time::Instant;

#[path = "../tests/it/common/mod.rs"]
mod common;

/// A scratch copy of the project's book; without labrun's preprocessor when `with_labrun` is
/// false.
fn scratch(with_labrun: bool) -> tempfile::TempDir {
    let dir = common::scratch_project();
    if !with_labrun {
        let toml = dir.path().join("book/book.toml");
        let text = std::fs::read_to_string(&toml).unwrap();
        let cut = text.find("[preprocessor.labrun]").unwrap_or(text.len());
        std::fs::write(&toml, &text[..cut]).unwrap();
    }
    dir
}

fn plain_build(dir: &Path) {
    let md = mdbook_driver::MDBook::load(dir.join("book")).unwrap();
    md.build().unwrap();
}

fn labrun_build(dir: &Path, mode: Mode) {
    let mut md = mdbook_driver::MDBook::load(dir.join("book")).unwrap();
    let mut opts: Options = md
        .config
        .get("preprocessor.labrun")
        .unwrap()
        .unwrap_or_default();
    opts.mode = mode;
    md.with_preprocessor(Labrun {
        overrides: Some(opts),
    });
    md.build().unwrap();
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Alternate the two builds round by round, so that whatever else the machine does weighs on
/// both alike; report the medians and their ratio.
fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(40);
    let plain = scratch(false);
    let labrun = scratch(true);
    // warm up (page cache, lazily compiled masks)
    plain_build(plain.path());
    labrun_build(labrun.path(), Mode::Replay);
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        plain_build(plain.path());
        a.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        labrun_build(labrun.path(), Mode::Replay);
        b.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        labrun_build(labrun.path(), Mode::Off);
        c.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (ma, mb, mc) = (median(a), median(b), median(c));
    println!("book build, {rounds} alternating rounds, median per build");
    println!("mdbook, no labrun preprocessor (AsciiDoc as raw text)  {ma:8.2} ms");
    println!("labrun build, mode = \"off\" (AsciiDoc converted)      {mc:8.2} ms");
    println!("labrun build, mode = \"replay\" (annotated)            {mb:8.2} ms");
    println!(
        "ratio replay / no preprocessor                         {:8.3}",
        mb / ma
    );
    println!(
        "ratio replay / mode off                                {:8.3}",
        mb / mc
    );
}
