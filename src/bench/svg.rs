//! Charts as inline SVG text for the HTML report: line charts (linear or
//! log axes, staircase or straight lines, marks, failed points) and grouped
//! bar charts, with tick labels, a legend, and a `<title>` tooltip on every
//! point and bar. Nothing here knows about benchmarks; [`super::html`]
//! decides what to draw.

use std::fmt::Write;

const W: f64 = 760.0;
const H: f64 = 360.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 52.0;

/// Escapes text for XML and HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An axis: its label, scale, and how its numbers are written.
pub struct Axis {
    pub label: String,
    pub log: bool,
    pub fmt: fn(f64) -> String,
    /// Whether a linear axis starts at zero.
    pub from_zero: bool,
    /// Where to put ticks; empty: round values chosen here.
    pub ticks: Vec<f64>,
}

/// One line of a line chart.
pub struct Series {
    pub name: String,
    pub colour: String,
    pub points: Vec<(f64, f64)>,
    /// Draw as a staircase (a value holds until the next point).
    pub step: bool,
    /// Draw a dot (with a tooltip) at each point.
    pub dots: bool,
    /// Small crosses (collections on a heap curve).
    pub marks: Vec<(f64, f64)>,
    /// x positions where the run failed: drawn as × on the x axis.
    pub failed: Vec<(f64, String)>,
}

impl Series {
    pub fn new(name: &str, colour: &str, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.to_string(),
            colour: colour.to_string(),
            points,
            step: false,
            dots: false,
            marks: Vec::new(),
            failed: Vec::new(),
        }
    }
}

/// A line chart.
pub struct LineChart {
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
}

struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
    a: f64,
    b: f64,
}

impl Scale {
    fn new(lo: f64, hi: f64, log: bool, a: f64, b: f64) -> Scale {
        let (lo, hi) = if log {
            (lo.max(1e-12).log10(), hi.max(1e-12).log10())
        } else {
            (lo, hi)
        };
        let (lo, hi) = if hi - lo < 1e-12 {
            (lo - 0.5, hi + 0.5)
        } else {
            (lo, hi)
        };
        Scale { lo, hi, log, a, b }
    }

    fn at(&self, v: f64) -> f64 {
        let v = if self.log { v.max(1e-12).log10() } else { v };
        self.a + (v - self.lo) / (self.hi - self.lo) * (self.b - self.a)
    }

    /// Tick values: 1-2-5 steps on a linear axis, powers of ten (and 2, 5
    /// when there are few decades) on a log axis.
    fn ticks(&self) -> Vec<f64> {
        if self.log && self.hi - self.lo < 0.7 {
            // Less than a factor of 5: round values, linearly spaced.
            let lin = Scale::new(10f64.powf(self.lo), 10f64.powf(self.hi), false, 0.0, 1.0);
            lin.ticks().into_iter().filter(|&v| v > 0.0).collect()
        } else if self.log {
            let (a, b) = (self.lo.floor() as i32, self.hi.ceil() as i32);
            let mults: &[f64] = if b - a <= 2 { &[1.0, 2.0, 5.0] } else { &[1.0] };
            let mut t = Vec::new();
            for e in a..=b {
                for m in mults {
                    let v = m * 10f64.powi(e);
                    let l = v.log10();
                    if l >= self.lo - 1e-9 && l <= self.hi + 1e-9 {
                        t.push(v);
                    }
                }
            }
            t
        } else {
            let span = self.hi - self.lo;
            let raw = span / 6.0;
            let mag = 10f64.powf(raw.log10().floor());
            let step = [1.0, 2.0, 5.0, 10.0]
                .iter()
                .map(|m| m * mag)
                .find(|s| *s >= raw)
                .unwrap_or(10.0 * mag);
            let mut v = (self.lo / step).ceil() * step;
            let mut t = Vec::new();
            while v <= self.hi + step * 1e-9 && t.len() < 50 {
                t.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
                v += step;
            }
            t
        }
    }
}

