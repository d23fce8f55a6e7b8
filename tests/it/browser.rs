//! The built book in a real browser: headless Chromium (Debian's `chromium`, installed by
//! .ci/run) loads the pages, a script reads what the page shows (badges laid out and
//! coloured, the summary, images that loaded), and a screenshot is kept for people under
//! `target/labrun/screenshots/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common;

const BIN: &str = env!("CARGO_BIN_EXE_labrun");

/// Reads the page after load and appends the findings as JSON in `<pre id="labrun-check">`.
const PROBE: &str = r#"<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const shown = e => e.offsetHeight > 0 && getComputedStyle(e).visibility !== 'hidden';
  const badges = [...document.querySelectorAll('.labrun-badge')].filter(shown);
  const summary = document.querySelector('.labrun-summary');
  const r = {
    theme: document.documentElement.className,
    images: imgs.map(i => i.src.split('/').pop()),
    broken: imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src),
    badges: badges.length,
    texts: [...new Set(badges.map(b => b.textContent))],
    colour: badges.length ? getComputedStyle(badges[0]).backgroundColor : null,
    summary: summary && shown(summary) ? summary.innerText : null,
  };
  const pre = document.createElement('pre');
  pre.id = 'labrun-check';
  pre.textContent = JSON.stringify(r);
  document.body.appendChild(pre);
});
</script>"#;

fn chromium() -> &'static str {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(c).arg("--version").output().is_ok() {
            return c;
        }
    }
    panic!("no Chromium found: install Debian's `chromium` (.ci/run does)");
}

/// Build the scratch book; return the HTML output directory.
fn built() -> (tempfile::TempDir, PathBuf) {
    let dir = common::scratch_project();
    let out = Command::new(BIN)
        .arg("build")
        .arg(dir.path().join("book"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = dir.path().join("book/book");
    (dir, html)
}

/// Load `page` (optionally in another theme) with the probe; return its findings.
fn probe(html: &Path, page: &str, theme: Option<&str>, shot: &str) -> serde_json::Value {
    let mut text = std::fs::read_to_string(html.join(page)).unwrap();
    if let Some(t) = theme {
        // what mdBook's theme picker stores
        text = text.replacen(
            "<head>",
            &format!("<head><script>localStorage.setItem('mdbook-theme', '{t}');</script>"),
            1,
        );
    }
    let probe_page = format!("probe-{shot}.html");
    std::fs::write(
        html.join(&probe_page),
        text.replace("</body>", &format!("{PROBE}</body>")),
    )
    .unwrap();
    let url = format!("file://{}", html.join(&probe_page).display());
    let common_args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--allow-file-access-from-files",
        "--virtual-time-budget=10000",
        "--window-size=1280,1600",
    ];
    let out = Command::new(chromium())
        .args(common_args)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom.find("<pre id=\"labrun-check\">").unwrap_or_else(|| {
        panic!(
            "the probe did not report: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    }) + "<pre id=\"labrun-check\">".len();
    let end = start + dom[start..].find("</pre>").unwrap();
    let json = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/labrun/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join(format!("{shot}.png"));
    let out = Command::new(chromium())
        .args(common_args)
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(out.status.success());
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    assert!(
        bytes.len() > 20_000,
        "a blank screenshot? {} bytes",
        bytes.len()
    );
    serde_json::from_str(&json).unwrap()
}

#[test]
fn the_chapters_show_their_badges_summary_and_pictures_in_chromium() {
    let (_dir, html) = built();
    let steps = labrun::steps::split(
        &labrun::document::load(Path::new("book/src/pod-on-host.md")).unwrap(),
    );
    for theme in [None, Some("navy")] {
        let name = format!("pod-on-host-{}", theme.unwrap_or("light"));
        let r = probe(&html, "pod-on-host.html", theme, &name);
        assert_eq!(r["badges"], steps.len(), "{r}");
        assert_eq!(r["texts"], serde_json::json!(["passed"]), "{r}");
        assert_eq!(r["colour"], "rgb(46, 139, 87)", "{r}");
        let summary = r["summary"].as_str().unwrap_or_default();
        assert!(summary.contains(&format!("{} passed", steps.len())), "{r}");
        if let Some(t) = theme {
            assert!(r["theme"].as_str().unwrap().contains(t), "{r}");
        }
    }
    let r = probe(
        &html,
        "kubernetes-networking-abstractions.html",
        None,
        "lab-light",
    );
    let images: Vec<&str> = r["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(images.contains(&"container_connectivity.svg"), "{r}");
    assert_eq!(r["broken"], serde_json::json!([]), "{r}");
    let mut texts: Vec<&str> = r["texts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    texts.sort();
    // the author's obsolete `kubectl exec POD cmd` steps are kept, skipped
    assert_eq!(texts, ["not run", "not yet verified", "skipped"], "{r}");
    assert!(
        r["summary"].as_str().unwrap().contains("no recorded run"),
        "{r}"
    );
}
