//! The shell session for real: state across steps, timeouts that leave no process behind,
//! the output cap.

use std::time::Duration;

use labrun::execute::Shell;
use labrun::execute::sandbox::Spec;

async fn shell() -> (tempfile::TempDir, Shell) {
    labrun::execute::sandbox::use_program(env!("CARGO_BIN_EXE_labrun"));
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(work.join("sub")).unwrap();
    let sh = Shell::start(Spec::for_dir(&dir.path().join("state"), &work))
        .await
        .unwrap();
    (dir, sh)
}

const T: Duration = Duration::from_secs(20);

#[tokio::test]
async fn variables_cwd_functions_and_aliases_persist() {
    let (_d, sh) = shell().await;
    sh.run(
        "GREETING=hello; export ROLE=node; cd sub; greet() { echo \"$GREETING $1\"; }",
        T,
    )
    .await
    .unwrap();
    let o = sh
        .run(
            "greet world; echo $ROLE; basename \"$PWD\"; env | grep -c '^ROLE=node$'",
            T,
        )
        .await
        .unwrap();
    assert_eq!(o.stdout, "hello world\nnode\nsub\n1\n");
    assert_eq!(o.exit_code, 0);
}

#[tokio::test]
async fn multi_line_values_survive_and_shell_owned_variables_do_not_leak() {
    let (_d, sh) = shell().await;
    sh.run(
        "NOTE=$'two\\nlines'; f() {\n  echo \"in f\"\n}\nRANDOM=7",
        T,
    )
    .await
    .unwrap();
    let o = sh
        .run(
            "echo \"$NOTE\"; f; [ \"$RANDOM\" != \"$RANDOM\" ] && echo random",
            T,
        )
        .await
        .unwrap();
    assert_eq!(o.stdout, "two\nlines\nin f\nrandom\n");
    // `exit` at the prompt ends the step with its status; the session's state, as it was
    // then, goes on in a new bash
    let o = sh.run("NOTE=changed; exit 3; echo never", T).await.unwrap();
    assert_eq!((o.exit_code, o.stdout.as_str()), (3, ""));
    assert_eq!(
        sh.run("echo \"$NOTE\"", T).await.unwrap().stdout,
        "changed\n"
    );
    // in a subshell it is bash's own
    let o = sh.run("(exit 4); echo $?", T).await.unwrap();
    assert_eq!(o.stdout, "4\n");
}

#[tokio::test]
async fn exit_codes_and_separate_streams() {
    let (_d, sh) = shell().await;
    let o = sh.run("echo out; echo err >&2; false", T).await.unwrap();
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str(), o.exit_code),
        ("out\n", "err\n", 1)
    );
    let o = sh.run("exit 7", T).await.unwrap();
    assert_eq!(o.exit_code, 7);
    let o = sh.run("cat", T).await.unwrap();
    assert_eq!(o.stdout, "", "standard input is empty");
}

fn processes_with(marker: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .filter(|c| String::from_utf8_lossy(c).contains(marker))
        .count()
}

#[tokio::test]
async fn a_hanging_step_is_killed_with_its_children() {
    let (_d, sh) = shell().await;
    let marker = format!("labrun-hang-{}", std::process::id());
    let cmd =
        format!("bash -c 'exec -a {marker} sleep 300' & bash -c 'exec -a {marker} sleep 300'");
    let o = sh.run(&cmd, Duration::from_millis(500)).await.unwrap();
    assert!(o.timed_out);
    // Give the kernel a moment to reap; the check reads /proc, not exit codes.
    for _ in 0..50 {
        if processes_with(&marker) == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(processes_with(&marker), 0);
    // The session survives a killed step.
    assert_eq!(sh.run("echo alive", T).await.unwrap().stdout, "alive\n");
}

#[tokio::test]
async fn output_beyond_the_cap_is_cut_and_flagged() {
    let (d, _) = shell().await;
    let state = d.path().join("state2");
    std::fs::create_dir_all(&state).unwrap();
    let sh = Shell::start(Spec::for_dir(&state, d.path()))
        .await
        .unwrap()
        .with_cap(1024 * 1024);
    let o = sh
        .run("head -c 50000000 /dev/zero | tr '\\0' x", T)
        .await
        .unwrap();
    assert!(o.truncated);
    assert_eq!(o.stdout.len(), 1024 * 1024);
    assert_eq!(o.exit_code, 0);
}

#[tokio::test]
async fn a_step_text_cannot_reach_the_lines_labrun_runs_around_it() {
    // an unterminated here-document and an open quote end with the step's own text: labrun's
    // wrapper (the exit code, the saved state) is never read into them
    let (d, sh) = shell().await;
    sh.run("KEPT=yes", T).await.unwrap();
    let o = sh.run("cat > note.txt <<EOF\nhello", T).await.unwrap();
    let note = std::fs::read_to_string(d.path().join("work/note.txt")).unwrap();
    assert_eq!(note, "hello\n", "{o:?}");
    assert!(
        o.stderr.contains("here-document"),
        "bash's own warning: {o:?}"
    );
    let o = sh.run("echo \"open", T).await.unwrap();
    assert_ne!(
        o.exit_code, 0,
        "a syntax error of the step is the step's: {o:?}"
    );
    let o = sh.run("echo $KEPT", T).await.unwrap();
    assert_eq!(o.stdout, "yes\n", "the session survived both");
}
