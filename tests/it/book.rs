//! The book, built for real through `labrun build` (mdbook-driver in-process) on a scratch copy
//! of the project's book, snapshots and committed runs; assertions on the HTML mdBook wrote.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_labrun");

use crate::common;

use common::scratch_project as project;
use common::text;

fn build(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("build")
        .arg(dir.join("book"))
        .args(args)
        .output()
        .unwrap()
}

fn page(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join("book/book").join(name)).unwrap()
}

fn run_file(dir: &Path) -> PathBuf {
    dir.join("snapshots/book/src/pod-on-host.md.run.jsonl")
}

/// Rewrite the committed run's records with `f`, and the digest the snapshot holds of it (as
/// an accept of that run would).
fn edit_run(dir: &Path, f: impl Fn(&mut labrun::record::StepRecord)) {
    let path = run_file(dir);
    let mut records = labrun::record::read(&path).unwrap();
    records.iter_mut().for_each(f);
    labrun::record::write(&path, &records).unwrap();
    let snap = dir.join("snapshots/book/src/pod-on-host.md.snap");
    let text = std::fs::read_to_string(&snap).unwrap();
    let digest = labrun::snapshot::digest_file(&path).unwrap();
    let (head, rest) = text.split_once("# run: ").unwrap();
    let rest = rest.split_once('\n').unwrap().1;
    std::fs::write(&snap, format!("{head}# run: {digest}\n{rest}")).unwrap();
}

