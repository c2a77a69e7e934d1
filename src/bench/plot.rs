//! `--plot FILE.svg`: heap size over time for each backend on one chart, each
//! collection marked; under it, bar charts of median wall time and peak RSS.
//!
//! Text is written as SVG `<text>` for the viewer to render, so no font files
//! are needed (plotters without its `ttf` feature only estimates text widths).

use super::report::{BackendResult, Report};
use crate::heap::Backend;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use std::error::Error;
use std::path::Path;

const WIDTH: u32 = 1100;
const HEIGHT: u32 = 860;
const FONT: &str = "sans-serif";

/// Colours for the backends, in registry order (`Backend::ALL`): the
/// matplotlib "tab10" colours, red, blue and green first.
const PALETTE: [RGBColor; 10] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
    RGBColor(188, 189, 34),
    RGBColor(127, 127, 127),
];

/// A colour per backend, the same in every panel and every chart.
pub fn colour(backend: &str) -> RGBColor {
    Backend::parse(backend).map_or(PALETTE[PALETTE.len() - 1], |b| {
        PALETTE[b.index() % PALETTE.len()]
    })
}

const MB: f64 = (1u64 << 20) as f64;

/// Draws the chart into `path`; the error is a message.
pub fn draw(rep: &Report, path: &Path) -> Result<(), String> {
    draw_inner(rep, path).map_err(|e| e.to_string())
}

fn draw_inner(rep: &Report, path: &Path) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(540);
    let drawn: Vec<&BackendResult> = rep
        .backends
        .iter()
        .filter(|b| b.summary.is_some())
        .collect();
    heap_panel(rep, &drawn, &top)?;
    let (left, right) = bottom.split_horizontally(WIDTH / 2);
    let wall: Vec<(f64, f64, f64)> = drawn
        .iter()
        .filter_map(|b| b.summary)
        .map(|s| (s.wall_median_s, s.wall_min_s, s.wall_max_s))
        .collect();
    let (scale, unit) = if wall.iter().all(|w| w.2 < 1.0) {
        (1e3, "ms")
    } else {
        (1.0, "s")
    };
    let wall: Vec<(f64, f64, f64)> = wall
        .iter()
        .map(|w| (w.0 * scale, w.1 * scale, w.2 * scale))
        .collect();
    let names: Vec<&str> = drawn.iter().map(|b| b.backend.as_str()).collect();
    bars(
        &left,
        &format!("Wall time, median of {} runs (bar: min-max)", rep.runs),
        &format!("wall time ({unit})"),
        &names,
        &wall,
    )?;
    let rss: Vec<(f64, f64, f64)> = drawn
        .iter()
        .map(|b| {
            let v: Vec<f64> = b.runs.iter().map(|r| r.peak_rss as f64 / MB).collect();
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(0.0, f64::max);
            let med = b.summary.map_or(0.0, |s| s.peak_rss as f64 / MB);
            (med, lo.min(med), hi.max(med))
        })
        .collect();
    bars(
        &right,
        "Peak RSS, median (bar: min-max)",
        "peak RSS (MB)",
        &names,
        &rss,
    )?;
    root.present()?;
    Ok(())
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn heap_panel(rep: &Report, drawn: &[&BackendResult], area: &Area) -> Result<(), Box<dyn Error>> {
    type Points = Vec<(f64, f64)>;
    let curves: Vec<(&str, Points, Points)> = drawn
        .iter()
        .filter_map(|b| {
            let c = &b.heap_curve.as_ref()?.curve;
            let pts = steps(
                c.points
                    .iter()
                    .map(|&(t, h)| (t as f64 / 1e3, h as f64 / MB)),
            );
            let gcs = c
                .collections
                .iter()
                .map(|&(t, h)| (t as f64 / 1e3, h as f64 / MB))
                .collect();
            Some((b.backend.as_str(), pts, gcs))
        })
        .collect();
    let max_t = curves
        .iter()
        .flat_map(|c| c.1.iter().map(|p| p.0))
        .fold(0.0, f64::max);
    let max_h = curves
        .iter()
        .flat_map(|c| c.1.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let script = std::iter::once(display_name(&rep.script))
        .chain(rep.args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("Heap size over time: {script} (median run of each backend; × = a collection)"),
            (FONT, 20),
        )
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..max_t.max(1.0) * 1.02, 0.0..max_h.max(0.01) * 1.08)?;
    chart
        .configure_mesh()
        .x_desc("time since the run started (ms)")
        .y_desc("heap, all processes (MB)")
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .max_light_lines(2)
        .light_line_style(RGBColor(238, 238, 238))
        .draw()?;
    for (name, pts, gcs) in &curves {
        let c = colour(name);
        let n = gcs.len();
        let label = format!("{name} ({n} collection{})", if n == 1 { "" } else { "s" });
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(3)));
        chart.draw_series(gcs.iter().map(|&p| Cross::new(p, 3, c.stroke_width(1))))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// A heap size holds until the next event: a staircase, not slopes.
fn steps(pts: impl Iterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (t, h) in pts {
        if let Some(&(_, prev)) = out.last() {
            out.push((t, prev));
        }
        out.push((t, h));
    }
    out
}

fn display_name(script: &str) -> String {
    Path::new(script)
        .file_name()
        .map_or_else(|| script.to_string(), |n| n.to_string_lossy().into_owned())
}

/// A bar per backend at `v.0`, with a whisker from `v.1` to `v.2`.
fn bars(
    area: &Area,
    title: &str,
    y_desc: &str,
    names: &[&str],
    v: &[(f64, f64, f64)],
) -> Result<(), Box<dyn Error>> {
    let n = names.len().max(1) as i32;
    let top = v.iter().map(|x| x.2.max(x.0)).fold(0.0, f64::max).max(1e-9) * 1.18;
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 17))
        .margin(12)
        .x_label_area_size(35)
        .y_label_area_size(70)
        .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(names.len().max(1))
        .x_label_formatter(&|x: &SegmentValue<i32>| match x {
            SegmentValue::CenterOf(i) => names
                .get(*i as usize)
                .map_or(String::new(), |s| s.to_string()),
            _ => String::new(),
        })
        .y_desc(y_desc)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .max_light_lines(2)
        .light_line_style(RGBColor(238, 238, 238))
        .draw()?;
    for (i, (name, &(val, lo, hi))) in names.iter().zip(v).enumerate() {
        let i = i as i32;
        let c = colour(name);
        let mut bar = Rectangle::new(
            [
                (SegmentValue::Exact(i), 0.0),
                (SegmentValue::Exact(i + 1), val),
            ],
            c.mix(0.8).filled(),
        );
        bar.set_margin(0, 0, 40, 40);
        chart.draw_series(std::iter::once(bar))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![
                (SegmentValue::CenterOf(i), lo),
                (SegmentValue::CenterOf(i), hi),
            ],
            BLACK.stroke_width(2),
        )))?;
        let text = super::units::sig3(val);
        let style =
            TextStyle::from((FONT, 14).into_font()).pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Bottom,
            ));
        chart.draw_series(std::iter::once(Text::new(
            text,
            (SegmentValue::CenterOf(i), hi.max(val) + top * 0.02),
            style,
        )))?;
    }
    Ok(())
}