fn range(vals: impl Iterator<Item = f64>, axis: &Axis) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite() && (!axis.log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return if axis.log { (1.0, 10.0) } else { (0.0, 1.0) };
    }
    if axis.log {
        (lo / 1.15, hi * 1.15)
    } else if axis.from_zero {
        (lo.min(0.0), hi + (hi - lo.min(0.0)).abs() * 0.06)
    } else {
        let pad = (hi - lo).abs() * 0.05;
        (lo - pad, hi + pad)
    }
}

fn frame(out: &mut String, x: &Scale, y: &Scale, xa: &Axis, ya: &Axis) {
    let _ = write!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="#fff" stroke="#999"/>"##,
        W - LEFT - RIGHT,
        H - TOP - BOTTOM
    );
    for t in y.ticks() {
        let py = y.at(t);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{py:.1}" y2="{py:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            py + 4.0,
            esc(&(ya.fmt)(t))
        );
    }
    let xt = if xa.ticks.is_empty() {
        x.ticks()
    } else {
        xa.ticks.clone()
    };
    for t in xt {
        let px = x.at(t);
        let _ = write!(
            out,
            r##"<line x1="{px:.1}" x2="{px:.1}" y1="{TOP}" y2="{}" stroke="#eee"/><text x="{px:.1}" y="{}" text-anchor="middle" class="tick">{}</text>"##,
            H - BOTTOM,
            H - BOTTOM + 16.0,
            esc(&(xa.fmt)(t))
        );
    }
    let _ = write!(
        out,
        r##"<text x="{:.1}" y="{}" text-anchor="middle" class="axis">{}</text><text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle" class="axis">{}</text>"##,
        (LEFT + W - RIGHT) / 2.0,
        H - 10.0,
        esc(&xa.label),
        (TOP + H - BOTTOM) / 2.0,
        esc(&ya.label)
    );
}

fn open(out: &mut String, id: &str) {
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" data-chart="{}">"##,
        esc(id)
    );
}

fn legend(out: &mut String, entries: &[(String, String)]) {
    for (i, (name, colour)) in entries.iter().enumerate() {
        let y = TOP + 10.0 + i as f64 * 20.0;
        let x = W - RIGHT + 12.0;
        let _ = write!(
            out,
            r##"<g class="legend" data-series="{n}"><rect x="{x}" y="{:.1}" width="14" height="10" fill="{colour}"/><text x="{:.1}" y="{:.1}" class="tick">{n}</text></g>"##,
            y - 8.0,
            x + 20.0,
            y + 1.0,
            n = esc(name)
        );
    }
}

