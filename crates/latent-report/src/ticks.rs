//! Axis ticks: where the numbers of an axis go and how they are written.
//!
//! - [`linear_ticks`]: "nice" steps (1, 2 or 5 × 10ᵏ; 2.5 × 10ᵏ only where none of those gives
//!   4 to 8 ticks), optionally integers only (epochs);
//! - [`log_ticks`]: powers of ten when the range holds at least four of them (every second,
//!   third… power for very wide ranges), 1-2-5 or 1-3 multiples of powers of ten over a few
//!   decades, and linear nice ticks inside a range narrower than that (120–255 gets
//!   140, 160, …, 240 rather than no number at all);
//! - [`value_labels`]: numbers written with as many decimals as it takes for them to be
//!   distinct (and exact where a few more decimals make them so).

use std::ops::Range;

/// The fewest ticks an axis gets when its range allows.
pub const MIN_TICKS: usize = 4;
/// The most ticks an axis gets.
pub const MAX_TICKS: usize = 8;

/// The ticks of an axis: positions (increasing) and their labels, index for index.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticks {
    /// Where the ticks are, in data units, increasing.
    pub values: Vec<f64>,
    /// What each tick says.
    pub labels: Vec<String>,
}

impl Ticks {
    fn linear(values: Vec<f64>) -> Ticks {
        let labels = value_labels(&values);
        Ticks { values, labels }
    }
}

/// Relative tolerance of "on a tick" and "exact".
const EPS: f64 = 1e-9;

/// `mantissa × 10^exp`, computed so that the decimal value is the nearest double
/// (`0.1 × 3` is `0.3`, not `0.30000000000000004`).
fn scaled(mantissa: f64, exp: i32) -> f64 {
    if exp >= 0 {
        mantissa * 10f64.powi(exp)
    } else {
        mantissa / 10f64.powi(-exp)
    }
}

/// The multiples of `m × 10^k` inside `range` (a tolerance of `EPS` steps at each end).
fn multiples(range: &Range<f64>, m: f64, k: i32) -> Vec<f64> {
    let step = scaled(m, k);
    if !(step.is_finite() && step > 0.0) {
        return Vec::new();
    }
    let first = (range.start / step - EPS).ceil();
    let last = (range.end / step + EPS).floor();
    if !(first.is_finite() && last.is_finite()) || last < first || last - first > 1e4 {
        return Vec::new();
    }
    let n = (last - first) as i64;
    (0..=n)
        .map(|i| {
            let units = (first + i as f64) * m;
            if units == 0.0 { 0.0 } else { scaled(units, k) }
        })
        .collect()
}

/// Nice linear ticks inside `range`: the multiples of the largest step of 1, 2 or 5 × 10ᵏ
/// that gives between [`MIN_TICKS`] and [`MAX_TICKS`] of them (2.5 × 10ᵏ where none does).
/// With `integers`, only integer steps (so integer ticks): `1..3` gets 1, 2, 3 and `1..300`
/// 50, 100, …, 300; a range holding fewer than four integers gets those it holds.
///
/// A range that is empty or a single point (`start ≥ end`) or not finite gets no ticks:
/// widen it first (as [`Axis`] does).
pub fn linear_ticks(range: Range<f64>, integers: bool) -> Ticks {
    let span = range.end - range.start;
    if !(span.is_finite() && span > 0.0 && range.start.is_finite()) {
        return Ticks::linear(Vec::new());
    }
    // Exponent of the step giving about one tick: the candidates go from ~100 ticks to ~1.
    let top = span.log10().floor() as i32;
    let low = if integers { 0.max(top - 2) } else { top - 2 };
    let mut fallback: Option<Vec<f64>> = None;
    let mut best: Option<Vec<f64>> = None;
    for k in low..=top + 1 {
        for m in [1.0, 2.0, 2.5, 5.0] {
            let ticks = multiples(&range, m, k);
            if !(MIN_TICKS..=MAX_TICKS).contains(&ticks.len()) {
                continue;
            }
            // Steps increase along the loop: the last one that fits is the largest.
            if m == 2.5 {
                if integers && k < 1 {
                    continue;
                }
                fallback = Some(ticks);
            } else {
                best = Some(ticks);
            }
        }
    }
    if let Some(ticks) = best.or(fallback) {
        return Ticks::linear(ticks);
    }
    if integers {
        // Fewer than four integers in the range (else step 1, 2 or 5 would have fitted).
        return Ticks::linear(multiples(&range, 1.0, 0));
    }
    // Unreachable for a finite positive span (steps 1, 2, 2.5, 5 differ by at most a factor
    // of 2, so one of them gives 4–8 ticks); keep the ends rather than nothing.
    Ticks::linear(vec![range.start, range.end])
}

