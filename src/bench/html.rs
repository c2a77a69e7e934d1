//! `--html FILE`: one self-contained page (styles, script and SVG charts
//! inline, nothing fetched) with every table and chart of a bench run —
//! heap over time per backend and per process, pause histograms, MMU
//! curves, time–space curves and the suite summary — each with a title,
//! units and a line saying how to read it. A small script lets a click on
//! a legend entry hide that backend, and records on `<body>` how many
//! charts were drawn (`data-charts`, `data-drawn`) and any script error
//! (`data-errors`), which the browser test reads.

use super::pauses::HIST_EDGES_US;
use super::report::{BackendResult, Report, mmu_near};
use super::suite::SuiteReport;
use super::svg::{Axis, BarChart, LineChart, Series, bar_chart, esc, line_chart};
use super::sweep::SweepReport;
use super::units;
use serde::Serialize;
use std::fmt::Write;

/// Everything one `loam bench` run measured.
#[derive(Serialize, Debug, Default)]
pub struct Document {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub single: Option<Report>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suite: Option<SuiteReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sweeps: Vec<SweepReport>,
}

impl Document {
    /// The `--json` text: one script's report, or the suite's, as they
    /// are; `{"sweeps": [...]}` for a heap sweep.
    pub fn json(&self) -> Result<String, String> {
        let r = match (&self.single, &self.suite) {
            (Some(one), None) if self.sweeps.is_empty() => serde_json::to_string_pretty(one),
            (None, Some(s)) if self.sweeps.is_empty() => serde_json::to_string_pretty(s),
            _ => serde_json::to_string_pretty(self),
        };
        r.map_err(|e| e.to_string())
    }
}

