//! The `--html` report in a real browser: headless Chromium loads the page
//! (a suite run and a heap sweep), and the page's own script records on
//! `<body>` how many charts it has, how many were drawn with a size and
//! marks in them, and any script or console error. The test reads that
//! from the DOM Chromium dumps, and looks for console errors in its log.
//!
//! Without Chromium (`chromium` or `chromium-browser` on PATH, or
//! `LOAM_CHROMIUM`), the test says so and passes, unless
//! `LOAM_REQUIRE_BROWSER=1` (set by `.ci/run`, which installs Chromium).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LOAM_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser", "google-chrome"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

fn loam(args: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_loam"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .expect("run loam");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The value of `attr` on the dumped DOM's `<body>`.
fn body_attr(dom: &str, attr: &str) -> Option<String> {
    let body = &dom[dom.find("<body")?..];
    let body = &body[..body.find('>')?];
    let key = format!("{attr}=\"");
    let at = body.find(&key)? + key.len();
    Some(body[at..].split('"').next()?.to_string())
}

/// Loads `page` in headless Chromium; (dumped DOM, Chromium's log).
fn load(browser: &Path, page: &Path, profile: &Path) -> (String, String) {
    let url = format!("file://{}", page.display());
    let o = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            &format!("--user-data-dir={}", profile.display()),
            "--dump-dom",
            &url,
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run chromium");
    assert!(
        o.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn check(browser: &Path, page: &Path, profile: &Path, at_least: usize) {
    let (dom, log) = load(browser, page, profile);
    assert_eq!(
        body_attr(&dom, "data-check").as_deref(),
        Some("done"),
        "the page's script did not run:\n{log}"
    );
    assert_eq!(
        body_attr(&dom, "data-errors").as_deref(),
        Some(""),
        "script errors"
    );
    assert_eq!(
        body_attr(&dom, "data-empty").as_deref(),
        Some(""),
        "charts not drawn"
    );
    let charts: usize = body_attr(&dom, "data-charts")
        .and_then(|v| v.parse().ok())
        .expect("charts");
    let drawn: usize = body_attr(&dom, "data-drawn")
        .and_then(|v| v.parse().ok())
        .expect("drawn");
    assert_eq!(charts, drawn, "every chart is drawn");
    assert!(
        charts >= at_least,
        "{charts} charts, expected at least {at_least}"
    );
    // Console messages reach Chromium's log as CONSOLE lines.
    for line in log.lines().filter(|l| l.contains("CONSOLE")) {
        assert!(
            !line.contains(":ERROR:") && !line.contains("Uncaught"),
            "console error: {line}"
        );
    }
}

#[test]
fn the_html_report_loads_in_chromium_with_every_chart_drawn() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("LOAM_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "LOAM_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)"
        );
        eprintln!("SKIPPED: no chromium on PATH (apt-get install chromium to run this test)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("loam-html-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bench = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/bench");
    let suite = dir.join("suite.txt");
    std::fs::write(
        &suite,
        format!(
            "bt {b}/binary_trees.loam 8\nring {b}/process_ring.loam 20 20\nspawn {b}/spawn_many.loam 50\n",
            b = bench.display()
        ),
    )
    .expect("write suite");
    let suite_html = dir.join("suite.html");
    let (s, h) = (
        suite.display().to_string(),
        suite_html.display().to_string(),
    );
    loam(&[
        "bench", "--suite", &s, "--runs", "1", "--warmup", "0", "--html", &h,
    ]);
    // Summary (3) and per workload: heap, time, memory, histogram, MMU (5),
    // plus per-process heaps where processes were spawned.
    check(&browser, &suite_html, &dir.join("profile1"), 3 + 3 * 5);

    let sweep_html = dir.join("sweep.html");
    let h = sweep_html.display().to_string();
    loam(&[
        "bench",
        "--heap-sweep=1.5,4",
        "--gc",
        "mark-compact,semispace",
        "--runs",
        "1",
        "--html",
        &h,
        "examples/bench/binary_trees.loam",
        "8",
    ]);
    check(&browser, &sweep_html, &dir.join("profile2"), 3);
    let _ = std::fs::remove_dir_all(&dir);
}