/// The multiples of powers of ten a logarithmic axis tries, coarsest first.
const LOG_MANTISSAS: [&[f64]; 5] = [
    &[1.0, 2.0, 5.0],
    &[1.0, 3.0],
    &[1.0, 2.0, 3.0, 5.0],
    &[1.0, 1.5, 2.0, 3.0, 5.0, 7.0],
    &[1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
];

/// Ticks of a logarithmic axis over `range` (`0 < start < end`): powers of ten when it holds
/// at least [`MIN_TICKS`] of them (every second, third… power if there are more than
/// [`MAX_TICKS`]); else the first of these multiples of the powers giving 4 to 8 ticks: 1-2-5
/// (`10, 20, 50, 100, …`), 1-3, 1-2-3-5, then finer ones down to a third of a decade
/// (`120, 150, 200, 250`); else — a narrower range — the nice linear ticks of
/// [`linear_ticks`] inside it. A range not of that form gets no ticks.
pub fn log_ticks(range: Range<f64>) -> Ticks {
    let (lo, hi) = (range.start, range.end);
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Ticks::linear(Vec::new());
    }
    let fits = |n: usize| (MIN_TICKS..=MAX_TICKS).contains(&n);
    let e_lo = (lo.log10() - EPS).ceil() as i32;
    let e_hi = (hi.log10() + EPS).floor() as i32;
    // Powers of ten, every `every`-th (multiples of `every` as exponents, so 10⁰ stays).
    let decades = i64::from(e_hi) - i64::from(e_lo) + 1;
    if decades >= MIN_TICKS as i64 {
        for every in 1..=decades {
            let values: Vec<f64> = (e_lo..=e_hi)
                .filter(|e| i64::from(*e).rem_euclid(every) == 0)
                .map(|e| scaled(1.0, e))
                .filter(|v| *v >= lo * (1.0 - EPS) && *v <= hi * (1.0 + EPS))
                .collect();
            if values.len() <= MAX_TICKS {
                if fits(values.len()) {
                    return log_labelled(values);
                }
                break;
            }
        }
    }
    // A few decades down to a third of one: multiples of the powers of ten, spread evenly
    // on the logarithmic axis.
    for mantissas in LOG_MANTISSAS {
        let mut values = Vec::new();
        for e in (e_lo - 1)..=e_hi {
            for &m in mantissas {
                let v = scaled(m, e);
                if v >= lo * (1.0 - EPS) && v <= hi * (1.0 + EPS) {
                    values.push(v);
                }
            }
        }
        if fits(values.len()) {
            return log_labelled(values);
        }
    }
    if decades >= MIN_TICKS as i64 {
        // Unreachable (some spacing of powers fits); powers of ten, thinned to MAX_TICKS.
        let every = (decades as usize).div_ceil(MAX_TICKS);
        let values = (e_lo..=e_hi)
            .step_by(every)
            .map(|e| scaled(1.0, e))
            .collect();
        return log_labelled(values);
    }
    linear_ticks(range, false)
}

/// Labels of ticks each `m × 10ᵉ`: each written on its own (`0.001`, `20`, `5e-7`).
fn log_labelled(values: Vec<f64>) -> Ticks {
    let labels = values.iter().map(|&v| single_label(v)).collect();
    Ticks { values, labels }
}

/// One number, shortest exact form up to 10 decimals; scientific notation below 1e-4 or from
/// 1e6 in magnitude.
fn single_label(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e6).contains(&a) {
        for digits in 0..=12 {
            let s = format!("{v:.digits$e}");
            if s.parse::<f64>().is_ok_and(|p| close(p, v)) {
                return s;
            }
        }
        return format!("{v:e}");
    }
    for digits in 0..=10 {
        let s = format!("{v:.digits$}");
        if s.parse::<f64>().is_ok_and(|p| close(p, v)) {
            return clean_zero(s);
        }
    }
    clean_zero(format!("{v}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= EPS * a.abs().max(b.abs())
}

/// `-0`, `-0.00` → `0`, `0.00`.
fn clean_zero(s: String) -> String {
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => s,
    }
}

