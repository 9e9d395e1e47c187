//! A numeric time series for plotting, bounded in memory, with decimation by pixel column: whatever the
//! number of points in view, a plot gets at most two points (min and max) per column of pixels, so a
//! stream of a million points draws as fast as one of a thousand.
//!
//! Points are kept sorted by time. A min/max summary per block of [`BLOCK`] points lets decimation skip
//! whole blocks that fall inside one pixel column instead of visiting every point.

/// Points per summary block.
pub const BLOCK: usize = 256;

/// Most points one series keeps; the oldest go first. 2^21 ≈ 2 M points ≈ 32 MiB.
pub const MAX_POINTS: usize = 1 << 21;

#[derive(Debug, Clone)]
pub struct Series {
    /// Seconds since the Unix epoch (f64: exact to well below a millisecond for centuries).
    t: Vec<f64>,
    v: Vec<f64>,
    /// (min, max) of each full or partial block of `BLOCK` points.
    blocks: Vec<(f64, f64)>,
    cap: usize,
}

impl Default for Series {
    fn default() -> Series {
        Series::new()
    }
}

impl Series {
    pub fn new() -> Series {
        Series::with_capacity_limit(MAX_POINTS)
    }

    /// A series that keeps at most `cap` points (rounded up to a whole block).
    pub fn with_capacity_limit(cap: usize) -> Series {
        Series {
            t: Vec::new(),
            v: Vec::new(),
            blocks: Vec::new(),
            cap: cap.max(BLOCK).div_ceil(BLOCK) * BLOCK,
        }
    }