/// A line chart as an `<svg>` element; `id` names it for the page's check.
pub fn line_chart(id: &str, c: &LineChart) -> String {
    let xs = c.series.iter().flat_map(|s| {
        s.points
            .iter()
            .map(|p| p.0)
            .chain(s.failed.iter().map(|f| f.0))
    });
    let ys = c.series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (x0, x1) = range(xs, &c.x);
    let (y0, y1) = range(ys, &c.y);
    let x = Scale::new(x0, x1, c.x.log, LEFT, W - RIGHT);
    let y = Scale::new(y0, y1, c.y.log, H - BOTTOM, TOP);
    let mut out = String::new();
    open(&mut out, id);
    frame(&mut out, &x, &y, &c.x, &c.y);
    for s in &c.series {
        let _ = write!(
            out,
            r##"<g class="series" data-series="{}">"##,
            esc(&s.name)
        );
        let mut d = String::new();
        let mut prev: Option<(f64, f64)> = None;
        for &(px, py) in s.points.iter().filter(|p| !c.y.log || p.1 > 0.0) {
            let (sx, sy) = (x.at(px), y.at(py));
            match prev {
                None => {
                    let _ = write!(d, "M{sx:.1},{sy:.1}");
                }
                Some((_, qy)) if s.step => {
                    let _ = write!(d, "L{sx:.1},{qy:.1}L{sx:.1},{sy:.1}");
                }
                Some(_) => {
                    let _ = write!(d, "L{sx:.1},{sy:.1}");
                }
            }
            prev = Some((sx, sy));
        }
        if !d.is_empty() {
            let _ = write!(
                out,
                r##"<path d="{d}" fill="none" stroke="{}" stroke-width="2"><title>{}</title></path>"##,
                s.colour,
                esc(&s.name)
            );
        }
        for &(px, py) in &s.marks {
            let (sx, sy) = (x.at(px), y.at(py));
            let _ = write!(
                out,
                r##"<path d="M{:.1},{:.1}l5,5m0,-5l-5,5" stroke="{}" stroke-width="1"/>"##,
                sx - 2.5,
                sy - 2.5,
                s.colour
            );
        }
        if s.dots {
            for &(px, py) in &s.points {
                let _ = write!(
                    out,
                    r##"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{}"><title>{}: {} = {}, {} = {}</title></circle>"##,
                    x.at(px),
                    y.at(py),
                    s.colour,
                    esc(&s.name),
                    esc(&c.x.label),
                    esc(&(c.x.fmt)(px)),
                    esc(&c.y.label),
                    esc(&(c.y.fmt)(py))
                );
            }
        }
        for (px, why) in &s.failed {
            let sx = x.at(*px);
            let sy = H - BOTTOM - 8.0;
            let _ = write!(
                out,
                r##"<text x="{sx:.1}" y="{sy:.1}" text-anchor="middle" fill="{}" class="fail">×<title>{}: {} at {}</title></text>"##,
                s.colour,
                esc(&s.name),
                esc(why),
                esc(&(c.x.fmt)(*px))
            );
        }
        out.push_str("</g>");
    }
    let entries: Vec<(String, String)> = c
        .series
        .iter()
        .map(|s| (s.name.clone(), s.colour.clone()))
        .collect();
    legend(&mut out, &entries);
    out.push_str("</svg>");
    out
}

/// A grouped bar chart: a group per category, a bar per series in it.
pub struct BarChart {
    pub categories: Vec<String>,
    /// (name, colour, a value per category; None: no bar).
    pub series: Vec<(String, String, Vec<Option<f64>>)>,
    pub y: Axis,
    /// A horizontal reference line (1.0 on normalised charts).
    pub reference: Option<f64>,
}

