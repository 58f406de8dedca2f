//! The time axis: time runs down, not to scale. Every thing drawn with a label has a row
//! of its own, at least [`ROW`] below the one before, so no two labels share a height;
//! between rows the height grows with the time between them, and a gap much longer than
//! the usual one ([`BREAK_RATIO`]) is cut to a break mark that says how long it was.

/// The least height between two rows (px): a line of 11 px text and some air.
pub(super) const ROW: f64 = 14.0;
/// A gap this many times the median gap between rows, or longer, is cut.
pub(super) const BREAK_RATIO: f64 = 10.0;
/// The height of a cut gap (px).
pub(super) const BREAK_H: f64 = 34.0;
/// About one tick every this many pixels, and never two closer than [`TICK_MIN_PX`].
const TICK_EVERY_PX: f64 = 80.0;
const TICK_MIN_PX: f64 = 20.0;

/// The times that want a row, in the order they were asked for.
#[derive(Debug, Default)]
pub(super) struct Rows {
    times: Vec<f64>,
    /// Spans of time never cut (a folded train: its packets are there, only not drawn).
    whole: Vec<(f64, f64)>,
}

impl Rows {
    /// A row at time `t` (ms); rows at the same time follow in the order asked for.
    pub(super) fn add(&mut self, t: f64) -> usize {
        self.times.push(t);
        self.times.len() - 1
    }

    /// Keeps the time from `from` to `to` uncut: a gap within it is drawn at most
    /// [`KEPT_MAX`] high instead.
    pub(super) fn keep_whole(&mut self, from: f64, to: f64) {
        self.whole.push((from, to));
    }
}

/// The most a gap inside a span kept whole is drawn (px).
const KEPT_MAX: f64 = 3.0 * ROW;

/// A cut gap: drawn between `top` and `bottom`, `ms` long.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Break {
    pub top: f64,
    pub bottom: f64,
    pub ms: f64,
}

/// Where each row is drawn.
#[derive(Debug)]
pub(super) struct Axis {
    ys: Vec<f64>,
    /// Each distinct time: (time, y of its first row, y of its last row).
    anchors: Vec<(f64, f64, f64)>,
    pub breaks: Vec<Break>,
    /// Below the last row.
    pub bottom: f64,
}

impl Axis {
    /// Lays the rows out from `top` down.
    pub(super) fn lay(rows: &Rows, top: f64) -> Axis {
        let mut order: Vec<usize> = (0..rows.times.len()).collect();
        order.sort_by(|&a, &b| rows.times[a].total_cmp(&rows.times[b]).then(a.cmp(&b)));
        let mut gaps: Vec<f64> = order
            .windows(2)
            .map(|w| rows.times[w[1]] - rows.times[w[0]])
            .filter(|d| *d > 0.0)
            .collect();
        gaps.sort_by(f64::total_cmp);
        let median = gaps.get(gaps.len() / 2).copied().unwrap_or(1.0);
        // The median gap gets one row's height.
        let px_per_ms = ROW / median;
        let mut ys = vec![0.0; rows.times.len()];
        let mut anchors: Vec<(f64, f64, f64)> = Vec::new();
        let mut breaks = Vec::new();
        let mut y = top;
        let mut prev: Option<f64> = None;
        for &k in &order {
            let t = rows.times[k];
            if let Some(p) = prev {
                let d = t - p;
                let kept = rows.whole.iter().any(|w| w.0 <= p && t <= w.1);
                if kept {
                    y += (d * px_per_ms).clamp(ROW, KEPT_MAX);
                } else if d >= BREAK_RATIO * median && d > 0.0 {
                    breaks.push(Break {
                        top: y + 0.75 * ROW,
                        bottom: y + 0.75 * ROW + BREAK_H,
                        ms: d,
                    });
                    y += BREAK_H + 1.5 * ROW;
                } else {
                    y += (d * px_per_ms).max(ROW);
                }
            }
            ys[k] = y;
            match anchors.last_mut() {
                Some(a) if a.0 == t => a.2 = y,
                _ => anchors.push((t, y, y)),
            }
            prev = Some(t);
        }
        Axis {
            ys,
            anchors,
            breaks,
            bottom: y + ROW,
        }
    }

    /// The height of row `row`.
    pub(super) fn y(&self, row: usize) -> f64 {
        self.ys[row]
    }

