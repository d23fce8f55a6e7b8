//! The run's sandbox through the binary: what a step can reach follows from the sandbox, not
//! from recognising commands. Each escape runs with the text lint off (`LABRUN_LINT=off`) and
//! must still be harmless; those that touch the network run inside `unshare --net --mount`, a
//! stand-in host whose state is compared before and after (a failing test cannot harm the
//! machine).

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::text;
use labrun::record::StepRecord;

const BIN: &str = env!("CARGO_BIN_EXE_labrun");

fn project(doc: &str, toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    // a failing read-only step is not retried for long: these steps never come to match
    std::fs::write(
        dir.path().join("labrun.toml"),
        format!("retry = \"1s\"\n{toml}"),
    )
    .unwrap();
    std::fs::write(dir.path().join("doc.md"), doc).unwrap();
    dir
}

fn labrun(dir: &Path, args: &[&str], lint: bool) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("run")
        .arg(dir.join("doc.md"))
        .args(args)
        .env_remove("CI");
    if !lint {
        cmd.env("LABRUN_LINT", "off");
    }
    cmd.output().unwrap()
}

fn records(dir: &Path) -> Vec<StepRecord> {
    labrun::record::read(&dir.join("target/labrun/doc.md/last.jsonl")).unwrap()
}

/// A document of one console block, one step per command.
fn doc(commands: &[&str]) -> String {
    let mut d = String::from("# Sandbox\n\n```console\n");
    for c in commands {
        d.push_str(&format!("$ {c}\n"));
    }
    d.push_str("```\n");
    d
}

/// The stand-in host's network state (links, addresses, routes, network namespaces and the
/// sysctls a chapter touches), before and after `labrun run ARGS` in `dir`, run inside it:
/// (before, after, what the run printed).
fn host_network_around_run(dir: &Path, env: &str, args: &str) -> (String, String, String) {
    let state = "ip -o link; ip -o addr; ip route; ip -6 route; ls /run/netns 2>&1; \
                 sysctl -n net.ipv6.conf.default.accept_dad net.ipv4.ip_forward \
                 net.ipv4.conf.all.forwarding";
    let script = format!(
        "ip link set lo up; {{ {state}; }} > before.txt 2>&1; \
         {env} {BIN} run {args} > run.txt 2>&1; echo \"exit $?\" >> run.txt; \
         {{ {state}; }} > after.txt 2>&1",
    );
    let out = Command::new("unshare")
        .args(["--net", "--mount", "--", "bash", "-c", &script])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    (read("before.txt"), read("after.txt"), read("run.txt"))
}

/// The same for a one-document project holding `doc`, with the text lint on or off.
fn host_network_around(doc: &str, args: &str, lint: bool) -> (String, String, String) {
    let dir = project(doc, "");
    let env = if lint { "" } else { "LABRUN_LINT=off" };
    host_network_around_run(dir.path(), env, &format!("doc.md {args}"))
}

const NETWORK_CHANGES: &[&str] = &[
    "ip link add labrun0 type veth peer name labrun1",
    "ip addr add 172.18.0.2/16 dev lo",
    "ip route add 10.99.0.0/16 dev lo",
    "sysctl -w net.ipv6.conf.default.accept_dad=0",
    "ip netns add pod1",
    "echo 1 > /proc/sys/net/ipv4/ip_forward",
];

#[test]
fn a_step_that_changes_the_network_is_refused_at_its_line_and_harmless_without_the_lint() {
    let d = doc(NETWORK_CHANGES);
    let (before, after, run) = host_network_around(&d, "", true);
    assert!(
        run.contains(
            "doc.md:4: `ip link add labrun0 type veth peer name labrun1` changes network state"
        ),
        "{run}"
    );
    assert!(run.contains("pass --netns"), "{run}");
    assert!(run.contains("exit 3"), "{run}");
    assert_eq!(before, after);
    // the lint off: every step runs, and fails, as the sandbox gives it no power over the
    // host's network
    let (before, after, run) = host_network_around(&d, "", false);
    assert!(run.contains("exit 1"), "{run}");
    assert_eq!(before, after, "{run}");
}

#[test]
fn the_same_steps_run_in_a_network_of_their_own_and_the_host_is_unchanged() {
    let mut cmds = NETWORK_CHANGES.to_vec();
    cmds.push("ip -o link | grep -c labrun0");
    let (before, after, run) = host_network_around(&doc(&cmds), "--netns", true);
    assert!(!run.contains("FAIL"), "{run}");
    assert_eq!(before, after, "{run}");
}