/// Labels for `values` sharing one format: the fewest decimals (0 to 10) at which the labels
/// are all different, or at which every value is written exactly if that takes at most one
/// more decimal (`-3, -2.25, …` → `-3.00, -2.25, …`; thirds → `0.33, 0.67`); scientific
/// notation when the largest magnitude is at least 1e6, or below 1e-4 (and not 0). Equal
/// values get equal labels.
pub fn value_labels(values: &[f64]) -> Vec<String> {
    let max = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let scientific = max >= 1e6 || (max > 0.0 && max < 1e-4);
    let format = |digits: usize| -> Vec<String> {
        values
            .iter()
            .map(|&v| {
                if scientific {
                    format!("{v:.digits$e}")
                } else {
                    clean_zero(format!("{v:.digits$}"))
                }
            })
            .collect()
    };
    let distinct = |labels: &[String]| {
        values.iter().zip(labels).enumerate().all(|(i, (v, l))| {
            values[..i]
                .iter()
                .zip(labels)
                .all(|(w, m)| (v == w) == (l == m))
        })
    };
    let exact = |labels: &[String]| {
        labels.iter().zip(values).all(|(l, &v)| {
            l.parse::<f64>()
                .is_ok_and(|p| (p - v).abs() <= EPS * max.max(f64::MIN_POSITIVE))
        })
    };
    let mut first_distinct: Option<usize> = None;
    for digits in 0..=10 {
        let labels = format(digits);
        if exact(&labels) {
            return labels;
        }
        match first_distinct {
            Some(d) if digits > d => return labels,
            Some(_) => {}
            None if distinct(&labels) => first_distinct = Some(digits),
            None => {}
        }
    }
    format(10)
}

/// A numbered axis: the range it shows (the data's, padded) and its ticks.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The values at the two ends of the axis.
    pub range: Range<f64>,
    /// Whether values are placed on a logarithmic scale.
    pub log: bool,
    /// The numbers drawn along it.
    pub ticks: Ticks,
}

/// How an [`Axis`] numbers its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Evenly spaced values, ticks at any nice step.
    Linear,
    /// Evenly spaced values, ticks at integers only (epochs, counts).
    Integer,
    /// Logarithmic: values must be > 0.
    Log,
}