#[test]
fn the_book_shows_each_step_its_verdict_its_live_output_and_summaries() {
    let dir = project();
    let out = build(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let pod = page(dir.path(), "pod-on-host.html");
    let steps = labrun::steps::split(
        &labrun::document::load(&dir.path().join("book/src/pod-on-host.md")).unwrap(),
    );
    assert_eq!(
        pod.matches("<span class=\"labrun-badge\">passed</span>")
            .count(),
        steps.len(),
        "one passed badge per step"
    );
    assert!(
        pod.contains(&format!("{} passed</span>", steps.len())),
        "chapter summary"
    );
    assert!(
        pod.contains("snapshots/book/src/pod-on-host.md.run.jsonl"),
        "the run it replays"
    );
    assert!(pod.contains("ran against"), "the versions of the run");
    assert!(pod.contains("<h2 id=\"two-pods\""), "headings with anchors");
    assert!(
        pod.contains("class=\"language-bash"),
        "code blocks highlighted as bash"
    );
    assert!(
        pod.contains("<details class=\"labrun-live\">"),
        "collapsible live output"
    );
    assert!(
        pod.contains("<mark class=\"labrun-mask\" title=\"IP\">10.244.1.3</mark>"),
        "masked values marked"
    );
    assert!(
        pod.contains("id=\"step-from-pod-to-pod-1\""),
        "steps are addressable"
    );

    let lab = page(dir.path(), "kubernetes-networking-abstractions.html");
    assert!(
        lab.contains("<h3 id=\"nodeport\""),
        "AsciiDoc headings with the slugs of step ids"
    );
    assert!(lab.contains("no recorded run; verify with"), "{lab:.0}");
    assert!(
        lab.contains("labrun run book/src/kubernetes-networking-abstractions.adoc --backend kind")
    );
    assert!(
        !lab.contains("labrun-badge\">passed"),
        "nothing in the lab was observed here"
    );
    assert!(
        lab.contains("<img src=\"container_connectivity.svg\""),
        "the lab's picture"
    );
    assert!(
        dir.path()
            .join("book/book/container_connectivity.svg")
            .is_file()
    );

    let summary = page(dir.path(), "labrun-summary.html");
    assert!(summary.contains("Verification summary"));
    assert!(summary.contains("href=\"pod-on-host.html\""));
    assert!(summary.contains("href=\"kubernetes-networking-abstractions.html\""));
    // offline: no asset from elsewhere in what labrun adds
    assert!(!pod.contains("labrun") || !pod.contains("<link href=\"http"));
}

#[test]
fn a_drifted_step_shows_its_diff_and_fail_on_drift_fails_the_build() {
    let dir = project();
    edit_run(dir.path(), |r| {
        if r.step == "two-pods/3" {
            r.stdout = "pod2\npod1\npod3\n".into();
        }
    });
    let out = build(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let pod = page(dir.path(), "pod-on-host.html");
    assert_eq!(pod.matches("labrun-badge\">drifted").count(), 1);
    assert!(
        pod.contains("<span class=\"labrun-add\">+pod3</span>"),
        "the diff"
    );
    assert!(pod.contains("1 drifted</span>"));
    let out = build(dir.path(), &["--fail-on-drift"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("Pod on host, by hand (1 drifted)"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_run_labrun_did_not_observe_never_counts_as_verification() {
    let dir = project();
    edit_run(dir.path(), |r| r.origin = Some("simulated".into()));
    let out = build(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let pod = page(dir.path(), "pod-on-host.html");
    assert!(!pod.contains("labrun-badge\">passed"));
    assert!(pod.contains("only a simulated run: not a verification"));
    assert!(pod.contains("from a non-live run"));
}

#[test]
fn mode_off_renders_the_chapters_plain() {
    let dir = project();
    let out = build(dir.path(), &["--mode", "off"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lab = page(dir.path(), "kubernetes-networking-abstractions.html");
    assert!(!lab.contains("labrun-badge"));
    assert!(
        lab.contains("<h3 id=\"nodeport\""),
        "AsciiDoc is still converted"
    );
    assert!(!dir.path().join("book/book/labrun-summary.html").exists());
}

#[test]
fn an_unknown_preprocessor_option_is_an_error_naming_it() {
    let dir = project();
    let toml = dir.path().join("book/book.toml");
    let text_before = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, format!("{text_before}colour = \"red\"\n")).unwrap();
    let out = build(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("unknown field `colour`"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("book.toml"), "{}", text(&out));
}

#[test]
fn supports_answers_for_mdbook() {
    let out = Command::new(BIN)
        .args(["preprocess", "supports", "html"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

/// mdBook's protocol through the real `mdbook` binary: `cargo install mdbook --version 0.5.4
/// --locked` (CI does, see .ci/run), with this build's `labrun` first on PATH.
#[test]
#[ignore = "needs mdbook 0.5 on PATH"]
fn mdbook_build_calls_labrun_preprocess() {
    let dir = project();
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let out = Command::new("mdbook")
        .arg("build")
        .arg(dir.path().join("book"))
        .env("PATH", path)
        .output()
        .expect("mdbook on PATH");
    assert!(out.status.success(), "{}", text(&out));
    let pod = page(dir.path(), "pod-on-host.html");
    assert!(pod.contains("<span class=\"labrun-badge\">passed</span>"));
    assert!(
        page(dir.path(), "kubernetes-networking-abstractions.html").contains("<h3 id=\"nodeport\"")
    );
}

#[test]
fn live_mode_runs_the_chapters_now_and_refuses_the_cluster_steps() {
    let dir = project();
    let out = build(dir.path(), &["--mode", "live"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let pod = page(dir.path(), "pod-on-host.html");
    assert!(pod.contains("run by this build"), "run in this build");
    assert!(!pod.contains("non-live"), "a live build's header says so");
    assert!(!pod.contains("labrun-badge\">drifted"), "{}", text(&out));
    assert!(pod.contains("labrun-badge\">passed"));
    let lab = page(dir.path(), "kubernetes-networking-abstractions.html");
    assert!(lab.contains("the live run stopped"), "the refusal is shown");
    assert!(lab.contains("refusing to run `kind create cluster"));
    assert!(!lab.contains("labrun-badge\">passed"));
    // the build's namespaces were its own: nothing of the chapter is left on this machine
    let host = Command::new("ip")
        .args(["link", "show", "cni0"])
        .output()
        .unwrap();
    assert!(!host.status.success(), "cni0 leaked onto the host");
}

#[test]
fn a_committed_run_that_is_not_the_one_its_snapshot_names_is_refused() {
    // an accept killed between its two writes leaves a new run beside the old snapshot
    let dir = project();
    let path = run_file(dir.path());
    let mut records = labrun::record::read(&path).unwrap();
    records[0].stdout.push_str("changed\n");
    labrun::record::write(&path, &records).unwrap();
    let out = build(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("they come from different accepts"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("pod-on-host.md.snap"), "{}", text(&out));
}

/// The published book can be searched, as one `mdbook build` makes: a search box on every
/// page and an index that holds the chapters' words.
#[test]
fn the_book_has_a_search_box_and_an_index_of_its_chapters() {
    let dir = project();
    let out = build(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(page(dir.path(), "pod-on-host.html").contains("mdbook-searchbar"));
    let index = std::fs::read_dir(dir.path().join("book/book"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("searchindex"))
        .expect("a search index");
    let text = std::fs::read_to_string(index.path()).unwrap();
    assert!(text.contains("veth"), "the index holds the chapters' words");
    // the AsciiDoc chapter is published as its page, not as its raw source too
    assert!(
        dir.path()
            .join("book/book/kubernetes-networking-abstractions.html")
            .is_file()
    );
    assert!(
        !dir.path()
            .join("book/book/kubernetes-networking-abstractions.adoc")
            .exists()
    );
}

/// `labrun build` where the book is not: the books nearby are suggested.
#[test]
fn build_without_a_book_suggests_the_books_nearby() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("docs/guide/src")).unwrap();
    std::fs::write(dir.path().join("docs/guide/book.toml"), "[book]\n").unwrap();
    let out = Command::new(BIN)
        .arg("build")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .contains("no book.toml: not an mdBook book; books here: `labrun build docs/guide`"),
        "{}",
        text(&out)
    );
}

/// A run file named on purpose that is not there is an error, not a book built with no run.
#[test]
fn a_missing_run_file_is_an_error_naming_it() {
    let dir = project();
    let out = build(dir.path(), &["--run", "nowhere.jsonl"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("--run nowhere.jsonl: no such run file"),
        "{}",
        text(&out)
    );
    assert!(
        !dir.path().join("book/book/index.html").exists(),
        "no book written"
    );
}

/// A scratch book: `book/book.toml` and the files under `book/` given as (path, text).
fn mini_book(toml: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("book");
    std::fs::create_dir_all(book.join("src")).unwrap();
    std::fs::write(book.join("book.toml"), toml).unwrap();
    for (path, body) in files {
        let path = book.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    dir
}

const PLAIN: &str = "[book]\ntitle = \"t\"\n";
const ONE: &str = "# Summary\n\n[One](one.md)\n";

/// `labrun build` refuses, exit 2, with `message` in its words, and writes no site.
fn refused(dir: &Path, args: &[&str], message: &str) {
    let out = build(dir, args);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(message),
        "wanted {message:?} in:\n{}",
        text(&out)
    );
    assert!(
        !dir.join("book/book/index.html").exists(),
        "no site written"
    );
}

#[test]
fn includes_outside_the_book_or_of_files_that_never_end_are_refused_at_their_line() {
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "the host's secret\n").unwrap();
    for target in ["/dev/zero".to_string(), secret.path().display().to_string()] {
        let chapter = format!("# One\n\ntext\n\n{{{{#include {target}}}}}\n");
        let dir = mini_book(PLAIN, &[("src/SUMMARY.md", ONE), ("src/one.md", &chapter)]);
        refused(
            dir.path(),
            &[],
            &format!("one.md:5: `{target}` is outside the book"),
        );
    }
    // a link inside the book to /dev/zero is where it leads: in `src` (which mdBook copies
    // whole into the site), and beside it
    let dir = mini_book(
        PLAIN,
        &[
            ("src/SUMMARY.md", ONE),
            ("src/one.md", "{{#include ../z.txt}}\n"),
        ],
    );
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("book/z.txt")).unwrap();
    refused(
        dir.path(),
        &[],
        "one.md:1: `../z.txt` is outside the book (/dev/zero)",
    );
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("book/src/z.txt")).unwrap();
    refused(
        dir.path(),
        &[],
        "src/z.txt: a link to /dev/zero, outside the book",
    );
    // a FIFO inside the book: refused before mdBook blocks on it
    let dir = mini_book(PLAIN, &[("src/SUMMARY.md", ONE), ("src/one.md", "ok\n")]);
    nix::unistd::mkfifo(
        &dir.path().join("book/src/pipe.txt"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    refused(
        dir.path(),
        &[],
        "pipe.txt: a FIFO: a book holds regular files only",
    );
    // an include within an include, two levels down, is checked at its own file and line
    let dir = mini_book(
        PLAIN,
        &[
            ("src/SUMMARY.md", ONE),
            ("src/one.md", "{{#include parts/a.md}}\n"),
            ("src/parts/a.md", "a\n{{#include ../../../outside.txt}}\n"),
            ("../outside.txt", "outside\n"),
        ],
    );
    refused(
        dir.path(),
        &[],
        "a.md:2: `../../../outside.txt` is outside the book",
    );
}

#[test]
fn includes_inside_the_book_or_a_named_directory_are_included() {
    let toml = "[book]\ntitle = \"t\"\n\n[preprocessor.labrun]\ninclude-from = [\"../shared\"]\n";
    let dir = mini_book(
        toml,
        &[
            ("src/SUMMARY.md", ONE),
            (
                "src/one.md",
                "# One\n\n{{#include ../listings/a.txt}}\n\n{{#include ../../shared/b.txt:2}}\n\n\\{{#include /etc/hostname}}\n",
            ),
            ("listings/a.txt", "from the listings\n"),
            ("../shared/b.txt", "skipped\nfrom the shared folder\n"),
        ],
    );
    let out = build(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let html = page(dir.path(), "one.html");
    assert!(html.contains("from the listings"), "{html}");
    assert!(html.contains("from the shared folder"), "{html}");
    assert!(!html.contains("skipped"), "{html}");
    // the escaped link is text, as mdBook shows it
    assert!(html.contains("{{#include /etc/hostname}}"), "{html}");
}

#[test]
fn summary_links_outside_the_book_are_refused_and_nothing_is_created_there() {
    let outside = tempfile::tempdir().unwrap();
    let abs = outside.path().join("x.md");
    for (link, line) in [
        (abs.display().to_string(), 4),
        ("../../../x.md".to_string(), 4),
    ] {
        let summary = format!("# Summary\n\n[One](one.md)\n[Out]({link})\n");
        let dir = mini_book(
            PLAIN,
            &[("src/SUMMARY.md", &summary), ("src/one.md", "ok\n")],
        );
        refused(
            dir.path(),
            &[],
            &format!("SUMMARY.md:{line}: `{link}` is outside the book's `src`"),
        );
        assert!(!abs.exists());
        assert!(
            !dir.path().join("x.md").exists()
                && !dir.path().parent().unwrap().join("x.md").exists()
        );
        // `labrun run` of the book refuses the same link
        let out = Command::new(BIN)
            .arg("run")
            .arg(dir.path().join("book"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            text(&out).contains("is outside the book's `src`"),
            "{}",
            text(&out)
        );
    }
    let dir = mini_book(
        PLAIN,
        &[
            ("src/SUMMARY.md", "# Summary\n\n[S](SUMMARY.md)\n"),
            ("src/one.md", "ok\n"),
        ],
    );
    refused(
        dir.path(),
        &[],
        "SUMMARY.md:3: `SUMMARY.md` is SUMMARY.md itself",
    );
    // a chapter that is a link to a device
    let dir = mini_book(PLAIN, &[("src/SUMMARY.md", ONE)]);
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("book/src/one.md")).unwrap();
    refused(
        dir.path(),
        &[],
        "one.md: a device: labrun reads regular files only",
    );
}

#[test]
fn paths_in_book_toml_stay_inside_the_book() {
    let victim = tempfile::tempdir().unwrap();
    std::fs::write(victim.path().join("keep"), "precious").unwrap();
    for (toml, message) in [
        (
            format!(
                "[book]\ntitle = \"t\"\n[build]\nbuild-dir = \"{}\"\n",
                victim.path().display()
            ),
            "book.toml:4: `build.build-dir = ",
        ),
        (
            "[book]\nsrc = \"../../etc\"\n".to_string(),
            "book.toml:2: `book.src = \"../../etc\"` is outside the book",
        ),
        (
            "[output.html]\nadditional-css = [\"ok.css\", \"/etc/passwd\"]\n".to_string(),
            "book.toml:2: `output.html.additional-css = \"/etc/passwd\"` is outside the book",
        ),
        (
            "[output.html.redirect]\n\"/../../../../tmp/x.html\" = \"one.html\"\n".to_string(),
            "book.toml:2: the redirect from `/../../../../tmp/x.html` would be written outside",
        ),
    ] {
        let dir = mini_book(
            &toml,
            &[
                ("src/SUMMARY.md", ONE),
                ("src/one.md", "ok\n"),
                ("ok.css", ""),
            ],
        );
        refused(dir.path(), &[], message);
        assert_eq!(
            std::fs::read_to_string(victim.path().join("keep")).unwrap(),
            "precious"
        );
    }
}

#[test]
fn programs_a_book_names_run_only_when_the_command_line_allows_them() {
    for section in ["preprocessor.touchy", "output.touchy"] {
        let dir = mini_book("", &[("src/SUMMARY.md", ONE), ("src/one.md", "ok\n")]);
        let marker = dir.path().join("RAN");
        let toml = format!(
            "[book]\ntitle = \"t\"\n\n[{section}]\ncommand = \"touch {}\"\n",
            marker.display()
        );
        std::fs::write(dir.path().join("book/book.toml"), toml).unwrap();
        refused(
            dir.path(),
            &[],
            &format!(
                "book.toml:4: [{section}] makes mdBook run `touch {}`",
                marker.display()
            ),
        );
        assert!(!marker.exists(), "{section}: nothing ran");
        let _ = build(dir.path(), &["--allow-book-programs"]);
        assert!(
            marker.exists(),
            "{section}: with the flag, the book's program ran"
        );
    }
}

#[test]
fn live_mode_from_book_toml_needs_a_confirmation_beside_it() {
    let chapter = "# One\n\n```console\n$ echo hi > ran-live\n```\n";
    let toml = "[book]\ntitle = \"t\"\n\n[preprocessor.labrun]\nmode = \"live\"\n";
    let dir = mini_book(toml, &[("src/SUMMARY.md", ONE), ("src/one.md", chapter)]);
    refused(
        dir.path(),
        &[],
        "book.toml:5: `mode = \"live\"` runs every chapter's commands",
    );
    // mdBook's own build, through `labrun preprocess`, refuses it too
    let ran = dir.path().join("book/src/ran-live");
    assert!(!ran.exists());
    // confirmed in book.toml, or asked for on the command line: it runs
    for (toml, args) in [
        (format!("{toml}confirm-live = true\n"), &[][..]),
        (toml.to_string(), &["--mode", "live"][..]),
    ] {
        std::fs::write(dir.path().join("book/book.toml"), toml).unwrap();
        let out = build(dir.path(), args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        assert!(
            page(dir.path(), "one.html").contains("passed"),
            "{}",
            page(dir.path(), "one.html")
        );
    }
}