#[test]
fn the_pod_on_host_chapter_passes_with_a_plain_run_and_leaves_the_host_as_it_was() {
    // book.toml says `netns = true` for the book's chapters: a plain `labrun run` of one
    // follows it
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    common::copy_tree(&root.join("book"), &dir.path().join("book"));
    std::fs::write(dir.path().join("labrun.toml"), "").unwrap();
    let (before, after, run) = host_network_around_run(dir.path(), "", "book/src/pod-on-host.md");
    assert!(run.contains("exit 0"), "{run}");
    assert_eq!(before, after);
}

#[test]
fn writing_through_a_link_reaches_the_copy_never_the_source() {
    // visible to the steps (not under /tmp, which the sandbox replaces), read-only
    let outside = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let secret = outside.path().join("secret");
    std::fs::write(&secret, "kept\n").unwrap();
    let dir = project(
        &doc(&[
            "echo x >> inside-link",
            "echo x >> outside-link",
            &format!("echo x >> {}", secret.display()),
            &format!("echo x >> {}", dir_file_placeholder()),
        ]),
        "",
    );
    let data = dir.path().join("data.txt");
    std::fs::write(&data, "source\n").unwrap();
    // an absolute link into the tree, and one out of it
    std::os::unix::fs::symlink(&data, dir.path().join("inside-link")).unwrap();
    std::os::unix::fs::symlink(&secret, dir.path().join("outside-link")).unwrap();
    let d = std::fs::read_to_string(dir.path().join("doc.md"))
        .unwrap()
        .replace(&dir_file_placeholder(), &data.display().to_string());
    std::fs::write(dir.path().join("doc.md"), d).unwrap();
    let out = labrun(dir.path(), &[], false);
    assert!(out.status.code().is_some(), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&data).unwrap(), "source\n");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "kept\n");
    let r = records(dir.path());
    assert_eq!(r[0].exit_code, 0, "the copy's own link works: {:?}", r[0]);
    let copy = common::run_dirs(dir.path(), "doc.md")[0].join("work");
    assert_eq!(
        std::fs::read_to_string(copy.join("data.txt")).unwrap(),
        "source\nx\n"
    );
    assert!(
        std::fs::read_link(copy.join("inside-link"))
            .unwrap()
            .is_relative()
    );
    // the link out of the tree was left out; the step's `>>` made a file of its own there
    let made = std::fs::symlink_metadata(copy.join("outside-link")).unwrap();
    assert!(made.is_file());
    for step in &r[2..] {
        assert!(step.stderr.contains("Read-only file system"), "{step:?}");
    }
}

fn dir_file_placeholder() -> String {
    "SOURCE-DATA-FILE".into()
}

#[test]
fn a_bind_mount_a_step_makes_never_reaches_the_host_over_several_runs() {
    // a directory the sandbox shows (read-only): not under /tmp, which it replaces
    let outside = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::write(outside.path().join("keep.txt"), "keep\n").unwrap();
    let d = doc(&[
        "mkdir -p m",
        &format!("mount --bind {} m", outside.path().display()),
        "ls m",
    ]);
    let dir = project(&d, "");
    // with --netns the session's root may mount, in the run's own mount namespace only
    for _ in 0..4 {
        let out = labrun(dir.path(), &["--netns"], false);
        assert!(out.status.code().is_some(), "{}", text(&out));
    }
    assert_eq!(
        std::fs::read_to_string(outside.path().join("keep.txt")).unwrap(),
        "keep\n"
    );
    let r = records(dir.path());
    assert_eq!(r[2].stdout, "keep.txt\n", "the mount was made: {:?}", r[1]);
    // the host's mount table never saw it
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&dir.path().display().to_string()));
}