    /// The height of time `t`, between the rows around it; `None` inside a cut gap or
    /// outside the rows.
    fn at(&self, t: f64) -> Option<f64> {
        let i = self.anchors.partition_point(|a| a.0 < t);
        let b = self.anchors.get(i)?;
        if b.0 == t {
            return Some(b.1);
        }
        let a = self.anchors.get(i.checked_sub(1)?)?;
        if self.breaks.iter().any(|k| k.top > a.2 && k.bottom < b.1) {
            return None;
        }
        Some(a.2 + (t - a.0) / (b.0 - a.0) * (b.1 - a.2))
    }

    /// Round times with their heights, about one every [`TICK_EVERY_PX`], with the first
    /// time of each stretch between cuts; none closer than [`TICK_MIN_PX`] to another
    /// or to a cut.
    pub(super) fn ticks(&self) -> Vec<(f64, String)> {
        let mut stretches: Vec<&[(f64, f64, f64)]> = Vec::new();
        let mut from = 0;
        for i in 1..=self.anchors.len() {
            let cut = i == self.anchors.len()
                || self
                    .breaks
                    .iter()
                    .any(|k| k.top > self.anchors[i - 1].2 && k.bottom < self.anchors[i].1);
            if cut {
                stretches.push(&self.anchors[from..i]);
                from = i;
            }
        }
        let mut out: Vec<(f64, String)> = Vec::new();
        let mut last = f64::MIN;
        for s in stretches {
            let (t0, y0) = (s[0].0, s[0].1);
            let (t1, y1) = (s[s.len() - 1].0, s[s.len() - 1].2);
            let mut candidates = vec![(y0, ms(t0, None))];
            if t1 > t0 && y1 - y0 >= TICK_EVERY_PX {
                let step = nice((t1 - t0) / ((y1 - y0) / TICK_EVERY_PX));
                let mut t = (t0 / step).ceil() * step;
                while t <= t1 {
                    if let Some(y) = self.at(t) {
                        candidates.push((y, ms(t, Some(step))));
                    }
                    t += step;
                }
            }
            for (y, text) in candidates {
                let near_cut = self
                    .breaks
                    .iter()
                    .any(|k| y > k.top - TICK_MIN_PX && y < k.bottom + TICK_MIN_PX / 2.0);
                if y - last >= TICK_MIN_PX && !(near_cut && y != y0) {
                    out.push((y, text));
                    last = y;
                }
            }
        }
        out
    }
}

/// The round step (1, 2 or 5 times a power of ten) at or above `raw`.
fn nice(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag)
}

/// A time as a tick label: with the decimals its step needs (`12.5`), or with three
/// when it is a stretch's exact start.
fn ms(t: f64, step: Option<f64>) -> String {
    let decimals = match step {
        Some(s) => (-s.log10().floor()).clamp(0.0, 6.0) as usize,
        None => 3,
    };
    format!("{t:.decimals$}")
}

/// A cut gap's length: `812 µs`, `12.4 ms`, `4.98 s`.
pub(super) fn duration(ms: f64) -> String {
    if ms < 1.0 {
        format!("{:.0} µs", ms * 1000.0)
    } else if ms < 1000.0 {
        let t = format!("{ms:.1}");
        format!("{} ms", t.trim_end_matches(".0"))
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_at_the_same_time_are_a_row_apart_and_long_gaps_are_cut() {
        let mut rows = Rows::default();
        let a = rows.add(0.0);
        let b = rows.add(0.0);
        let c = rows.add(0.1);
        let d = rows.add(0.2);
        let e = rows.add(5000.0);
        let axis = Axis::lay(&rows, 0.0);
        assert_eq!(axis.y(b) - axis.y(a), ROW);
        assert!(axis.y(c) - axis.y(b) >= ROW);
        assert!(axis.y(d) > axis.y(c));
        assert_eq!(axis.breaks.len(), 1, "{:?}", axis.breaks);
        assert!((axis.breaks[0].ms - 4999.8).abs() < 1e-6);
        assert_eq!(axis.y(e) - axis.y(d), BREAK_H + 1.5 * ROW);
    }

    #[test]
    fn ticks_are_round_and_apart() {
        let mut rows = Rows::default();
        for i in 0..100 {
            rows.add(f64::from(i) * 0.37);
        }
        let axis = Axis::lay(&rows, 0.0);
        let ticks = axis.ticks();
        assert!(ticks.len() > 5, "{ticks:?}");
        assert!(ticks.windows(2).all(|w| w[1].0 - w[0].0 >= TICK_MIN_PX));
        assert_eq!(ticks[0].1, "0.000");
        assert!(ticks[1..].iter().all(|t| t.1.parse::<f64>().is_ok()));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(0.812), "812 µs");
        assert_eq!(duration(12.0), "12 ms");
        assert_eq!(duration(4980.0), "4.98 s");
    }
}
