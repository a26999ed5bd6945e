//! Fitting a step's duration to the rows it involves, by weighted least squares with relative
//! errors (each point weighted by 1/duration², since a rehearsal's noise grows with its
//! duration): `a + b·n` unless the data argue for a superlinear term by more than their noise,
//! and a prediction interval from the measured noise (at least [`TARGET_RUN_NOISE`]) and the
//! fit's own uncertainty.

use serde::Serialize;

/// The growth models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Model {
    /// `a + b·n`
    Linear,
    /// `a + b·n·ln n`
    NLogN,
    /// `a + b·n + c·n·ln n`: linear with a superlinear term (one parameter more).
    Superlinear,
}

impl Model {
    /// The formula, for people.
    pub(crate) fn formula(self) -> &'static str {
        match self {
            Model::Linear => "a + b·n",
            Model::NLogN => "a + b·n·ln n",
            Model::Superlinear => "a + b·n + c·n·ln n",
        }
    }

    /// The basis at `n` (rows scaled by `unit` so the normal equations are well conditioned).
    fn basis(self, n: f64, unit: f64) -> Vec<f64> {
        let u = n / unit;
        let ulnn = u * n.max(2.0).ln();
        match self {
            Model::Linear => vec![1.0, u],
            Model::NLogN => vec![1.0, ulnn],
            Model::Superlinear => vec![1.0, u, ulnn],
        }
    }
}

/// A weighted least-squares fit.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Fit {
    /// Which model.
    pub model: Model,
    /// Coefficients (of the basis in rows / `unit`).
    pub coef: Vec<f64>,
    /// Rows per basis unit.
    pub unit: f64,
    /// Weighted sum of squared relative residuals.
    pub sse: f64,
    /// Points fitted.
    pub points: usize,
    /// Distinct row counts among them: a scale's repeats replaced by their median
    /// ([`central`]) are one point of evidence about the curve, not one per repeat.
    #[serde(skip)]
    distinct: usize,
    /// Coefficient of determination (weighted).
    pub r2: f64,
    /// (XᵀWX)⁻¹, for the prediction's variance.
    #[serde(skip)]
    cov: Vec<Vec<f64>>,
}

impl Fit {
    /// Fits `model` to (rows, seconds) points; none when the points cannot determine it.
    pub(crate) fn new(model: Model, points: &[(f64, f64)]) -> Option<Fit> {
        let k = model.basis(1.0, 1.0).len();
        if points.len() < k {
            return None;
        }
        let unit = points.iter().map(|p| p.0).fold(1.0, f64::max);
        let weight = |y: f64| 1.0 / y.max(1e-4).powi(2);
        let mut xtx = vec![vec![0.0; k]; k];
        let mut xty = vec![0.0; k];
        for &(n, y) in points {
            let x = model.basis(n, unit);
            let w = weight(y);
            for i in 0..k {
                xty[i] += w * x[i] * y;
                for j in 0..k {
                    xtx[i][j] += w * x[i] * x[j];
                }
            }
        }
        let cov = invert(xtx)?;
        let coef: Vec<f64> = (0..k)
            .map(|i| (0..k).map(|j| cov[i][j] * xty[j]).sum())
            .collect();
        let value = |n: f64| -> f64 {
            model
                .basis(n, unit)
                .iter()
                .zip(&coef)
                .map(|(x, c)| x * c)
                .sum()
        };
        let sse: f64 = points
            .iter()
            .map(|&(n, y)| weight(y) * (y - value(n)).powi(2))
            .sum();
        let wsum: f64 = points.iter().map(|p| weight(p.1)).sum();
        let mean = points.iter().map(|p| weight(p.1) * p.1).sum::<f64>() / wsum;
        let sst: f64 = points
            .iter()
            .map(|&(_, y)| weight(y) * (y - mean).powi(2))
            .sum();
        Some(Fit {
            model,
            coef,
            unit,
            sse,
            points: points.len(),
            distinct: distinct_rows(points),
            r2: if sst > 0.0 { 1.0 - sse / sst } else { 1.0 },
            cov,
        })
    }