/// A backend's colour as `#rrggbb`, the same as in `--plot`.
fn colour(backend: &str) -> String {
    let c = super::plot::colour(backend);
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

const MB: f64 = (1u64 << 20) as f64;

fn ms_fmt(v: f64) -> String {
    num_fmt(v)
}
/// 3 significant digits without trailing zeros: `0.05`, `2.5`, `100`.
fn num_fmt(v: f64) -> String {
    let s = units::sig3(v);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}
fn pct_fmt(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}
fn ratio_fmt(v: f64) -> String {
    format!("{}x", num_fmt(v))
}

fn axis(label: &str, log: bool, fmt: fn(f64) -> String) -> Axis {
    Axis {
        label: label.to_string(),
        log,
        fmt,
        from_zero: true,
        ticks: Vec::new(),
    }
}

/// Builds the page.
pub struct Page {
    body: String,
    toc: Vec<(String, String)>,
    charts: usize,
}

impl Page {
    fn section(&mut self, id: &str, title: &str, intro: &str) {
        self.toc.push((id.to_string(), title.to_string()));
        let _ = write!(
            self.body,
            "<section id=\"{}\"><h2>{}</h2><p class=\"intro\">{}</p>",
            esc(id),
            esc(title),
            intro
        );
    }

    fn end_section(&mut self) {
        self.body.push_str("</section>");
    }

    fn chart(&mut self, title: &str, how: &str, svg: String) {
        self.charts += 1;
        let _ = write!(
            self.body,
            "<figure class=\"chart\" data-chart=\"c{}\"><figcaption><h3>{}</h3><p>{}</p></figcaption>{svg}</figure>",
            self.charts,
            esc(title),
            how
        );
    }

    fn note(&mut self, text: &str) {
        let _ = write!(self.body, "<p class=\"note\">{}</p>", esc(text));
    }

    fn table(&mut self, head: &[String], rows: &[Vec<String>]) {
        self.body.push_str("<table><thead><tr>");
        for h in head {
            let _ = write!(self.body, "<th>{}</th>", esc(h));
        }
        self.body.push_str("</tr></thead><tbody>");
        for r in rows {
            self.body.push_str("<tr>");
            for (i, c) in r.iter().enumerate() {
                let class = if i == 0 { "" } else { " class=\"n\"" };
                let _ = write!(self.body, "<td{class}>{}</td>", esc(c));
            }
            self.body.push_str("</tr>");
        }
        self.body.push_str("</tbody></table>");
    }
}

/// The HTML text of the report.
pub fn page(doc: &Document) -> String {
    let mut p = Page {
        body: String::new(),
        toc: Vec::new(),
        charts: 0,
    };
    let mut subtitle = String::new();
    if let Some(s) = &doc.suite {
        subtitle = format!("suite {} on {}, {}", s.suite, s.machine, s.date);
        suite_summary(&mut p, s);
        for (i, w) in s.workloads.iter().enumerate() {
            let id = format!("w{i}");
            let title = format!(
                "{} ({} {})",
                w.workload.name,
                w.workload.path,
                w.workload.args.join(" ")
            );
            workload(&mut p, &id, &title, &w.report, &w.problems);
        }
    }
    if let Some(r) = &doc.single {
        subtitle = format!(
            "{} {} on {}, {}",
            r.script,
            r.args.join(" "),
            super::suite::machine(),
            super::suite::today()
        );
        workload(&mut p, "one", &subtitle.clone(), r, &[]);
    }
    for (i, s) in doc.sweeps.iter().enumerate() {
        if subtitle.is_empty() {
            subtitle = format!("heap sweep on {}, {}", s.machine, s.date);
        }
        sweep(&mut p, &format!("s{i}"), s);
    }
    let mut toc = String::new();
    for (id, title) in &p.toc {
        let _ = write!(toc, "<li><a href=\"#{}\">{}</a></li>", esc(id), esc(title));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Loam GC report: {title}</title><style>{STYLE}</style></head>\
<body data-check=\"pending\"><header><h1>Loam GC laboratory report</h1><p>{title}</p>\
<p class=\"intro\">Loam runs each program as a fresh process under each memory backend (its \
garbage collector). Times are wall-clock times of whole runs; memory is the peak resident set \
size the operating system measured; pauses are the times a process stopped to collect. Click a \
backend in a chart's legend to hide or show it; hover over a point or bar for its value.</p>\
<nav><ol>{toc}</ol></nav></header><main>{body}</main>\
<footer>Written by <code>loam bench</code> {version}. {charts} charts.</footer>\
<script>{SCRIPT}</script></body></html>\n",
        title = esc(&subtitle),
        body = p.body,
        version = env!("CARGO_PKG_VERSION"),
        charts = p.charts,
    )
}

fn suite_summary(p: &mut Page, s: &SuiteReport) {
    p.section(
        "summary",
        "Suite summary",
        &format!(
            "{} workloads, {} measured run(s) of each on each backend after {} warmup run(s); the \
             whole run took {}. On each workload, each backend's median time and peak memory are \
             divided by the best backend's on that workload; a backend's score is the geometric \
             mean of those ratios over the workloads it finished (1.00x would be best on every \
             workload), the way DaCapo results are reported.",
            s.workloads.len(),
            s.runs,
            s.warmup,
            esc(&units::time(s.elapsed_s))
        ),
    );
    let ratio = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.2}x"));
    let rows: Vec<Vec<String>> = s
        .summary
        .iter()
        .map(|r| {
            vec![
                r.backend.clone(),
                ratio(r.time_geomean),
                ratio(r.rss_geomean),
                r.fastest.to_string(),
                format!("{}/{}", r.finished, s.workloads.len()),
                if r.failed.is_empty() {
                    "-".into()
                } else {
                    r.failed.join(", ")
                },
            ]
        })
        .collect();
    let head: Vec<String> = [
        "backend",
        "time (geomean of ratios)",
        "peak memory (geomean)",
        "fastest on",
        "finished",
        "failed",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    p.table(&head, &rows);
    let cats = vec!["time".to_string(), "peak memory".to_string()];
    let series = s
        .summary
        .iter()
        .map(|r| {
            (
                r.backend.clone(),
                colour(&r.backend),
                vec![r.time_geomean, r.rss_geomean],
            )
        })
        .collect();
    p.chart(
        "Geometric means over the suite",
        "Each bar is a backend's geometric mean, over the workloads, of its time (or peak memory) \
         divided by the best backend's on that workload. Lower is better; the dashed line is 1.",
        bar_chart(
            "summary",
            &BarChart {
                categories: cats,
                series,
                y: axis("ratio to the best backend", false, ratio_fmt),
                reference: Some(1.0),
            },
        ),
    );
    for (what, f) in [
        (
            "Time",
            (|b: &BackendResult| b.summary.map(|s| s.wall_median_s))
                as fn(&BackendResult) -> Option<f64>,
        ),
        ("Peak memory", |b: &BackendResult| {
            b.summary.map(|s| s.peak_rss as f64)
        }),
    ] {
        let cats: Vec<String> = s
            .workloads
            .iter()
            .map(|w| w.workload.name.clone())
            .collect();
        let series = s
            .backends
            .iter()
            .map(|name| {
                let vals = s
                    .workloads
                    .iter()
                    .map(|w| {
                        let get = |b: &BackendResult| f(b).filter(|_| b.error.is_none());
                        let best = w
                            .report
                            .backends
                            .iter()
                            .filter_map(get)
                            .fold(f64::INFINITY, f64::min);
                        let mine = w
                            .report
                            .backends
                            .iter()
                            .find(|b| &b.backend == name)
                            .and_then(get)?;
                        (best > 0.0 && best.is_finite()).then(|| mine / best)
                    })
                    .collect();
                (name.clone(), colour(name), vals)
            })
            .collect();
        p.chart(
            &format!("{what} per workload, over the best backend's"),
            &format!(
                "For each workload, each backend's median {} divided by the best backend's (log \
                 scale; 1 = the best). A missing bar is a backend that failed on that workload.",
                what.to_lowercase()
            ),
            bar_chart(
                &format!("per-{}", what.to_lowercase().replace(' ', "-")),
                &BarChart {
                    categories: cats,
                    series,
                    y: axis("ratio to the best backend", true, ratio_fmt),
                    reference: Some(1.0),
                },
            ),
        );
    }
    p.end_section();
}

/// One program's tables and charts.
fn workload(p: &mut Page, id: &str, title: &str, r: &Report, problems: &[String]) {
    p.section(
        id,
        title,
        &format!(
            "{} measured run(s) per backend after {} warmup run(s), each a fresh process.{}",
            r.runs,
            r.warmup,
            if problems.is_empty() {
                String::new()
            } else {
                format!(" <strong>Problems:</strong> {}", esc(&problems.join("; ")))
            }
        ),
    );
    let head: Vec<String> = [
        "backend",
        "wall (median)",
        "vs fastest",
        "peak memory",
        "allocated",
        "collections",
        "pause total",
        "p50 pause",
        "p99 pause",
        "max pause",
        "MMU 10 ms",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    let rows: Vec<Vec<String>> = r
        .backends
        .iter()
        .map(|b| match (b.summary, &b.error) {
            (Some(s), None) => {
                let pa = b.pauses.as_ref().map(|x| x.all).unwrap_or_default();
                vec![
                    b.backend.clone(),
                    units::time(s.wall_median_s),
                    format!("{:.2}x", s.vs_fastest),
                    units::bytes(s.peak_rss),
                    units::bytes(s.allocated),
                    s.collections.to_string(),
                    units::time(s.pause_total_us / 1e6),
                    units::time(pa.p50_us / 1e6),
                    units::time(pa.p99_us / 1e6),
                    units::time(s.pause_max_us / 1e6),
                    mmu_near(&b.mmu, 10.0).map_or("-".into(), pct_fmt),
                ]
            }
            _ => vec![
                b.backend.clone(),
                format!(
                    "FAILED: {}",
                    b.error
                        .as_deref()
                        .and_then(|e| e.lines().next())
                        .unwrap_or("no runs")
                ),
            ],
        })
        .collect();
    p.table(&head, &rows);
    let ok: Vec<&BackendResult> = r
        .backends
        .iter()
        .filter(|b| b.summary.is_some() && b.error.is_none())
        .collect();
    // Heap over time.
    let series: Vec<Series> = ok
        .iter()
        .filter_map(|b| {
            let c = &b.heap_curve.as_ref()?.curve;
            let mut s = Series::new(
                &b.backend,
                &colour(&b.backend),
                c.points
                    .iter()
                    .map(|&(t, h)| (t as f64 / 1e3, h as f64 / MB))
                    .collect(),
            );
            s.step = true;
            s.marks = c
                .collections
                .iter()
                .map(|&(t, h)| (t as f64 / 1e3, h as f64 / MB))
                .collect();
            Some(s)
        })
        .collect();
    p.chart(
        "Heap size over time",
        "The heap of all processes together in the median run of each backend, in MB, against \
         milliseconds since the program started; each × is the end of a collection. A sawtooth is \
         a heap that grows until a collection frees what died; a line that only rises frees \
         nothing (a backend that frees only when told to, or one that never needed to collect).",
        line_chart(
            &format!("{id}-heap"),
            &LineChart {
                x: axis("time since the program started (ms)", false, ms_fmt),
                y: axis("heap (MB)", false, num_fmt),
                series,
            },
        ),
    );
    // Per process, when there were several.
    for b in ok.iter().filter(|b| b.process_curves.len() > 1) {
        let series = b
            .process_curves
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let shade = super::plot::colour(&b.backend);
                let f = 1.0 - i as f64 / (b.process_curves.len() as f64 + 1.0);
                let col = format!(
                    "#{:02x}{:02x}{:02x}",
                    (f64::from(shade.0) * f + 230.0 * (1.0 - f)) as u8,
                    (f64::from(shade.1) * f + 230.0 * (1.0 - f)) as u8,
                    (f64::from(shade.2) * f + 230.0 * (1.0 - f)) as u8
                );
                let mut s = Series::new(
                    &format!("pid {}", c.pid),
                    &col,
                    c.points
                        .iter()
                        .map(|&(t, h)| (t as f64 / 1e3, h as f64 / MB))
                        .collect(),
                );
                s.step = true;
                s
            })
            .collect();
        p.chart(
            &format!("Heap per process, {}", b.backend),
            &format!(
                "Each line is one process's own heap (MB) in {}'s median run: the {} processes \
                 whose heaps grew largest. Every process has a heap of its own, collected on its own.",
                esc(&b.backend),
                b.process_curves.len()
            ),
            line_chart(
                &format!("{id}-procs-{}", b.backend),
                &LineChart {
                    x: axis("time since the program started (ms)", false, ms_fmt),
                    y: axis("heap (MB)", false, num_fmt),
                    series,
                },
            ),
        );
    }
    // Time and memory.
    let cats: Vec<String> = ok.iter().map(|b| b.backend.clone()).collect();
    let one = |f: &dyn Fn(&BackendResult) -> f64| -> Vec<(String, String, Vec<Option<f64>>)> {
        ok.iter()
            .enumerate()
            .map(|(i, b)| {
                let mut v = vec![None; ok.len()];
                v[i] = Some(f(b));
                (b.backend.clone(), colour(&b.backend), v)
            })
            .collect()
    };
    p.chart(
        "Wall time",
        "The median wall time of the measured runs of each backend, in seconds. Lower is better.",
        bar_chart(
            &format!("{id}-time"),
            &BarChart {
                categories: cats.clone(),
                series: one(&|b| b.summary.map_or(0.0, |s| s.wall_median_s)),
                y: axis("wall time (s)", false, num_fmt),
                reference: None,
            },
        ),
    );
    p.chart(
        "Peak memory",
        "The median peak resident set size of each backend's runs, in MB: all the memory the \
         process held at its largest, heap and runtime together.",
        bar_chart(
            &format!("{id}-rss"),
            &BarChart {
                categories: cats,
                series: one(&|b| b.summary.map_or(0.0, |s| s.peak_rss as f64 / MB)),
                y: axis("peak RSS (MB)", false, num_fmt),
                reference: None,
            },
        ),
    );
    // Pause histogram.
    let used = ok
        .iter()
        .filter_map(|b| b.pauses.as_ref()?.histogram.iter().rposition(|&n| n > 0))
        .max()
        .map_or(0, |i| i + 1);
    let used_any = used > 0;
    let bins: Vec<String> = HIST_EDGES_US[..used]
        .iter()
        .map(|&e| {
            if e == 0.0 {
                "<10µs".to_string()
            } else {
                format!("≥{}", units::time(e / 1e6).replace(' ', ""))
            }
        })
        .collect();
    let hist = ok
        .iter()
        .filter_map(|b| {
            let h = &b.pauses.as_ref()?.histogram;
            Some((
                b.backend.clone(),
                colour(&b.backend),
                h.iter()
                    .take(used)
                    .map(|&n| (n > 0).then_some(n as f64))
                    .collect(),
            ))
        })
        .collect();
    if used_any {
        p.chart(
            "Pause histogram",
            "How many collections paused for how long, over every measured run (bins of the pause \
         length; log scale of counts). Bars to the right are long pauses a user would notice.",
            bar_chart(
                &format!("{id}-hist"),
                &BarChart {
                    categories: bins,
                    series: hist,
                    y: axis("collections", true, num_fmt),
                    reference: None,
                },
            ),
        );
    } else {
        p.note("No backend collected in any measured run: there are no pauses to draw.");
    }
    // MMU.
    let series = ok
        .iter()
        .filter(|b| !b.mmu.is_empty())
        .map(|b| {
            let mut s = Series::new(
                &b.backend,
                &colour(&b.backend),
                b.mmu.iter().map(|m| (m.window_ms, m.mmu)).collect(),
            );
            s.dots = true;
            s
        })
        .collect();
    p.chart(
        "Minimum mutator utilization (MMU)",
        "For each window length (log scale), the smallest share of any window of that length in \
         the median run during which no collection was running. A curve that reaches 100% early \
         has short pauses spread out; one that stays at 0% up to 10 ms has a pause of 10 ms or more.",
        line_chart(
            &format!("{id}-mmu"),
            &LineChart {
                x: axis("window (ms)", true, ms_fmt),
                y: Axis {
                    label: "MMU".into(),
                    log: false,
                    fmt: pct_fmt,
                    from_zero: true,
                    ticks: Vec::new(),
                },
                series,
            },
        ),
    );
    p.end_section();
}

