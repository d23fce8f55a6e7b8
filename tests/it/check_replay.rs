//! `labrun check` on replays of the lab: the document's own output, a simulated fresh
//! cluster, and one substantive change at a time.

use crate::common;

use std::path::Path;

use common::*;
use labrun::check::{Options, Report, Status, check};
use labrun::normalize::Normalizer;
use labrun::record::StepRecord;
use regex::Regex;

fn run_check(records: &[StepRecord]) -> Report {
    let steps = lab_steps();
    check(
        Path::new("run.jsonl"),
        &steps,
        records,
        None,
        &Normalizer::default(),
        Options::default(),
    )
    .unwrap()
}

fn failures(report: &Report) -> Vec<(String, String)> {
    report
        .verdicts
        .iter()
        .filter(|v| v.status == Status::Fail)
        .map(|v| (v.id.clone(), v.reason.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn the_documents_own_output_passes_entirely() {
    let steps = lab_steps();
    let report = run_check(&run_from_document(&steps));
    assert_eq!(failures(&report), []);
    let illustrative = steps.iter().filter(|s| s.directives.illustrative).count();
    let skipped = steps.iter().filter(|s| s.directives.skip).count();
    assert_eq!(report.summary().pass, steps.len() - illustrative - skipped);
    // outputs nobody observed stay "not yet verified", whatever the run says
    assert_eq!(report.summary().unverified, illustrative);
}

#[test]
fn a_simulated_fresh_cluster_passes_entirely() {
    let run = fresh_cluster();
    let report = run_check(&run);
    assert_eq!(failures(&report), []);
    let steps = lab_steps();
    let illustrative = steps.iter().filter(|s| s.directives.illustrative).count();
    let skipped = steps.iter().filter(|s| s.directives.skip).count();
    assert_eq!(report.summary().pass, steps.len() - illustrative - skipped);
    // The values learned from earlier steps rewrote the later commands.
    let ran: Vec<&str> = run.iter().map(|r| r.command.as_str()).collect();
    assert!(ran.contains(&"kubectl exec app-7d4f8b6c5-x2kqz -- ip a"));
    assert!(ran.contains(&"docker exec kind-worker3 ps aux | grep 9123"));
}

fn with_change(step: &str, change: impl Fn(&mut StepRecord)) -> Vec<(String, String)> {
    let mut run = fresh_cluster();
    change(run.iter_mut().find(|r| r.step == step).unwrap());
    failures(&run_check(&run))
}

fn fails_only(step: &str, change: impl Fn(&mut StepRecord)) -> String {
    let f = with_change(step, change);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, step);
    f[0].1.clone()
}

#[test]
fn a_changed_port_fails_there_only() {
    fails_only("nodeport/6", |r| {
        r.stdout = r.stdout.replace("30040/TCP", "30041/TCP")
    });
}

#[test]
fn a_changed_status_fails_there_only() {
    fails_only("explore-statefulsets/2", |r| {
        r.stdout = r.stdout.replacen("Running", "Pending", 2)
    });
}

#[test]
fn a_pod_not_ready_fails_there_only() {
    fails_only("deploy-kind-cluster-with-ingress-enabled/5", |r| {
        r.stdout = r.stdout.replace("1/1", "0/1")
    });
}

#[test]
fn one_endpoint_fewer_fails_there_only() {
    fails_only("headless-service/4", |r| {
        let lines: Vec<&str> = r
            .stdout
            .lines()
            .filter(|l| !l.ends_with("10.244.9.5"))
            .collect();
        r.stdout = lines.join("\n");
    });
}

#[test]
fn an_error_instead_of_output_fails_there_only() {
    let reason = fails_only("cluster-ip/3", |r| {
        r.stdout.clear();
        r.stderr = "Error from server (NotFound): pods \"dnsutils\" not found\n".into();
        r.exit_code = 1;
    });
    assert!(reason.contains("exit code 1"));
}

#[test]
fn a_different_cname_target_fails_there_only() {
    fails_only("external-service/4", |r| {
        r.stdout = r.stdout.replace("CNAME github.com.", "CNAME gitlab.com.")
    });
}

#[test]
fn a_non_zero_exit_fails_there_only() {
    fails_only("services/1", |r| r.exit_code = 2);
}

#[test]
fn a_command_changed_beyond_its_bound_values_fails_there_only() {
    let reason = fails_only("cluster-ip/13", |r| {
        r.command = r.command.replace(" ip r", " ip -6 r")
    });
    assert!(reason.contains("command drift"), "{reason}");
}

#[test]
fn a_command_run_with_the_authors_stale_value_is_command_drift() {
    let reason = fails_only("cluster-ip/16", |r| {
        r.command = "docker exec kind-worker3 ps aux | grep 4687".into()
    });
    assert!(reason.contains("command drift"), "{reason}");
}

#[test]
fn not_run_steps_are_reported_and_fail_when_strict() {
    let mut run = run_from_document(&lab_steps());
    run.retain(|r| r.step != "nodeport/4");
    let report = run_check(&run);
    let v = report
        .verdicts
        .iter()
        .find(|v| v.id == "nodeport/4")
        .unwrap();
    assert_eq!(v.status, Status::NotRun);
    assert!(!report.failed(false) && report.failed(true));
}

#[test]
fn a_dns_answer_section_in_another_order_passes() {
    let f = with_change("headless-service/4", |r| {
        let mut lines: Vec<String> = r.stdout.lines().map(str::to_string).collect();
        let answers: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].contains(" IN A "))
            .collect();
        lines.swap(answers[0], answers[3]);
        r.stdout = lines.join("\n");
    });
    assert_eq!(f, []);
}

