//! Observing memory: the `--gc-trace` line for a collection, the trace
//! itself (`trace.rs`), `--gc-stats` tables and `--leak-check` reports.

pub mod trace;

use crate::heap::{Backend, GcEvent};

/// One line per collection, in the spirit of Go's `GODEBUG=gctrace=1`:
/// `gc N? mark-compact budget: pause 0.123 ms, 1.5 MB -> 0.4 MB, 12 -> 4 segments, live 0.4 MB, freed 1234`.
pub fn trace_line(e: &GcEvent, backend: Backend) -> String {
    let mb = |b: usize| b as f64 / (1024.0 * 1024.0);
    format!(
        "gc {} ({}): pause {:.3} ms, heap {:.3} MB -> {:.3} MB, segments {} -> {}, live {:.3} MB, freed {} objects",
        backend.name(),
        e.reason.name(),
        e.pause.as_secs_f64() * 1000.0,
        mb(e.bytes_before),
        mb(e.bytes_after),
        e.segments_before,
        e.segments_after,
        mb(e.live_bytes),
        e.freed_objects
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