    /// Parameters.
    fn k(&self) -> usize {
        self.coef.len()
    }

    /// The fitted duration at `rows`.
    pub(crate) fn predict(&self, rows: f64) -> f64 {
        let x = self.model.basis(rows, self.unit);
        x.iter()
            .zip(&self.coef)
            .map(|(x, c)| x * c)
            .sum::<f64>()
            .max(0.0)
    }

    /// The residuals' degrees of freedom: every point's when each is a rehearsal of its own, the
    /// distinct row counts' when repeats were replaced by their median (the residuals are then
    /// the curve's misfit alone, its mean square the lack of fit).
    fn residual_df(&self) -> usize {
        let repeated = self.distinct < self.points;
        (if repeated { self.distinct } else { self.points }).saturating_sub(self.k())
    }

    /// The relative variance of one observation at unit weight: the residuals', or the measured
    /// noise (`pure`, from repeated scales) when that is larger.
    fn variance(&self, pure: Option<f64>) -> f64 {
        let df = self.residual_df();
        let residual = if df > 0 { self.sse / df as f64 } else { 0.0 };
        residual.max(pure.unwrap_or(0.0))
    }

    /// The fitted curve's own uncertainty at `rows`, relative (a standard deviation): how far
    /// the prediction itself may be off by the noise — the repeats' (`pure`), or the scales'
    /// misfit of the line when that is larger. On three scales a misfit is mostly noise too
    /// (the two repeats of one scale both fast, say), and more repeats shrink it; where the
    /// model is wrong they sharpen the test that chooses a superlinear one. None without
    /// repeats, or where the curve is at or below zero.
    pub(crate) fn curve_sd(&self, rows: f64, pure: Option<(f64, usize)>) -> Option<f64> {
        let (var, _) = pure?;
        let y = self.predict(rows);
        (y > 0.0).then(|| (self.variance(Some(var)) * self.leverage(rows)).sqrt() / y)
    }

    /// xᵀ(XᵀWX)⁻¹x at `rows`: the fitted curve's variance there, per unit of noise.
    fn leverage(&self, rows: f64) -> f64 {
        let x = self.model.basis(rows, self.unit);
        let k = self.k();
        (0..k)
            .map(|i| (0..k).map(|j| x[i] * self.cov[i][j] * x[j]).sum::<f64>())
            .sum()
    }

    /// A 95 % prediction interval for one rehearsal at `rows`, multiplicative (a slow run is
    /// as likely to take 1.3× as a fast one 1/1.3×): the noise of one run there — the repeats'
    /// (relative), and never less than [`TARGET_RUN_NOISE`] — and the uncertainty of the fitted
    /// curve there from the same noise.
    pub(crate) fn interval(&self, rows: f64, pure: Option<(f64, usize)>) -> (f64, f64) {
        let y = self.predict(rows);
        let leverage = self.leverage(rows);
        let var = self.variance(pure.map(|p| p.0));
        let df = match pure {
            Some((_, d)) if d > 0 => d.max(self.residual_df()),
            _ => self.residual_df(),
        };
        // The noise of one run, and of each rehearsed point behind the fitted curve: measured
        // (known only to its degrees of freedom: Student's t), and never below the floor (a
        // stated value: the normal's 1.96), whichever makes the wider range.
        let spread = (t95(df) * var.sqrt()).max(1.96 * TARGET_RUN_NOISE);
        if y <= 0.0 {
            // Nothing to be relative to: the curve's own uncertainty, in seconds.
            return (0.0, spread * leverage.sqrt());
        }
        // One run's noise plus the fitted curve's own uncertainty there, relative; as likely
        // (1 + h)× the prediction as 1/(1 + h)×.
        let h = spread * (1.0 + leverage / (y * y)).sqrt();
        (y / (1.0 + h), y * (1.0 + h))
    }
}

