//! Observing memory: the `--gc-trace` line for a collection, the trace
//! itself (`trace.rs`), `--gc-stats` tables and `--leak-check` reports.

pub mod sites;
pub mod trace;
pub mod units;

/// Writes `text` to stderr, ignoring failure: a closed or full stderr must
/// not stop (or panic) the runtime, as `eprint!` would.
pub fn to_stderr(text: &str) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// [`to_stderr`] with formatting, like `eprint!`.
#[macro_export]
macro_rules! errprint {
    ($($arg:tt)*) => { $crate::observe::to_stderr(&format!($($arg)*)) };
}

/// [`to_stderr`] with formatting and a newline, like `eprintln!`.
#[macro_export]
macro_rules! errprintln {
    ($($arg:tt)*) => { $crate::observe::to_stderr(&format!("{}\n", format_args!($($arg)*))) };
}

use crate::heap::{Backend, GcEvent, HeapStats};

/// One line per collection, in the spirit of Go's `GODEBUG=gctrace=1`:
/// `gc mark-compact (budget): pause 0.123 ms, heap 1.50 MB -> 412 KB, segments 12 -> 4, live 96 B, freed 1 object`.
/// Sizes use the unit that fits the number ([`units::bytes`]). The
/// generational backend's lines say which kind: `gc generational minor (budget): ...`.
pub fn trace_line(e: &GcEvent, backend: Backend) -> String {
    let size = |b: usize| units::bytes(b as u64);
    let kind = match e.kind {
        crate::heap::GcKind::Full => String::new(),
        k => format!(" {}", k.name()),
    };
    format!(
        "gc {}{kind} ({}): pause {:.3} ms, heap {} -> {}, segments {} -> {}, live {}, freed {}",
        backend.name(),
        e.reason.name(),
        e.pause.as_secs_f64() * 1000.0,
        size(e.bytes_before),
        size(e.bytes_after),
        e.segments_before,
        e.segments_after,
        size(e.live_bytes),
        units::count(e.freed_objects, "object", "objects")
    )
}

/// The `--gc-stats` table: one row per process.
pub fn stats_table(rows: &[(&str, Backend, crate::heap::HeapStats)]) -> String {
    let mut s = stats_header();
    for (name, backend, st) in rows {
        s.push_str(&stats_row(name, *backend, st));
    }
    s
}

/// The `--gc-stats` table's header line.
pub fn stats_header() -> String {
    format!(
        "{:<16} {:<13} {:>14} {:>12} {:>12} {:>9} {:>6} {:>10} {:>11} {:>10}\n",
        "process",
        "backend",
        "allocated",
        "live",
        "heap",
        "segments",
        "gcs",
        "freed",
        "pause total",
        "pause max"
    )
}

/// One process's `--gc-stats` row.
pub fn stats_row(name: &str, backend: Backend, st: &crate::heap::HeapStats) -> String {
    format!(
        "{:<16} {:<13} {:>14} {:>12} {:>12} {:>9} {:>6} {:>10} {:>9.3}ms {:>8.3}ms\n",
        name,
        backend.name(),
        st.allocated_bytes,
        st.live_bytes,
        st.heap_bytes,
        st.segments,
        st.collections,
        st.freed_objects,
        st.pause_total.as_secs_f64() * 1e3,
        st.pause_max.as_secs_f64() * 1e3
    )
}

/// The `--leak-check` lines for one process: objects and bytes never
/// released, grouped by the source line that allocated them, biggest first.
pub fn leak_report(
    process: &str,
    leaks: &[crate::heap::Leak],
    program: &crate::bytecode::chunk::Program,
) -> String {
    let mut by_line: std::collections::BTreeMap<String, (u64, u64)> =
        std::collections::BTreeMap::new();
    for l in leaks {
        let e = by_line.entry(program.site_line(l.site)).or_default();
        e.0 += l.objects;
        e.1 += l.bytes;
    }
    let mut rows: Vec<_> = by_line.into_iter().collect();
    rows.sort_by(|a, b| b.1.1.cmp(&a.1.1).then_with(|| a.0.cmp(&b.0)));
    let (objects, bytes) = rows
        .iter()
        .fold((0, 0), |acc, (_, (o, b))| (acc.0 + o, acc.1 + b));
    let mut s = String::new();
    if objects == 0 {
        s.push_str(&format!("leak-check: {process}: nothing left unreleased\n"));
        return s;
    }
    s.push_str(&format!(
        "leak: {process}: {objects} objects, {bytes} bytes never released\n"
    ));
    for (line, (o, b)) in rows {
        s.push_str(&format!(
            "leak: {process}:   {o} objects, {b} bytes allocated at {line}\n"
        ));
    }
    s
}