fn sweep(p: &mut Page, id: &str, s: &SweepReport) {
    let base = s.base.unwrap_or(0);
    p.section(
        id,
        &format!("Heap sweep: {} {}", s.name, s.args.join(" ")),
        &format!(
            "Each backend's minimum heap is the smallest <code>--max-heap</code> at which the \
             program completes (found by bisection, to within 5%). Every backend then ran at \
             multiples of the smallest minimum ({}), {} run(s) per point; × marks a heap size at \
             which a backend could not finish (out of heap, or too slow).",
            esc(&units::bytes(base)),
            s.runs
        ),
    );
    let head: Vec<String> = [
        "backend",
        "minimum heap",
        "vs smallest",
        "peak without a limit",
        "time without a limit",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    let rows: Vec<Vec<String>> = s
        .min_heaps
        .iter()
        .map(|m| {
            vec![
                m.backend.clone(),
                m.bytes.map_or("none".into(), units::bytes),
                match m.bytes {
                    Some(b) if base > 0 => format!("{:.2}x", b as f64 / base as f64),
                    _ => "-".into(),
                },
                units::bytes(m.unlimited_peak),
                units::time(m.unlimited_wall_s),
            ]
        })
        .collect();
    p.table(&head, &rows);
    type Get = fn(&super::report::Summary) -> f64;
    let charts: [(&str, &str, &str, Get, bool); 3] = [
        (
            "Time against heap size",
            "Median wall time (s) at each heap size, as a multiple of the smallest minimum heap. A \
             collector's curve falls as it gets more room: near its minimum it collects often; with \
             room to spare its time approaches the program's own.",
            "wall time (s)",
            |x| x.wall_median_s,
            false,
        ),
        (
            "Collections against heap size",
            "How many collections the run needed at each heap size (log scale): more room, fewer collections.",
            "collections",
            |x| x.collections as f64,
            true,
        ),
        (
            "Total pause against heap size",
            "The sum of every collection's pause (ms) at each heap size.",
            "pause total (ms)",
            |x| x.pause_total_us / 1e3,
            false,
        ),
    ];
    for (n, (title, how, ylabel, get, log)) in charts.into_iter().enumerate() {
        let series = s
            .curves
            .iter()
            .map(|c| {
                let mut ser = Series::new(
                    &c.backend,
                    &colour(&c.backend),
                    c.points
                        .iter()
                        .filter(|pt| pt.failed.is_none())
                        .filter_map(|pt| pt.result.summary.map(|x| (pt.multiple, get(&x))))
                        .filter(|pt| !log || pt.1 > 0.0)
                        .collect(),
                );
                ser.dots = true;
                ser.failed = c
                    .points
                    .iter()
                    .filter_map(|pt| Some((pt.multiple, pt.failed.clone()?)))
                    .collect();
                ser
            })
            .collect();
        p.chart(
            title,
            how,
            line_chart(
                &format!("{id}-{n}"),
                &LineChart {
                    x: Axis {
                        label: "heap size (multiple of the smallest minimum heap)".into(),
                        log: true,
                        fmt: ratio_fmt,
                        from_zero: false,
                        ticks: s.multiples.clone(),
                    },
                    y: axis(ylabel, log, num_fmt),
                    series,
                },
            ),
        );
    }
    p.end_section();
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:0 1em 3em;color:#222}\
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}\
h3{margin:.2em 0;font-size:1.05em}.intro,figcaption p{color:#444;max-width:60em}\
table{border-collapse:collapse;margin:1em 0;font-size:.9em}th,td{padding:.25em .6em;border-bottom:1px solid #e4e4e4;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}\
figure{margin:1.5em 0}svg{max-width:100%;height:auto;font-family:system-ui,sans-serif}\
svg .tick{font-size:11px;fill:#333}svg .axis{font-size:12px;fill:#222}svg .fail{font-size:15px;font-weight:bold}\
svg .legend{cursor:pointer}svg .legend.off{opacity:.3}svg .hidden{display:none}\
nav ol{columns:3;font-size:.9em}footer{margin-top:3em;color:#666;font-size:.85em}";

const SCRIPT: &str = r#"(function(){
var errors=[];
window.addEventListener('error',function(e){errors.push(String(e.message));});
var ce=console.error;console.error=function(){errors.push(Array.prototype.join.call(arguments,' '));ce.apply(console,arguments);};
function check(){
  var figs=document.querySelectorAll('figure.chart'),drawn=0,empty=[];
  for(var i=0;i<figs.length;i++){
    var s=figs[i].querySelector('svg'),r=s&&s.getBoundingClientRect();
    var marks=s?s.querySelectorAll('path,rect.bar,circle').length:0;
    if(r&&r.width>100&&r.height>50&&marks>0){drawn++;}else{empty.push(figs[i].dataset.chart);}
  }
  var b=document.body;
  b.dataset.charts=figs.length;b.dataset.drawn=drawn;b.dataset.empty=empty.join(' ');
  b.dataset.errors=errors.join(' | ');b.dataset.check='done';
}
document.querySelectorAll('svg .legend').forEach(function(g){
  g.addEventListener('click',function(){
    var svg=g.closest('svg'),name=g.dataset.series,off=g.classList.toggle('off');
    svg.querySelectorAll('.series,.bar').forEach(function(el){
      if(el.dataset.series===name){el.classList.toggle('hidden',off);}
    });
  });
});
if(document.readyState==='complete'){check();}else{window.addEventListener('load',check);}
})();"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::pauses::{MmuPoint, PauseReport, Percentiles};
    use crate::bench::report::{PlottedRun, Summary};
    use crate::bench::trace::Curve;

    fn result(name: &str) -> BackendResult {
        BackendResult {
            backend: name.into(),
            summary: Some(Summary {
                wall_median_s: 0.5,
                peak_rss: 10 << 20,
                ..Summary::default()
            }),
            heap_curve: Some(PlottedRun {
                run: 0,
                curve: Curve {
                    points: vec![(0, 100), (1000, 5000), (2000, 300)],
                    collections: vec![(1500, 300)],
                },
            }),
            pauses: Some(PauseReport {
                all: Percentiles::of([10.0, 20.0]),
                histogram: vec![0, 1, 1],
                ..PauseReport::default()
            }),
            mmu: vec![
                MmuPoint {
                    window_ms: 1.0,
                    mmu: 0.5,
                },
                MmuPoint {
                    window_ms: 10.0,
                    mmu: 0.9,
                },
            ],
            ..BackendResult::default()
        }
    }

    #[test]
    fn a_page_is_self_contained_and_counts_its_charts() {
        let doc = Document {
            single: Some(Report {
                script: "x<y>.loam".into(),
                runs: 1,
                backends: vec![result("rc"), result("mark-compact")],
                ..Report::default()
            }),
            ..Document::default()
        };
        let html = page(&doc);
        assert!(html.starts_with("<!DOCTYPE html>"));
        for banned in ["http://", "https://", "<link", "src="] {
            let hits = html.matches(banned).count();
            let allowed = if banned == "http://" {
                html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
            } else {
                0
            };
            assert_eq!(hits, allowed, "{banned} in the page");
        }
        assert!(html.contains("x&lt;y&gt;.loam"));
        let figs = html.matches("<figure class=\"chart\"").count();
        assert_eq!(figs, 5, "heap, time, memory, histogram, MMU");
        assert!(html.contains(&format!("{figs} charts")));
        assert!(!html.contains("NaN"));
    }
}
