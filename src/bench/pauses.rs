//! Pause distributions and minimum mutator utilization, from the collections
//! a run's trace records: percentiles (p50, p90, p99, max) of the pauses of
//! every measured run pooled, a histogram on a log scale, and MMU (Cheng and
//! Blelloch, PLDI 2001) for window sizes from 1 ms to the run's length.
//!
//! Collections of different processes may overlap (processes run on several
//! scheduler threads). MMU here is computed over the union of every
//! process's pauses: the fraction of each window in which no collection was
//! running anywhere, a lower bound on what the program got.

use serde::Serialize;

/// One collection: when it began, how long it stopped its process, which
/// process, and its kind (`minor`, `major`, or `full` for one-generation
/// backends).
#[derive(Clone, Debug, PartialEq)]
pub struct Pause {
    pub start_us: u64,
    pub pause_us: f64,
    pub pid: u64,
    pub kind: String,
}

/// Percentiles of a set of pauses (µs). Nearest-rank percentiles: p99 of
/// 100 pauses is the 99th smallest.
#[derive(Serialize, Clone, Copy, Debug, Default, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

/// The nearest-rank `q`-th percentile (0 < q ≤ 100) of sorted values.
fn rank(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let k = ((q / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[k.clamp(1, sorted.len()) - 1]
}

impl Percentiles {
    pub fn of(values: impl IntoIterator<Item = f64>) -> Percentiles {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        Percentiles {
            count: v.len() as u64,
            p50_us: rank(&v, 50.0),
            p90_us: rank(&v, 90.0),
            p99_us: rank(&v, 99.0),
            max_us: v.last().copied().unwrap_or(0.0),
        }
    }
}

/// Pause percentiles of one backend, all kinds together and by kind.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct PauseReport {
    pub all: Percentiles,
    /// Present when the backend has generations (its collections have kinds).
    pub minor: Option<Percentiles>,
    pub major: Option<Percentiles>,
    /// Counts of pauses per histogram bin; bin `i` holds pauses in
    /// `[HIST_EDGES_US[i], HIST_EDGES_US[i+1])` (the last bin is open).
    pub histogram: Vec<u64>,
}

/// Histogram bin edges (µs): 1-2-5 steps from 10 µs to 1 s.
pub const HIST_EDGES_US: [f64; 16] = [
    0.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5,
];

impl PauseReport {
    pub fn of(pauses: &[Pause]) -> PauseReport {
        let kind = |k: &str| {
            let v: Vec<f64> = pauses
                .iter()
                .filter(|p| p.kind == k)
                .map(|p| p.pause_us)
                .collect();
            (!v.is_empty()).then(|| Percentiles::of(v))
        };
        let mut histogram = vec![0u64; HIST_EDGES_US.len()];
        for p in pauses {
            let i = HIST_EDGES_US
                .iter()
                .rposition(|&e| p.pause_us >= e)
                .unwrap_or(0);
            histogram[i] += 1;
        }
        PauseReport {
            all: Percentiles::of(pauses.iter().map(|p| p.pause_us)),
            minor: kind("minor"),
            major: kind("major"),
            histogram,
        }
    }
}

/// MMU at one window size.
#[derive(Serialize, Clone, Copy, Debug, PartialEq)]
pub struct MmuPoint {
    pub window_ms: f64,
    /// The smallest fraction of any window of this size left to the program.
    pub mmu: f64,
}

/// The pauses as disjoint, sorted intervals `[start, end)` in µs.
fn union(pauses: &[Pause]) -> Vec<(f64, f64)> {
    let mut iv: Vec<(f64, f64)> = pauses
        .iter()
        .filter(|p| p.pause_us > 0.0 && p.pause_us.is_finite())
        .map(|p| (p.start_us as f64, p.start_us as f64 + p.pause_us))
        .collect();
    iv.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(iv.len());
    for (s, e) in iv {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// Paused time within `[a, b)`, with `prefix[i]` the paused time of the
/// first `i` intervals.
fn paused_in(iv: &[(f64, f64)], prefix: &[f64], a: f64, b: f64) -> f64 {
    // Intervals ending after a, starting before b.
    let lo = iv.partition_point(|&(_, e)| e <= a);
    let hi = iv.partition_point(|&(s, _)| s < b);
    if lo >= hi {
        return 0.0;
    }
    let mut t = prefix[hi] - prefix[lo];
    // Clip the two ends.
    t -= (a - iv[lo].0).max(0.0);
    t -= (iv[hi - 1].1 - b).max(0.0);
    t.max(0.0)
}

/// MMU of a run `length_us` long at `window_us`: the minimum over window
/// positions, which is reached with a window edge on a pause's edge.
pub fn mmu_at(iv: &[(f64, f64)], length_us: f64, window_us: f64) -> f64 {
    if window_us <= 0.0 || length_us <= 0.0 {
        return 1.0;
    }
    let w = window_us.min(length_us);
    let mut prefix = Vec::with_capacity(iv.len() + 1);
    prefix.push(0.0);
    for &(s, e) in iv {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + (e - s));
    }
    let last_start = length_us - w;
    let mut worst: f64 = 0.0;
    for &(s, e) in iv {
        for a in [s, e - w] {
            let a = a.clamp(0.0, last_start.max(0.0));
            worst = worst.max(paused_in(iv, &prefix, a, a + w));
        }
    }
    (1.0 - worst / w).clamp(0.0, 1.0)
}

/// MMU for window sizes from 1 ms to the run's length, four per decade.
pub fn mmu_curve(pauses: &[Pause], length_us: f64) -> Vec<MmuPoint> {
    let iv = union(pauses);
    let mut out = Vec::new();
    if length_us < 1.0 {
        return out;
    }
    let mut w = 1000.0f64;
    let step = 10f64.powf(0.25);
    loop {
        let last = w >= length_us;
        let window = w.min(length_us);
        out.push(MmuPoint {
            window_ms: window / 1e3,
            mmu: mmu_at(&iv, length_us, window),
        });
        if last {
            break;
        }
        w *= step;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(start_us: u64, pause_us: f64, kind: &str) -> Pause {
        Pause {
            start_us,
            pause_us,
            pid: 0,
            kind: kind.into(),
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v = Percentiles::of((1..=100).map(f64::from));
        assert_eq!(
            (v.p50_us, v.p90_us, v.p99_us, v.max_us),
            (50.0, 90.0, 99.0, 100.0)
        );
        assert_eq!(v.count, 100);
        let one = Percentiles::of([7.0]);
        assert_eq!((one.p50_us, one.p99_us, one.max_us), (7.0, 7.0, 7.0));
        assert_eq!(Percentiles::of([]), Percentiles::default());
    }

    #[test]
    fn kinds_and_histogram() {
        let ps = [
            p(0, 5.0, "minor"),
            p(10, 15.0, "minor"),
            p(50, 2000.0, "major"),
        ];
        let r = PauseReport::of(&ps);
        assert_eq!(r.all.count, 3);
        assert_eq!(r.minor.expect("minor").max_us, 15.0);
        assert_eq!(r.major.expect("major").p50_us, 2000.0);
        assert_eq!(r.histogram.iter().sum::<u64>(), 3);
        assert_eq!((r.histogram[0], r.histogram[1], r.histogram[8]), (1, 1, 1));
        let full = PauseReport::of(&[p(0, 1.0, "full")]);
        assert!(full.minor.is_none() && full.major.is_none());
    }

    #[test]
    fn mmu_of_one_pause() {
        // A 10 ms pause at 50 ms in a 100 ms run.
        let ps = [p(50_000, 10_000.0, "full")];
        let iv = union(&ps);
        assert_eq!(mmu_at(&iv, 100_000.0, 5_000.0), 0.0);
        assert!((mmu_at(&iv, 100_000.0, 20_000.0) - 0.5).abs() < 1e-9);
        assert!((mmu_at(&iv, 100_000.0, 100_000.0) - 0.9).abs() < 1e-9);
        assert_eq!(mmu_at(&[], 100_000.0, 1_000.0), 1.0);
    }

    #[test]
    fn mmu_of_clustered_pauses_and_overlaps() {
        // Two 1 ms pauses 1 ms apart: a 3 ms window holds both.
        let ps = [p(10_000, 1000.0, "full"), p(12_000, 1000.0, "full")];
        let iv = union(&ps);
        assert!((mmu_at(&iv, 50_000.0, 3_000.0) - 1.0 / 3.0).abs() < 1e-9);
        // Overlapping pauses of two processes count once.
        let ov = [p(0, 1000.0, "full"), p(500, 1000.0, "full")];
        assert_eq!(union(&ov), vec![(0.0, 1500.0)]);
        assert!((mmu_at(&union(&ov), 10_000.0, 10_000.0) - 0.85).abs() < 1e-9);
    }

    #[test]
    fn mmu_curve_rises_to_overall_utilization() {
        let ps: Vec<Pause> = (0..10).map(|i| p(i * 10_000, 1000.0, "full")).collect();
        let c = mmu_curve(&ps, 100_000.0);
        assert_eq!(c[0].window_ms, 1.0);
        assert_eq!(c[0].mmu, 0.0);
        let last = c.last().expect("points");
        assert_eq!(last.window_ms, 100.0);
        assert!((last.mmu - 0.9).abs() < 1e-9, "{last:?}");
        assert!(c.windows(2).all(|w| w[0].window_ms < w[1].window_ms));
    }
}