#[test]
fn a_planted_lock_link_is_refused_and_its_target_left_alone() {
    let dir = project(&doc(&["echo hi"]), "");
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    let ws = dir.path().join("target/labrun/doc.md");
    std::fs::create_dir_all(&ws).unwrap();
    std::os::unix::fs::symlink(&victim, ws.join("lock")).unwrap();
    let out = labrun(dir.path(), &[], true);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("is a symbolic link"), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn the_session_behaves_as_a_terminal() {
    let d = doc(&[
        "alias k=echo",
        "k hello",
        "readonly R=1; set -o pipefail; shopt -s extglob; trap 'echo bye' EXIT; umask 027",
        "R=2; echo $?",
        "false | true; echo $?; shopt -q extglob && echo extglob; umask",
        "ps -p $$ -o comm=; cat /proc/$$/comm",
        "nosuch-program --version",
        "f() { nosuch-inside; }; f",
        "echo $$ > pid; ps -e -o pid= | wc -l",
        "kill -9 $$",
        "echo alive; R=3; echo $R",
    ]);
    let dir = project(&d, "");
    let out = labrun(dir.path(), &[], true);
    assert!(out.status.code().is_some(), "{}", text(&out));
    let r = records(dir.path());
    assert_eq!(r[1].stdout, "hello\n");
    assert!(r[3].stderr.contains("R: readonly variable"), "{:?}", r[3]);
    assert_eq!(r[4].stdout, "1\nextglob\n0027\n");
    assert_eq!(r[5].stdout, "bash\nbash\n");
    assert_eq!(r[6].stderr, "bash: nosuch-program: command not found\n");
    assert_eq!(r[6].exit_code, 127);
    assert_eq!(r[7].stderr, "bash: nosuch-inside: command not found\n");
    // no path of labrun's in what the steps printed
    for step in &r {
        assert!(!step.stderr.contains("target/labrun"), "{step:?}");
    }
    // the sandbox's own processes only: the first process, bash, ps and wc (and its pipe)
    let n: usize = r[8].stdout.trim().parse().unwrap();
    assert!(n <= 5, "{:?}", r[8]);
    // `kill -9 $$` ends the shell, as it closes a terminal; a new one goes on (its state new)
    assert_eq!(r[9].exit_code, 137, "{:?}", r[9]);
    assert_eq!(r[10].stdout, "alive\n3\n", "{:?}", r[10]);
}

#[test]
fn a_background_server_answers_the_next_step() {
    let port = 20000 + std::process::id() % 20000;
    let d = doc(&[
        &format!("python3 -m http.server {port} --bind 127.0.0.1 > server.log 2>&1 &"),
        &format!(
            "for i in $(seq 150); do python3 -c 'import urllib.request,sys; urllib.request.urlopen(\"http://127.0.0.1:{port}/\"); print(\"up\")' 2>/dev/null && break; sleep 0.1; done"
        ),
    ]);
    let dir = project(&d, "");
    let out = labrun(dir.path(), &[], true);
    assert!(out.status.code().is_some(), "{}", text(&out));
    let r = records(dir.path());
    assert_eq!(r[1].stdout, "up\n", "{}", text(&out));
    // and gone with the run
    let marker = format!("http.server {port}");
    for _ in 0..100 {
        if common::processes_with(&marker).is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(common::processes_with(&marker).is_empty());
}

#[test]
fn the_users_credentials_are_not_there_and_stay_as_they_were() {
    let home = tempfile::tempdir().unwrap();
    let kube = home.path().join(".kube/config");
    let docker = home.path().join(".docker/config.json");
    std::fs::create_dir_all(kube.parent().unwrap()).unwrap();
    std::fs::create_dir_all(docker.parent().unwrap()).unwrap();
    std::fs::write(&kube, "user's kubeconfig\n").unwrap();
    std::fs::write(&docker, "{\"currentContext\":\"prod\"}\n").unwrap();
    let d = doc(&[
        "ls -A ~ | wc -l",
        &format!("cat {}", kube.display()),
        "mkdir -p ~/.kube && echo overwritten > ~/.kube/config && cat ~/.kube/config",
        "rm -rf ~/.docker; docker context use default 2>&1 | tail -1",
        "echo \"${KUBECONFIG:-none} ${AWS_SECRET_ACCESS_KEY:-none}\"",
    ]);
    let dir = project(&d, "");
    let out = Command::new(BIN)
        .arg("run")
        .arg(dir.path().join("doc.md"))
        .env("HOME", home.path())
        .env("KUBECONFIG", &kube)
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env_remove("CI")
        .output()
        .unwrap();
    assert!(out.status.code().is_some(), "{}", text(&out));
    let r = records(dir.path());
    assert_eq!(r[0].stdout, "0\n", "a fresh home: {:?}", r[0]);
    assert!(r[1].stderr.contains("No such file"), "{:?}", r[1]);
    assert_eq!(r[2].stdout, "overwritten\n");
    assert_eq!(r[4].stdout, "none none\n");
    assert_eq!(
        std::fs::read_to_string(&kube).unwrap(),
        "user's kubeconfig\n"
    );
    assert_eq!(
        std::fs::read_to_string(&docker).unwrap(),
        "{\"currentContext\":\"prod\"}\n"
    );
}

/// The peak resident memory of `labrun run` of the project in `p` (labrun's own, and its
/// helpers', which it waits for), in KiB; its standard error goes to `target-stderr.txt`.
fn run_peak_kib(p: &std::path::Path) -> i64 {
    // wait4 on the child: std's wait cannot give its rusage
    #[allow(clippy::zombie_processes)] // reaped by wait4 below
    let child = Command::new(BIN)
        .arg("run")
        .arg(p.join("doc.md"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(p.join("target-stderr.txt")).unwrap())
        .spawn()
        .unwrap();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    usage.ru_maxrss
}

#[test]
fn special_files_are_left_out_and_a_sparse_file_stays_sparse() {
    use std::os::unix::fs::MetadataExt as _;
    let steps = doc(&["ls", "du -k big | cut -f1"]);
    // the same run in a project without them: what the process itself takes
    let plain = project(&steps, "");
    std::fs::write(plain.path().join("big"), "").unwrap();
    let base = run_peak_kib(plain.path());
    let dir = project(&steps, "");
    let p = dir.path();
    nix::unistd::mkfifo(
        &p.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(p.join("sock")).unwrap();
    nix::sys::stat::mknod(
        &p.join("zero"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o600),
        nix::sys::stat::makedev(1, 5),
    )
    .unwrap();
    let big = std::fs::File::create(p.join("big")).unwrap();
    big.set_len(2 << 30).unwrap();
    // the 2 GiB file is never read into memory, and the FIFO and the device never read at all:
    // the run takes what the same run without them takes, give or take 32 MiB
    let peak = run_peak_kib(p);
    assert!(
        peak < base + 32 * 1024,
        "{peak} KiB with them, {base} KiB without"
    );
    let t = std::fs::read_to_string(p.join("target-stderr.txt")).unwrap();
    for name in ["fifo", "sock", "zero"] {
        assert!(t.contains(&format!("{name}: a ")), "{name}: {t}");
    }
    let r = records(p);
    assert_eq!(r[0].stdout, "big\ndoc.md\nlabrun.toml\ntarget-stderr.txt\n");
    let copy = common::run_dirs(p, "doc.md")[0].join("work/big");
    let meta = std::fs::metadata(&copy).unwrap();
    assert_eq!(meta.len(), 2 << 30);
    assert!(meta.blocks() < 1024, "{} blocks", meta.blocks());
}

#[test]
fn doctor_lists_the_isolation_of_every_backend() {
    for args in [&["doctor"][..], &["doctor", "--netns"][..]] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let t = text(&out);
        assert!(t.contains("sandbox  ok       mount namespace"), "{t}");
        assert!(t.contains("sandbox  ok       PID namespace"), "{t}");
        if args.len() == 2 {
            assert!(t.contains("sandbox  ok       network namespace"), "{t}");
        }
    }
}

#[test]
fn promote_and_accept_write_through_a_linked_document_and_snapshot() {
    let dir = project("# Linked\n\n```console\n$ echo new\nold\n```\n", "");
    let p = dir.path();
    // the document and its snapshot live elsewhere in the project, linked
    std::fs::create_dir_all(p.join("real")).unwrap();
    std::fs::rename(p.join("doc.md"), p.join("real/doc.md")).unwrap();
    std::os::unix::fs::symlink("real/doc.md", p.join("doc.md")).unwrap();
    std::fs::create_dir_all(p.join("snapshots/real")).unwrap();
    std::fs::create_dir_all(p.join("store")).unwrap();
    std::fs::write(p.join("store/doc.md.snap"), "").unwrap();
    std::os::unix::fs::symlink(
        "../../store/doc.md.snap",
        p.join("snapshots/real/doc.md.snap"),
    )
    .unwrap();
    let out = labrun(p, &[], true);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // named after where the document really is
    let last = p.join("target/labrun/real/doc.md/last.jsonl");
    for args in [&["promote"][..], &["accept"][..]] {
        let out = Command::new(BIN)
            .args(args)
            .arg(p.join("doc.md"))
            .arg("--replay")
            .arg(&last)
            .env_remove("CI")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    }
    assert!(
        std::fs::symlink_metadata(p.join("doc.md"))
            .unwrap()
            .is_symlink()
    );
    assert!(
        std::fs::symlink_metadata(p.join("snapshots/real/doc.md.snap"))
            .unwrap()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(p.join("real/doc.md"))
            .unwrap()
            .contains("new\n")
    );
    assert!(
        std::fs::read_to_string(p.join("store/doc.md.snap"))
            .unwrap()
            .contains("new")
    );
}

#[test]
fn pruning_old_runs_never_crosses_into_a_mount_left_in_them() {
    // in a mount namespace of the test's own: old runs' scratch copies with an outside
    // directory bound into them, as a run without a sandbox could leave; then four runs prune
    let outside = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::write(outside.path().join("keep.txt"), "keep\n").unwrap();
    let dir = project(&doc(&["true"]), "");
    let script = format!(
        "set -e; mount --make-rprivate /; for i in 1 2 3; do {BIN} run doc.md > /dev/null 2>&1; \
         m=$(ls -d target/labrun/doc.md/2*/work | tail -1)/m; mkdir -p $m; \
         mount --bind {out} $m; done; \
         for i in 1 2 3; do {BIN} run doc.md > run.txt 2>&1; done; ls {out}",
        out = outside.path().display()
    );
    let out = Command::new("unshare")
        .args(["--mount", "--", "bash", "-c", &script])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "keep.txt\n");
    assert_eq!(
        std::fs::read_to_string(outside.path().join("keep.txt")).unwrap(),
        "keep\n"
    );
}

#[test]
fn sudo_runs_the_command_as_the_sandboxs_root_with_its_options_read() {
    // Tutorials write `sudo` before what needs root. In the sandbox the session is root of
    // its own namespaces; labrun's sudo (first on PATH) reads sudo's options and runs the
    // command, where the machine's sudo would read the host's sudoers and PAM, or be missing.
    let d = doc(&[
        "sudo id -u",
        "sudo -E FOO=bar sh -c 'echo $FOO'",
        "sudo -u nobody id -un",
        "sudo -Hu nobody id -un",
        "sudo -D / pwd",
        "sudo -i",
        "sudo",
        "sudo -u no-such-user true",
        "command -v sudo",
        "echo x | sudo tee out.txt",
    ]);
    let dir = project(&d, "");
    let out = labrun(dir.path(), &[], true);
    assert!(out.status.code().is_some(), "{}", text(&out));
    let r = records(dir.path());
    assert_eq!(r[0].stdout, "0\n", "{:?}", r[0]);
    assert_eq!(r[1].stdout, "bar\n", "{:?}", r[1]);
    assert_eq!(r[2].stdout, "nobody\n", "{:?}", r[2]);
    assert_eq!(r[3].stdout, "nobody\n", "{:?}", r[3]);
    assert_eq!(r[4].stdout, "/\n", "{:?}", r[4]);
    assert_eq!(
        (r[5].exit_code, r[5].stdout.as_str()),
        (0, ""),
        "{:?}",
        r[5]
    );
    assert_eq!(r[6].exit_code, 1, "{:?}", r[6]);
    assert!(
        r[6].stderr.contains("sudo: a command is needed"),
        "{:?}",
        r[6]
    );
    assert_eq!(r[7].exit_code, 1, "{:?}", r[7]);
    assert!(
        r[7].stderr.contains("unknown user no-such-user"),
        "{:?}",
        r[7]
    );
    // labrun's, in the run's own directory, read-only
    assert!(r[8].stdout.trim_end().ends_with("/bin/sudo"), "{:?}", r[8]);
    assert!(!r[8].stdout.starts_with("/usr"), "{:?}", r[8]);
    assert_eq!(r[9].stdout, "x\n", "{:?}", r[9]);
    assert!(
        !dir.path().join("out.txt").exists(),
        "the step wrote into the scratch copy, never the sources"
    );
}

#[test]
fn sudo_in_a_network_of_its_own_changes_that_network_only() {
    // the networking tutorials' shape: `sudo ip …` run in --netns, the host unchanged
    let d = doc(&[
        "sudo ip netns add net0",
        "sudo ip link add veth0 type veth peer name br-veth0",
        "sudo ip link set veth0 netns net0",
        "sudo ip netns exec net0 ip -o link show veth0 | cut -d: -f2",
    ]);
    let dir = project(&d, "");
    let (before, after, run) = host_network_around_run(dir.path(), "", "doc.md --netns");
    assert!(run.contains("exit 0"), "{run}");
    assert_eq!(before, after, "{run}");
    let r = records(dir.path());
    // the peer's index depends on the kernel; the name and the move into net0 do not
    assert!(r[3].stdout.starts_with(" veth0@if"), "{:?}", r[3]);
}