    pub fn len(&self) -> usize {
        self.t.len()
    }

    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// Time range (seconds) and value range, if any point.
    pub fn bounds(&self) -> Option<((f64, f64), (f64, f64))> {
        let (first, last) = (*self.t.first()?, *self.t.last()?);
        let (lo, hi) = self
            .blocks
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &(mn, mx)| {
                (a.min(mn), b.max(mx))
            });
        Some(((first, last), (lo, hi)))
    }

    pub fn last(&self) -> Option<(f64, f64)> {
        Some((*self.t.last()?, *self.v.last()?))
    }

    /// The point nearest in time to `t`.
    pub fn nearest(&self, t: f64) -> Option<(f64, f64)> {
        if self.t.is_empty() {
            return None;
        }
        let i = self.t.partition_point(|&x| x < t);
        let best = [i.saturating_sub(1), i.min(self.t.len() - 1)]
            .into_iter()
            .min_by(|&a, &b| (self.t[a] - t).abs().total_cmp(&(self.t[b] - t).abs()))?;
        Some((self.t[best], self.v[best]))
    }

    /// Adds a point, keeping time order (a late point is inserted in place). Non-finite values are skipped.
    pub fn push(&mut self, t: f64, v: f64) {
        if !t.is_finite() || !v.is_finite() {
            return;
        }
        if self.t.last().is_none_or(|&last| t >= last) {
            self.t.push(t);
            self.v.push(v);
            let i = self.t.len() - 1;
            if i.is_multiple_of(BLOCK) {
                self.blocks.push((v, v));
            } else if let Some(b) = self.blocks.last_mut() {
                *b = (b.0.min(v), b.1.max(v));
            }
        } else {
            let i = self.t.partition_point(|&x| x <= t);
            self.t.insert(i, t);
            self.v.insert(i, v);
            self.rebuild_blocks_from(i / BLOCK);
        }
        if self.t.len() > self.cap {
            // Drop the oldest quarter at once (whole blocks): amortised O(1) per point.
            let cut = self.cap / 4;
            self.t.drain(..cut);
            self.v.drain(..cut);
            self.rebuild_blocks_from(0);
        }
    }

    /// Adds many points (sorted or not).
    pub fn extend(&mut self, points: impl IntoIterator<Item = (f64, f64)>) {
        for (t, v) in points {
            self.push(t, v);
        }
    }

    fn rebuild_blocks_from(&mut self, block: usize) {
        self.blocks.truncate(block);
        for chunk in self.v[block * BLOCK..].chunks(BLOCK) {
            let (mn, mx) = chunk
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                    (a.min(x), b.max(x))
                });
            self.blocks.push((mn, mx));
        }
    }

    /// Points to draw for the time range `[t0, t1]` on `columns` pixel columns: every point when there are
    /// few, otherwise the first point, the min and max of each column (in time order), and the last. One
    /// point on each side just outside the range is included so the line reaches the plot's edges.
    pub fn decimate(&self, t0: f64, t1: f64, columns: usize) -> Vec<[f64; 2]> {
        let n = self.t.len();
        if n == 0 || t1 < t0 {
            return Vec::new();
        }
        let start = self.t.partition_point(|&x| x < t0).saturating_sub(1);
        let end = (self.t.partition_point(|&x| x <= t1) + 1).min(n);
        if start >= end {
            return Vec::new();
        }
        let columns = columns.max(1);
        if end - start <= columns * 2 {
            return (start..end).map(|i| [self.t[i], self.v[i]]).collect();
        }
        let mut out = Vec::with_capacity(columns * 2 + 2);
        out.push([self.t[start], self.v[start]]);
        let width = (t1 - t0) / columns as f64;
        let mut i = start + 1;
        let last = end - 1;
        while i < last {
            // The column of point i, and the first index past it.
            let col = ((self.t[i] - t0) / width).floor();
            let col_end_t = t0 + (col + 1.0) * width;
            let j = (i + self.t[i..last].partition_point(|&x| x < col_end_t)).max(i + 1);
            let (imin, imax) = self.min_max_index(i, j);
            let (a, b) = if imin <= imax {
                (imin, imax)
            } else {
                (imax, imin)
            };
            out.push([self.t[a], self.v[a]]);
            if b != a {
                out.push([self.t[b], self.v[b]]);
            }
            i = j;
        }
        out.push([self.t[last], self.v[last]]);
        out
    }

    /// Indexes of the min and max value in `[i, j)`, using whole-block summaries where possible.
    fn min_max_index(&self, i: usize, j: usize) -> (usize, usize) {
        let (mut imin, mut imax) = (i, i);
        let mut k = i;
        while k < j {
            let b = k / BLOCK;
            if k.is_multiple_of(BLOCK) && k + BLOCK <= j {
                let (mn, mx) = self.blocks[b];
                if mn < self.v[imin] {
                    imin = k + self.v[k..k + BLOCK]
                        .iter()
                        .position(|&x| x == mn)
                        .unwrap_or(0);
                }
                if mx > self.v[imax] {
                    imax = k + self.v[k..k + BLOCK]
                        .iter()
                        .position(|&x| x == mx)
                        .unwrap_or(0);
                }
                k += BLOCK;
            } else {
                if self.v[k] < self.v[imin] {
                    imin = k;
                }
                if self.v[k] > self.v[imax] {
                    imax = k;
                }
                k += 1;
            }
        }
        (imin, imax)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_points_are_returned_as_they_are() {
        let mut s = Series::new();
        s.extend([(3.0, 30.0), (1.0, 10.0), (2.0, 20.0)]);
        assert_eq!(
            s.decimate(0.0, 10.0, 100),
            vec![[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]]
        );
        assert_eq!(s.nearest(2.4), Some((2.0, 20.0)));
        assert_eq!(s.bounds(), Some(((1.0, 3.0), (10.0, 30.0))));
    }

    #[test]
    fn a_million_points_become_two_per_column_and_keep_the_extremes() {
        let mut s = Series::new();
        for i in 0..1_000_000u32 {
            let v = if i == 777_777 {
                1000.0
            } else if i == 123_456 {
                -1000.0
            } else {
                (i as f64 * 0.001).sin()
            };
            s.push(i as f64, v);
        }
        let d = s.decimate(0.0, 1_000_000.0, 800);
        assert!(d.len() <= 2 * 800 + 2, "{}", d.len());
        assert!(d.iter().any(|p| p[1] == 1000.0));
        assert!(d.iter().any(|p| p[1] == -1000.0));
        assert!(d.windows(2).all(|w| w[0][0] <= w[1][0]), "time order");
        // A zoomed-in view returns the raw points plus one on each side.
        let z = s.decimate(100.0, 199.0, 800);
        assert_eq!(z.len(), 102);
        assert_eq!(z[0][0], 99.0);
    }

    #[test]
    fn a_default_series_keeps_points() {
        let mut s = Series::default();
        for i in 0..5000 {
            s.push(i as f64, 1.0);
        }
        assert_eq!(s.len(), 5000);
    }

    #[test]
    fn memory_is_bounded() {
        let mut s = Series::with_capacity_limit(1024);
        for i in 0..10_000 {
            s.push(i as f64, 1.0);
        }
        assert!(s.len() <= 1024);
        assert_eq!(s.last(), Some((9999.0, 1.0)));
        s.push(f64::NAN, 1.0);
        assert!(s.len() <= 1024);
    }
}