/// A bar chart as an `<svg>` element.
pub fn bar_chart(id: &str, c: &BarChart) -> String {
    let vals = c
        .series
        .iter()
        .flat_map(|s| s.2.iter().flatten().copied())
        .chain(c.reference);
    let (mut y0, y1) = range(vals, &c.y);
    if !c.y.log {
        y0 = y0.min(0.0);
    }
    let y = Scale::new(y0, y1, c.y.log, H - BOTTOM, TOP);
    let n = c.categories.len().max(1) as f64;
    let x = Scale::new(0.0, n, false, LEFT, W - RIGHT);
    let mut out = String::new();
    open(&mut out, id);
    let _ = write!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="#fff" stroke="#999"/>"##,
        W - LEFT - RIGHT,
        H - TOP - BOTTOM
    );
    for t in y.ticks() {
        let py = y.at(t);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{py:.1}" y2="{py:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            py + 4.0,
            esc(&(c.y.fmt)(t))
        );
    }
    let width = x.at(1.0) - x.at(0.0);
    let base = if c.y.log {
        y.at(10f64.powf(y.lo))
    } else {
        y.at(0.0)
    };
    for (k, cat) in c.categories.iter().enumerate() {
        let cx = x.at(k as f64 + 0.5);
        let rotate = c.categories.len() > 8;
        let _ = if rotate {
            write!(
                out,
                r##"<text transform="translate({cx:.1} {}) rotate(-35)" text-anchor="end" class="tick">{}</text>"##,
                H - BOTTOM + 12.0,
                esc(cat)
            )
        } else {
            write!(
                out,
                r##"<text x="{cx:.1}" y="{}" text-anchor="middle" class="tick">{}</text>"##,
                H - BOTTOM + 16.0,
                esc(cat)
            )
        };
        // The bars present in this group share its width, without gaps for
        // the missing ones.
        let present = c
            .series
            .iter()
            .filter(|s| s.2.get(k).copied().flatten().is_some())
            .count()
            .max(1) as f64;
        let slot = (width * 0.8 / present).min(width * 0.5);
        let left = cx - slot * present / 2.0;
        let mut g = 0.0;
        for (name, colour, v) in &c.series {
            let Some(val) = v.get(k).copied().flatten() else {
                continue;
            };
            let bx = left + g * slot;
            g += 1.0;
            let top = y.at(val);
            let _ = write!(
                out,
                r##"<rect class="bar" data-series="{n}" x="{bx:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>{n}, {}: {}</title></rect>"##,
                top.min(base),
                (slot - 1.0).max(1.0),
                (base - top).abs().max(0.5),
                esc(cat),
                esc(&(c.y.fmt)(val)),
                n = esc(name)
            );
        }
    }
    if let Some(r) = c.reference {
        let py = y.at(r);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{py:.1}" y2="{py:.1}" stroke="#333" stroke-dasharray="4 3"/>"##,
            W - RIGHT
        );
    }
    let _ = write!(
        out,
        r##"<text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle" class="axis">{}</text>"##,
        (TOP + H - BOTTOM) / 2.0,
        esc(&c.y.label)
    );
    let entries: Vec<(String, String)> = c
        .series
        .iter()
        .map(|s| (s.0.clone(), s.1.clone()))
        .collect();
    legend(&mut out, &entries);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(log: bool) -> Axis {
        Axis {
            label: "x <units>".into(),
            log,
            fmt: |v| format!("{v}"),
            from_zero: true,
            ticks: Vec::new(),
        }
    }

    #[test]
    fn linear_ticks_are_round_and_cover_the_range() {
        let s = Scale::new(0.0, 9.3, false, 0.0, 100.0);
        assert_eq!(s.ticks(), vec![0.0, 2.0, 4.0, 6.0, 8.0]);
        let l = Scale::new(1.0, 1000.0, true, 0.0, 100.0);
        assert_eq!(l.ticks(), vec![1.0, 10.0, 100.0, 1000.0]);
        assert!((l.at(10.0) - 100.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn line_chart_has_a_path_per_series_dots_and_escaped_text() {
        let mut a = Series::new("a&b", "#f00", vec![(1.0, 1.0), (2.0, 3.0)]);
        a.dots = true;
        a.failed.push((0.5, "heap limit exceeded".into()));
        let b = Series::new("c", "#00f", vec![(1.0, 2.0), (2.0, 2.0)]);
        let svg = line_chart(
            "t",
            &LineChart {
                x: axis(true),
                y: axis(false),
                series: vec![a, b],
            },
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("stroke-width=\"2\"").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("a&amp;b") && svg.contains("x &lt;units&gt;"));
        assert!(svg.contains("heap limit exceeded"));
        assert!(!svg.contains("NaN"), "{svg}");
    }

    #[test]
    fn bar_chart_skips_missing_values_and_draws_the_reference() {
        let svg = bar_chart(
            "b",
            &BarChart {
                categories: vec!["w1".into(), "w2".into()],
                series: vec![
                    ("a".into(), "#f00".into(), vec![Some(1.0), Some(2.5)]),
                    ("b".into(), "#00f".into(), vec![None, Some(1.0)]),
                ],
                y: axis(false),
                reference: Some(1.0),
            },
        );
        assert_eq!(svg.matches("class=\"bar\"").count(), 3);
        assert!(svg.contains("stroke-dasharray"));
        assert!(!svg.contains("NaN"), "{svg}");
        // An empty chart still draws its frame, without NaN.
        let empty = line_chart(
            "e",
            &LineChart {
                x: axis(false),
                y: axis(true),
                series: vec![],
            },
        );
        assert!(!empty.contains("NaN"), "{empty}");
    }
}