impl Axis {
    /// The axis showing data from `lo` to `hi` (`lo ≤ hi`, both finite; `> 0` for
    /// [`Scale::Log`]), padded by `pad` of the span on each side (a factor for a log axis);
    /// a single value is widened to `±1` around it (`±0.5` for integers; `÷2, ×2` on a log
    /// axis). An integer axis over less than one unit is widened to the integers around it.
    pub fn new(lo: f64, hi: f64, scale: Scale, pad: f64) -> Axis {
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        match scale {
            Scale::Log => {
                let range = if hi > lo {
                    let f = (hi / lo).powf(pad);
                    (lo / f)..(hi * f)
                } else {
                    (lo / 2.0)..(hi * 2.0)
                };
                Axis {
                    ticks: log_ticks(range.clone()),
                    range,
                    log: true,
                }
            }
            Scale::Linear | Scale::Integer => {
                let integers = scale == Scale::Integer;
                let span = hi - lo;
                let range = if !(span > 0.0 && span.is_finite()) {
                    let w = if integers { 0.5 } else { 1.0 };
                    (lo - w)..(hi + w)
                } else if integers && (hi.floor() < lo || span < 1.0) {
                    lo.floor()..hi.ceil().max(lo.floor() + 1.0)
                } else {
                    (lo - pad * span)..(hi + pad * span)
                };
                Axis {
                    ticks: linear_ticks(range.clone(), integers),
                    range,
                    log: false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_common(t: &Ticks, range: &Range<f64>) {
        assert_eq!(t.values.len(), t.labels.len());
        for w in t.values.windows(2) {
            assert!(w[0] < w[1], "not increasing: {:?}", t.values);
        }
        for v in &t.values {
            assert!(
                *v >= range.start - 1e-9 * range.start.abs().max(1e-300)
                    && *v <= range.end + 1e-9 * range.end.abs().max(1e-300),
                "{v} outside {range:?}"
            );
        }
        let mut labels = t.labels.clone();
        labels.sort();
        labels.dedup();
        assert_eq!(
            labels.len(),
            t.labels.len(),
            "labels not distinct: {:?}",
            t.labels
        );
        // Each label reads back as its tick.
        for (v, l) in t.values.iter().zip(&t.labels) {
            let p: f64 = l.parse().unwrap_or(f64::NAN);
            let step = t
                .values
                .windows(2)
                .map(|w| w[1] - w[0])
                .fold(f64::INFINITY, f64::min);
            assert!(
                (p - v).abs() <= 0.5 * step.min(v.abs().max(f64::MIN_POSITIVE)),
                "label {l} for {v}"
            );
        }
    }

    /// The step between ticks, checked to be 1, 2 or 5 (or 2.5) × 10ᵏ and the same throughout.
    fn step_of(t: &Ticks) -> f64 {
        let step = t.values[1] - t.values[0];
        for w in t.values.windows(2) {
            assert!(
                ((w[1] - w[0]) - step).abs() <= 1e-9 * step,
                "{:?}",
                t.values
            );
        }
        let m = step / 10f64.powf(step.log10().floor());
        assert!(
            [1.0, 2.0, 2.5, 5.0, 10.0]
                .iter()
                .any(|n| (m - n).abs() < 1e-6),
            "step {step} is not nice"
        );
        step
    }

    #[test]
    fn linear_120_255() {
        let r = 120.0..255.0;
        let t = linear_ticks(r.clone(), false);
        check_common(&t, &r);
        assert!((MIN_TICKS..=MAX_TICKS).contains(&t.values.len()), "{t:?}");
        assert_eq!(step_of(&t), 20.0);
        assert_eq!(t.labels, ["120", "140", "160", "180", "200", "220", "240"]);
    }

    #[test]
    fn log_narrower_than_a_decade_is_numbered() {
        // The reported case: a loss from 120 to 255 on a log axis showed no number.
        let axis = Axis::new(120.0, 255.0, Scale::Log, 0.04);
        assert!(axis.log);
        let t = &axis.ticks;
        check_common(t, &axis.range);
        assert_eq!(t.labels, ["120", "150", "200", "250"]);
        // Without padding too.
        let t = log_ticks(120.0..255.0);
        check_common(&t, &(120.0..255.0));
        assert_eq!(t.labels, ["120", "150", "200", "250"]);
        // A loss curve from 58 to 350: spread over the axis, not bunched at the top.
        let t = log_ticks(53.0..380.0);
        check_common(&t, &(53.0..380.0));
        assert_eq!(t.labels, ["70", "100", "150", "200", "300"]);
        // Narrower still: linear steps.
        let r = 120.0..150.0;
        let t = log_ticks(r.clone());
        check_common(&t, &r);
        assert_eq!(step_of(&t), 10.0);
        assert_eq!(t.labels, ["120", "130", "140", "150"]);
    }

    #[test]
    fn unit_range() {
        let r = 0.0..1.0;
        let t = linear_ticks(r.clone(), false);
        check_common(&t, &r);
        assert_eq!(t.labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        // Padded as a plot pads it, 0 and 1 stay ticks.
        let axis = Axis::new(0.0, 1.0, Scale::Linear, 0.04);
        check_common(&axis.ticks, &axis.range);
        assert_eq!(axis.ticks.values.first(), Some(&0.0));
        assert_eq!(axis.ticks.values.last(), Some(&1.0));
    }

    #[test]
    fn log_many_decades_gets_powers_of_ten() {
        let r = 0.001..1000.0;
        let t = log_ticks(r.clone());
        check_common(&t, &r);
        assert_eq!(t.labels, ["0.001", "0.01", "0.1", "1", "10", "100", "1000"]);
        // Very wide: every third power, 10⁰ kept.
        let r = 1e-10..1e10;
        let t = log_ticks(r.clone());
        check_common(&t, &r);
        assert_eq!(
            t.labels,
            ["1e-9", "1e-6", "0.001", "1", "1000", "1e6", "1e9"]
        );
        // The same range on a linear axis: nice steps.
        let r = 0.001..1000.0;
        let t = linear_ticks(r.clone(), false);
        check_common(&t, &r);
        assert_eq!(step_of(&t), 200.0);
        assert_eq!(t.labels, ["200", "400", "600", "800", "1000"]);
    }

    #[test]
    fn log_few_decades_gets_intermediate_ticks() {
        let r = 10.0..1000.0;
        let t = log_ticks(r.clone());
        check_common(&t, &r);
        assert_eq!(t.labels, ["10", "20", "50", "100", "200", "500", "1000"]);
        // 1-2-5 would give 11: 1-3 instead.
        let r = 0.15..990.0;
        let t = log_ticks(r.clone());
        check_common(&t, &r);
        assert_eq!(t.labels, ["0.3", "1", "3", "10", "30", "100", "300"]);
        // Just over a decade.
        let r = 3.0..40.0;
        let t = log_ticks(r.clone());
        check_common(&t, &r);
        assert!((MIN_TICKS..=MAX_TICKS).contains(&t.values.len()), "{t:?}");
        assert!(t.labels.contains(&"10".to_string()));
    }

    #[test]
    fn single_value_is_widened() {
        for v in [5.0, 0.0, -2.0, 1e-7] {
            let axis = Axis::new(v, v, Scale::Linear, 0.04);
            assert!(axis.range.start < v && axis.range.end > v);
            check_common(&axis.ticks, &axis.range);
            assert!(
                (MIN_TICKS..=MAX_TICKS).contains(&axis.ticks.values.len()),
                "{v}: {:?}",
                axis.ticks
            );
        }
        let axis = Axis::new(7.0, 7.0, Scale::Log, 0.04);
        assert!(axis.range.start < 7.0 && axis.range.end > 7.0);
        check_common(&axis.ticks, &axis.range);
        assert!(axis.ticks.values.len() >= MIN_TICKS, "{:?}", axis.ticks);
        // An integer axis of one epoch: that epoch only, as an integer.
        let axis = Axis::new(1.0, 1.0, Scale::Integer, 0.0);
        assert_eq!(axis.ticks.labels, ["1"]);
        // A degenerate range asked of the generators directly gives no tick (no panic).
        assert!(linear_ticks(3.0..3.0, false).values.is_empty());
        assert!(log_ticks(3.0..3.0).values.is_empty());
        assert!(log_ticks(-1.0..3.0).values.is_empty());
        assert!(linear_ticks(f64::NAN..3.0, false).values.is_empty());
    }

    #[test]
    fn negative_ranges() {
        let r = -255.0..-120.0;
        let t = linear_ticks(r.clone(), false);
        check_common(&t, &r);
        assert_eq!(
            t.labels,
            ["-240", "-220", "-200", "-180", "-160", "-140", "-120"]
        );
        let r = -1.0..0.5;
        let t = linear_ticks(r.clone(), false);
        check_common(&t, &r);
        assert!(t.labels.contains(&"0.0".to_string()), "{:?}", t.labels);
        assert!(t.labels.iter().all(|l| l != "-0.0"));
        let r = -0.003..-0.001;
        let t = linear_ticks(r.clone(), false);
        check_common(&t, &r);
        assert_eq!(
            t.labels,
            ["-0.0030", "-0.0025", "-0.0020", "-0.0015", "-0.0010"]
        );
    }

    #[test]
    fn epoch_axes_are_integers() {
        let axis = Axis::new(1.0, 3.0, Scale::Integer, 0.0);
        assert_eq!(axis.ticks.values, [1.0, 2.0, 3.0]);
        assert_eq!(axis.ticks.labels, ["1", "2", "3"]);
        // Two epochs: no 1.5.
        let axis = Axis::new(1.0, 2.0, Scale::Integer, 0.0);
        assert_eq!(axis.ticks.labels, ["1", "2"]);
        let axis = Axis::new(1.0, 300.0, Scale::Integer, 0.0);
        check_common(&axis.ticks, &axis.range);
        assert_eq!(axis.ticks.labels, ["50", "100", "150", "200", "250", "300"]);
        for (lo, hi) in [
            (1.0, 3.0),
            (1.0, 7.0),
            (1.0, 13.0),
            (1.0, 300.0),
            (3.0, 4.0),
        ] {
            let t = Axis::new(lo, hi, Scale::Integer, 0.02).ticks;
            assert!(!t.values.is_empty());
            assert!(t.values.iter().all(|v| v.fract() == 0.0), "{t:?}");
            assert!(t.labels.iter().all(|l| !l.contains('.')), "{t:?}");
        }
        // The same range not restricted to integers gets fractional ticks.
        let t = linear_ticks(1.0..3.0, false);
        assert!(t.values.iter().any(|v| v.fract() != 0.0), "{t:?}");
        // Less than one unit: widened to the integers around it.
        let axis = Axis::new(2.2, 2.7, Scale::Integer, 0.0);
        assert_eq!(axis.ticks.labels, ["2", "3"]);
    }

    #[test]
    fn labels_are_distinct_and_exact() {
        assert_eq!(
            value_labels(&[-3.0, -2.25, -1.5, -0.75, 0.0, 0.75, 1.5, 2.25, 3.0]),
            [
                "-3.00", "-2.25", "-1.50", "-0.75", "0.00", "0.75", "1.50", "2.25", "3.00"
            ]
        );
        let ninths: Vec<f64> = (0..10).map(|i| f64::from(i) / 9.0).collect();
        let l = value_labels(&ninths);
        assert_eq!(l.first().map(String::as_str), Some("0.00"));
        assert_eq!(l[1], "0.11");
        assert_eq!(l.last().map(String::as_str), Some("1.00"));
        assert_eq!(value_labels(&[1.0, 2.0, 3.0]), ["1", "2", "3"]);
        assert_eq!(value_labels(&[2.5e7, 5e7]), ["2.5e7", "5.0e7"]);
        assert_eq!(value_labels(&[-1e-17, 1.0]), ["0", "1"]);
        assert!(value_labels(&[]).is_empty());
    }
}