/// The least relative noise (standard deviation) assumed for one rehearsal. A few repeats
/// measure less than the noise between occasions: on the estimate check's machine, repeats run
/// back to back differed by 4 % (sd) while runs at scale 1 differed by 11 %, a slow one taking
/// 1.35× the median, and predictions from different rounds by 10 %.
pub(crate) const TARGET_RUN_NOISE: f64 = 0.12;

/// The model the data support, and the measured noise. Linear unless adding the superlinear
/// term lowers the misfit by more than the noise explains (an F test at 95 %, one extra
/// parameter) and predicts the largest scale from the smaller ones better; `a + b·n·ln n` is
/// not chosen on its own (it has no more parameters than linear and bends every extrapolation
/// up).
///
/// The curves go through each scale's median ([`central`]); the noise is measured from every
/// repeat.
pub(crate) fn choose(points: &[(f64, f64)]) -> Option<(Fit, Option<(f64, usize)>)> {
    let pure = pure_error(points);
    let points = &central(points)[..];
    let linear = Fit::new(Model::Linear, points)?;
    let Some(superlinear) = Fit::new(Model::Superlinear, points) else {
        return Some((linear, pure));
    };
    let df = points.len().saturating_sub(3);
    let noise = match pure {
        Some((v, d)) if d > 0 => v,
        _ if df > 0 => superlinear.sse / df as f64,
        _ => return Some((linear, pure)),
    };
    let f = (linear.sse - superlinear.sse) / noise.max(1e-12);
    let far = HeldOut::of(points).largest * 10.0;
    let grows_faster = superlinear.predict(far) > linear.predict(far);
    if f > f95(pure.map_or(df, |p| p.1).max(1)) && grows_faster && bends_ahead(points) {
        Some((superlinear, pure))
    } else {
        Some((linear, pure))
    }
}

/// Whether the curve also predicts better out of sample: fitted without the largest scale,
/// the superlinear model must predict it better than the linear one. (With three scales it
/// cannot be fitted to two, and linear stays: a bend the data show in-sample only is not
/// carried ten times further.)
fn bends_ahead(points: &[(f64, f64)]) -> bool {
    let held = HeldOut::of(points);
    if distinct_rows(&held.smaller) < 3 {
        return false;
    }
    match (
        Fit::new(Model::Linear, &held.smaller),
        Fit::new(Model::Superlinear, &held.smaller),
    ) {
        (Some(l), Some(s)) => {
            (s.predict(held.largest) - held.median).abs()
                < (l.predict(held.largest) - held.median).abs()
        }
        _ => false,
    }
}

/// Each point's duration replaced by the median of its scale's repeats. A rehearsal of tens of
/// milliseconds is now and then twice as slow as its repeats (the machine, not the step), and
/// such a repeat would pull a mean — and the slope, and the prediction ten times further — with
/// it. Weighted by the median too, a fast repeat weighs no more than a slow one.
pub(crate) fn central(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    points
        .iter()
        .map(|&(n, _)| {
            let ys: Vec<f64> = points.iter().filter(|p| p.0 == n).map(|p| p.1).collect();
            (n, median(&ys))
        })
        .collect()
}

/// The median of `values` (not empty).
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        f64::midpoint(sorted[mid - 1], sorted[mid])
    } else {
        sorted[mid]
    }
}

/// Points split at the largest row count: the smaller ones, and the largest with the median of
/// its repeats.
pub(crate) struct HeldOut {
    /// Points below the largest row count.
    pub smaller: Vec<(f64, f64)>,
    /// The largest row count.
    pub largest: f64,
    /// The median duration there.
    pub median: f64,
    /// How many repeats that median is of.
    pub repeats: usize,
}