/// The REPL's `:heap` view: one cell per segment showing how full it is
/// (` ` empty, `▁`…`▇` partly, `█` full), 64 to a row, the nursery
/// (generational) and large spans on rows of their own, then the totals.
pub fn heap_map(backend: Backend, map: &[crate::heap::SegmentUse], st: &HeapStats) -> String {
    const CELLS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    const PER_ROW: usize = 64;
    let cell = |u: &crate::heap::SegmentUse| {
        let f = if u.bytes == 0 {
            0.0
        } else {
            u.used as f64 / u.bytes as f64
        };
        // Round up, so a segment with anything in it never looks empty.
        CELLS[((f.clamp(0.0, 1.0) * 8.0).ceil() as usize).min(8)]
    };
    let mut s = String::new();
    let (held, used) = map
        .iter()
        .fold((0, 0), |a, u| (a.0 + u.bytes, a.1 + u.used));
    let pct = if held == 0 {
        0.0
    } else {
        100.0 * used as f64 / held as f64
    };
    s.push_str(&format!(
        "{} heap: {} segments, {} held, {} in use ({pct:.0}%)\n",
        backend.name(),
        map.len(),
        units::bytes(held as u64),
        units::bytes(used as u64),
    ));
    let rows = |f: &dyn Fn(&crate::heap::SegmentUse) -> bool| -> Vec<_> {
        map.iter().enumerate().filter(|(_, u)| f(u)).collect()
    };
    let nursery = rows(&|u| u.nursery);
    if let Some((_, n)) = nursery.first() {
        s.push_str(&format!(
            "nursery: {} of {} in use{}\n",
            units::bytes(n.used as u64),
            units::bytes(n.bytes as u64),
            if n.bytes == 0 { " (none held)" } else { "" }
        ));
    }
    let small = rows(&|u| !u.large && !u.nursery);
    let large = rows(&|u| u.large);
    for (label, list) in [("nursery ", nursery), ("", small), ("large ", large)] {
        for row in list.chunks(PER_ROW) {
            let first = row.first().map_or(0, |(i, _)| *i);
            let cells: String = row.iter().map(|(_, u)| cell(u)).collect();
            s.push_str(&format!("{label}{first:>5} |{cells}|\n"));
        }
    }
    let mut sizes: std::collections::BTreeMap<usize, usize> = Default::default();
    for u in map.iter().filter(|u| !u.large && !u.nursery) {
        *sizes.entry(u.bytes).or_default() += 1;
    }
    if !sizes.is_empty() {
        let list: Vec<String> = sizes
            .iter()
            .map(|(b, n)| format!("{n} x {}", units::bytes(*b as u64)))
            .collect();
        s.push_str(&format!("segment sizes: {}\n", list.join(", ")));
    }
    s.push_str(&format!(
        "live {} ({}), {} allocated in all, {} collections\n",
        units::bytes(st.live_bytes as u64),
        if backend.live_is_exact() {
            "exact"
        } else {
            "as of the last collection"
        },
        units::bytes(st.allocated_bytes),
        st.collections
    ));
    s.push_str("cells: ' ' empty, '▁'..'▇' partly full, '█' full");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::SegmentUse;

    fn seg(bytes: usize, used: usize, large: bool) -> SegmentUse {
        SegmentUse {
            bytes,
            used,
            large,
            nursery: false,
        }
    }

    #[test]
    fn heap_map_draws_a_cell_per_segment_by_fullness() {
        let map = [
            seg(16384, 0, false),
            seg(16384, 1, false),
            seg(16384, 8192, false),
            seg(16384, 16384, false),
            seg(65536, 60000, true),
        ];
        let s = heap_map(Backend::Rc, &map, &HeapStats::default());
        assert!(s.starts_with("rc heap: 5 segments"), "{s}");
        assert!(s.contains("    0 | ▁▄█|"), "{s}");
        assert!(s.contains("large     4 |█|"), "{s}");
        assert!(s.contains("segment sizes: 4 x 16.0 KB"), "{s}");
    }

    #[test]
    fn heap_map_of_an_empty_heap() {
        let s = heap_map(Backend::MarkCompact, &[], &HeapStats::default());
        assert!(
            s.starts_with("mark-compact heap: 0 segments, 0 B held"),
            "{s}"
        );
    }
}
