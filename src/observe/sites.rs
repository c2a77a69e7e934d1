//! `--alloc-sites`: bytes and objects allocated per allocation site, for
//! every backend, and the report of them. The VM marks each allocating
//! instruction (the same points where it tells a site-tracking heap
//! `set_site`); what the heap's allocation counters grew by since the
//! previous mark is charged to the previous mark's site. Allocations before
//! the first mark (a process's arguments, a message copied in) go to
//! [`RUNTIME_SITE`]. The report lists, per process, the source lines that
//! allocated the most bytes, biggest first.

use crate::bytecode::chunk::Program;
use crate::observe::units::bytes as size_of;
use std::collections::HashMap;

/// The site of what the runtime, not an instruction, allocated.
pub const RUNTIME_SITE: u32 = u32::MAX;

/// One site's totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SiteUse {
    pub bytes: u64,
    pub objects: u64,
}

/// Bytes and objects per site, as the heap's counters moved between marks.
#[derive(Debug)]
pub struct SiteTally {
    by_site: HashMap<u32, SiteUse>,
    site: u32,
    bytes: u64,
    objects: u64,
}

impl SiteTally {
    /// A tally starting at the heap's counters now.
    pub fn new(bytes: u64, objects: u64) -> SiteTally {
        SiteTally {
            by_site: HashMap::new(),
            site: RUNTIME_SITE,
            bytes,
            objects,
        }
    }

    /// The next allocations come from `site`; the counters read `bytes`
    /// and `objects` (what grew since the last mark was the last site's).
    #[inline]
    pub fn mark(&mut self, site: u32, bytes: u64, objects: u64) {
        if bytes != self.bytes || objects != self.objects {
            self.charge(bytes, objects);
        }
        self.site = site;
    }

    #[cold]
    fn charge(&mut self, bytes: u64, objects: u64) {
        let e = self.by_site.entry(self.site).or_default();
        e.bytes += bytes.saturating_sub(self.bytes);
        e.objects += objects.saturating_sub(self.objects);
        self.bytes = bytes;
        self.objects = objects;
    }

    /// Every site's totals, with what was allocated since the last mark
    /// (the counters now read `bytes` and `objects`) charged to it.
    pub fn totals(&self, bytes: u64, objects: u64) -> Vec<(u32, SiteUse)> {
        let mut all = self.by_site.clone();
        if bytes != self.bytes || objects != self.objects {
            let e = all.entry(self.site).or_default();
            e.bytes += bytes.saturating_sub(self.bytes);
            e.objects += objects.saturating_sub(self.objects);
        }
        all.into_iter().filter(|(_, u)| u.objects > 0).collect()
    }
}

/// How many lines the report lists per process.
pub const TOP_SITES: usize = 20;

/// `alloc-sites:` lines for one process: its totals, then the top
/// [`TOP_SITES`] lines by bytes allocated.
pub fn report(process: &str, sites: &[(u32, SiteUse)], program: &Program) -> String {
    let mut by_line: HashMap<String, SiteUse> = HashMap::new();
    for (site, u) in sites {
        let line = if *site == RUNTIME_SITE {
            "<runtime: arguments and messages>".to_string()
        } else {
            program.site_line(*site)
        };
        let e = by_line.entry(line).or_default();
        e.bytes += u.bytes;
        e.objects += u.objects;
    }
    let mut rows: Vec<_> = by_line.into_iter().collect();
    rows.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then_with(|| a.0.cmp(&b.0)));
    let bytes: u64 = rows.iter().map(|r| r.1.bytes).sum();
    let objects: u64 = rows.iter().map(|r| r.1.objects).sum();
    let mut s = format!(
        "alloc-sites: {process}: {} in {} from {} line{}\n",
        size_of(bytes),
        count(objects, "object"),
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    );
    if rows.is_empty() {
        return s;
    }
    s.push_str(&format!(
        "alloc-sites: {process}:   {:>10} {:>6} {:>12}  line\n",
        "bytes", "share", "objects"
    ));
    for (line, u) in rows.iter().take(TOP_SITES) {
        s.push_str(&format!(
            "alloc-sites: {process}:   {:>10} {:>5.1}% {:>12}  {line}\n",
            size_of(u.bytes),
            100.0 * u.bytes as f64 / bytes.max(1) as f64,
            u.objects
        ));
    }
    if rows.len() > TOP_SITES {
        let (b, o) = rows[TOP_SITES..]
            .iter()
            .fold((0, 0), |acc, r| (acc.0 + r.1.bytes, acc.1 + r.1.objects));
        s.push_str(&format!(
            "alloc-sites: {process}:   {:>10} {:>5.1}% {:>12}  ({} more lines)\n",
            size_of(b),
            100.0 * b as f64 / bytes.max(1) as f64,
            o,
            rows.len() - TOP_SITES
        ));
    }
    s
}

/// `1 object`, `2 objects`.
fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_between_marks_is_the_earlier_sites() {
        let mut t = SiteTally::new(100, 3);
        t.mark(7, 140, 4); // 40 bytes, 1 object before any mark: the runtime's
        t.mark(9, 200, 6); // site 7 allocated 60 bytes in 2 objects
        t.mark(7, 200, 6); // site 9 allocated nothing
        let mut all = t.totals(232, 7); // site 7 again: 32 bytes, 1 object
        all.sort_by_key(|e| e.0);
        assert_eq!(
            all,
            vec![
                (
                    7,
                    SiteUse {
                        bytes: 92,
                        objects: 3
                    }
                ),
                (
                    RUNTIME_SITE,
                    SiteUse {
                        bytes: 40,
                        objects: 1
                    }
                ),
            ]
        );
    }
}