impl HeldOut {
    /// Splits `points`.
    pub(crate) fn of(points: &[(f64, f64)]) -> HeldOut {
        let largest = points.iter().map(|p| p.0).fold(0.0, f64::max);
        let at: Vec<f64> = points
            .iter()
            .filter(|p| p.0 == largest)
            .map(|p| p.1)
            .collect();
        HeldOut {
            smaller: points.iter().filter(|p| p.0 < largest).copied().collect(),
            largest,
            median: if at.is_empty() { 0.0 } else { median(&at) },
            repeats: at.len(),
        }
    }
}

/// How many different row counts `points` has (points in scale order).
pub(crate) fn distinct_rows(points: &[(f64, f64)]) -> usize {
    let mut rows: Vec<f64> = points.iter().map(|p| p.0).collect();
    rows.dedup();
    rows.len()
}

/// The relative variance between repeats of one scale, pooled over the scales, with its degrees
/// of freedom; none without repeats.
pub(crate) fn pure_error(points: &[(f64, f64)]) -> Option<(f64, usize)> {
    let mut groups: Vec<(f64, Vec<f64>)> = Vec::new();
    for &(n, y) in points {
        match groups.iter_mut().find(|g| g.0 == n) {
            Some(g) => g.1.push(y),
            None => groups.push((n, vec![y])),
        }
    }
    let (mut ss, mut df) = (0.0, 0);
    for (_, ys) in &groups {
        if ys.len() < 2 {
            continue;
        }
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        ss += ys
            .iter()
            .map(|y| ((y - mean) / mean.max(1e-4)).powi(2))
            .sum::<f64>();
        df += ys.len() - 1;
    }
    (df > 0).then(|| (ss / df as f64, df))
}

/// Student's t at 97.5 % (a two-sided 95 % interval) for `df` degrees of freedom.
fn t95(df: usize) -> f64 {
    const T: [f64; 10] = [12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23];
    match df {
        0 => 12.71,
        d if d <= 10 => T[d - 1],
        d if d <= 30 => 2.09,
        _ => 1.96,
    }
}

/// F(1, df) at 95 %.
fn f95(df: usize) -> f64 {
    const F: [f64; 10] = [161.4, 18.5, 10.1, 7.71, 6.61, 5.99, 5.59, 5.32, 5.12, 4.96];
    match df {
        0 => f64::INFINITY,
        d if d <= 10 => F[d - 1],
        d if d <= 30 => 4.35,
        _ => 3.84,
    }
}