/// A `kubectl get pods` listing as kubectl prints it: rows sorted by name, so the fresh names
/// put the pods in another order than the author's.
fn sorted_by_name(stdout: &str) -> String {
    let mut lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    let header = lines.remove(0);
    lines.sort_by_key(|l| l.split_whitespace().next().unwrap_or("").to_string());
    std::iter::once(header)
        .chain(lines)
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn a_listing_sorted_by_the_new_names_binds_each_pod_to_the_pod_it_already_was() {
    // After `kubectl label pod …-7frts app=nope` a new pod appears; the author's listing has
    // it first, the live one sorts it fourth. Pairing rows by position would give the new
    // document pod a live pod an earlier step bound to another, and the next command would
    // run against the wrong pod.
    let mut run = fresh_cluster();
    let r = run.iter_mut().find(|r| r.step == "endpoints/8").unwrap();
    r.stdout = sorted_by_name(&r.stdout);
    let first_pod = r.stdout.lines().nth(1).unwrap().to_string();
    assert!(!first_pod.contains("t4fwq"), "{first_pod}");
    assert_eq!(failures(&run_check(&run)), []);
}

#[test]
fn the_same_document_pod_shown_as_two_live_pods_is_a_binding_conflict() {
    let reason = fails_only("endpoints/8", |r| {
        r.stdout = r.stdout.replace("6b8f7c9d4-p9rgv", "6b8f7c9d4-zq7xv")
    });
    assert!(
        reason.contains("POD `5586fc9d77-7frts` stands for the live `6b8f7c9d4-p9rgv` since step"),
        "{reason}"
    );
    // and the chain behind that binding: the row it shared with a value bound earlier
    assert!(
        // (nodeport/6 shows that address in a list kubectl sorts by value: its place there
        // binds nothing; the first line that names it alone is nodeport/7's)
        reason.contains("(beside IP `10.244.1.5`, bound since step nodeport/7)"),
        "{reason}"
    );
}

#[test]
fn a_replay_whose_recorder_paired_interchangeable_rows_otherwise_passes() {
    // Every pod listing as kubectl prints it, sorted by today's names: where the rows were
    // interchangeable, labrun's choice may differ from the recorder's, and the recorder's
    // commands (`kubectl label pod …`, `kubectl exec …`) name the pods it chose.
    let mut run = fresh_cluster();
    let mut sorted = 0;
    for r in run.iter_mut() {
        let listing = r.command.starts_with("kubectl get pods")
            && !r.command.contains(" -w")
            && r.stdout.starts_with("NAME ");
        if listing {
            let before = r.stdout.clone();
            r.stdout = sorted_by_name(&r.stdout);
            if r.stdout.trim_end() != before.trim_end() {
                sorted += 1;
            }
        }
    }
    assert!(
        sorted >= 3,
        "{sorted} listings in another order than the author's"
    );
    assert_eq!(failures(&run_check(&run)), []);
}

/// A fresh cluster of its own per `seed`: new generated names (so kubectl lists the pods in
/// another order, and every pod listing is sorted by them), the workers placed otherwise,
/// ages shifted; addresses and the rest as in [`FRESH`].
fn seeded_cluster(seed: u64) -> Vec<StepRecord> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // Kubernetes' alphabet for generated suffixes
    const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let word = |n: usize, next: &mut dyn FnMut() -> u64| -> String {
        (0..n)
            .map(|_| SAFE[(next() % SAFE.len() as u64) as usize] as char)
            .collect()
    };
    let generated = Regex::new(r"^([0-9a-z]{9,10})-([a-z0-9]{5})$").unwrap();
    let mut hashes: std::collections::HashMap<String, String> = Default::default();
    let workers = ["kind-worker", "kind-worker2", "kind-worker3"];
    let mut placed = workers;
    for i in (1..placed.len()).rev() {
        placed.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    let mut table: Vec<(String, String)> = Vec::new();
    for (from, to) in FRESH {
        if let Some(c) = generated.captures(from) {
            let len = c[1].len();
            let hash = hashes
                .entry(c[1].to_string())
                .or_insert_with(|| word(len, &mut next))
                .clone();
            table.push((from.to_string(), format!("{hash}-{}", word(5, &mut next))));
        } else if from.contains("kind-worker") {
            continue;
        } else {
            table.push((from.to_string(), to.to_string()));
        }
    }
    table.push(("kind-worker2".into(), placed[1].into()));
    table.push(("kind-worker3".into(), placed[2].into()));
    table.push(("kind-worker ".into(), format!("{} ", placed[0])));
    table.push((
        "hostname=kind-worker\n".into(),
        format!("hostname={}\n", placed[0]),
    ));
    let pairs: Vec<(&str, &str)> = table
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let shift = 1 + (seed % 9) as u32;
    let ages = Regex::new(r"\b(\d+)([smhd])\b").unwrap();
    let columns = Regex::new(r"(\S)   +").unwrap();
    let mut run = run_from_document(&lab_steps());
    for r in &mut run {
        r.command = substitute(&r.command, &pairs);
        let out = substitute(&r.stdout, &pairs);
        let out = ages.replace_all(&out, |c: &regex::Captures| {
            format!("{}{}", c[1].parse::<u32>().unwrap() + shift, &c[2])
        });
        r.stdout = sorted_lists(&columns.replace_all(&out, "${1}      "));
        let listing = r.command.starts_with("kubectl get pods")
            && !r.command.contains(" -w")
            && r.stdout.starts_with("NAME ");
        if listing {
            r.stdout = sorted_by_name(&r.stdout);
        }
    }
    run
}

#[test]
fn many_fresh_clusters_of_their_own_pass_entirely() {
    let steps = lab_steps();
    let illustrative = steps.iter().filter(|s| s.directives.illustrative).count();
    let skipped = steps.iter().filter(|s| s.directives.skip).count();
    for seed in 1..=24 {
        let report = run_check(&seeded_cluster(seed));
        assert_eq!(failures(&report), [], "seed {seed}");
        assert_eq!(
            report.summary().pass,
            steps.len() - illustrative - skipped,
            "seed {seed}"
        );
    }
}

#[test]
fn the_report_lists_the_values_each_step_bound() {
    let mut run = fresh_cluster();
    let r = run.iter_mut().find(|r| r.step == "endpoints/8").unwrap();
    r.stdout = sorted_by_name(&r.stdout);
    let report = run_check(&run);
    let json = serde_json::to_value(&report.verdicts).unwrap();
    let step = json
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "endpoints/8")
        .unwrap();
    let bound = step["bindings"].as_array().unwrap();
    // the relabeled pod, determined by the label step's one-line output
    assert!(
        bound.iter().any(|b| b["class"] == "POD"
            && b["document"] == "5586fc9d77-7frts"
            && b["live"] == "6b8f7c9d4-p9rgv"),
        "{step}"
    );
    // the new pod, here for the first time in a listing
    assert!(
        bound
            .iter()
            .any(|b| b["document"] == "5586fc9d77-6dcg2" && b["live"] == "6b8f7c9d4-t4fwq"),
        "{step}"
    );
}