/// The inverse of a small symmetric matrix (Gauss–Jordan); none when singular.
fn invert(mut m: Vec<Vec<f64>>) -> Option<Vec<Vec<f64>>> {
    let k = m.len();
    let mut inv: Vec<Vec<f64>> = (0..k)
        .map(|i| (0..k).map(|j| f64::from(u8::from(i == j))).collect())
        .collect();
    for col in 0..k {
        let pivot = (col..k).max_by(|a, b| m[*a][col].abs().total_cmp(&m[*b][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 * m.iter().flatten().map(|v| v.abs()).fold(0.0, f64::max) {
            return None;
        }
        m.swap(col, pivot);
        inv.swap(col, pivot);
        let p = m[col][col];
        for j in 0..k {
            m[col][j] /= p;
            inv[col][j] /= p;
        }
        for row in 0..k {
            if row != col {
                let factor = m[row][col];
                for j in 0..k {
                    m[row][j] -= factor * m[col][j];
                    inv[row][j] -= factor * inv[col][j];
                }
            }
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_data_stay_linear_and_curved_data_get_the_extra_term() {
        // Linear with 2 % noise between repeats: linear, and the range holds the truth at 10×.
        let mut linear = Vec::new();
        for n in [25_000.0, 50_000.0, 100_000.0] {
            let y = 0.05 + n * 2e-5;
            linear.push((n, y * 1.02));
            linear.push((n, y * 0.98));
        }
        let (fit, pure) = choose(&linear).unwrap();
        assert_eq!(fit.model, Model::Linear);
        let truth = 0.05 + 1e6 * 2e-5;
        assert!((fit.predict(1e6) - truth).abs() / truth < 0.01);
        let (lo, hi) = fit.interval(1e6, pure);
        assert!(lo < truth && truth < hi, "{lo} {hi}");
        // The noise assumed at least (12 %), not the repeats' 2 %, sets the width: about ×/÷ 1.4.
        assert!(hi / lo < 2.0, "{lo} {hi}: wider than the floor makes it");
        // Quadratic growth, little noise: the superlinear term is kept.
        let mut curved = Vec::new();
        for n in [25_000.0f64, 50_000.0, 100_000.0, 200_000.0] {
            let y = n * 1e-5 + (n / 1e5).powi(2);
            curved.push((n, y * 1.005));
            curved.push((n, y * 0.995));
        }
        assert_eq!(choose(&curved).unwrap().0.model, Model::Superlinear);
    }

    #[test]
    fn a_falling_fit_gives_a_finite_range_from_zero() {
        let points = [(1e5, 1.0), (2e5, 0.6), (4e5, 0.2)];
        let (fit, pure) = choose(&points).unwrap();
        assert_eq!(fit.predict(1e6), 0.0);
        let (lo, hi) = fit.interval(1e6, pure);
        assert_eq!(lo, 0.0);
        assert!(hi.is_finite() && hi > 0.0, "{hi}");
    }

    #[test]
    fn the_range_does_not_jump_where_measured_noise_meets_the_floor() {
        let points = |noise: f64| {
            let mut v = Vec::new();
            for n in [1e5, 2e5, 4e5] {
                v.push((n, n * 1e-5 * (1.0 + noise)));
                v.push((n, n * 1e-5 * (1.0 - noise)));
            }
            v
        };
        let width = |noise: f64| {
            let (fit, pure) = choose(&points(noise)).unwrap();
            let (lo, hi) = fit.interval(4e6, pure);
            hi / lo
        };
        let (below, above) = (width(0.0499), width(0.0501));
        assert!((above / below - 1.0).abs() < 0.01, "{below} {above}");
    }

    #[test]
    fn one_slow_repeat_does_not_tilt_the_line() {
        // 10 ms per 100,000 rows; the smallest scale's fourth repeat was twice as slow (the
        // machine, not the step). Through the means, the line would come out shallower and
        // miss ten times further out; through the medians it holds.
        let mut points = Vec::new();
        for n in [1e5, 2e5, 4e5] {
            for noise in [1.0, 0.97, 1.03, 1.0] {
                points.push((n, n * 1e-7 * noise));
            }
        }
        points[3].1 *= 2.0;
        let (fit, pure) = choose(&points).unwrap();
        let truth = 4e6 * 1e-7;
        assert!(
            (fit.predict(4e6) - truth).abs() / truth < 0.05,
            "{}",
            fit.predict(4e6)
        );
        // The noise is still measured from every repeat, the slow one too.
        assert!(pure.unwrap().0 > 0.01, "{pure:?}");
        // More repeats, less uncertainty in the line itself.
        let sd = |k: usize| {
            let few: Vec<(f64, f64)> = [1e5, 2e5, 4e5]
                .iter()
                .flat_map(|n| {
                    [0.9, 1.1, 1.0, 1.0][..k]
                        .iter()
                        .map(move |f| (*n, n * 1e-7 * f))
                })
                .collect();
            let (fit, pure) = choose(&few).unwrap();
            fit.curve_sd(4e6, pure).unwrap()
        };
        assert!(sd(4) < sd(2), "{} {}", sd(4), sd(2));
    }

    #[test]
    fn repeats_measure_the_noise() {
        let p = pure_error(&[(1.0, 0.9), (1.0, 1.1), (2.0, 2.0)]).unwrap();
        assert_eq!(p.1, 1);
        assert!((p.0 - 0.02).abs() < 1e-9);
        assert!(pure_error(&[(1.0, 1.0), (2.0, 2.0)]).is_none());
    }
}
