//! Charts for the HTML report, drawn with plotters as inline SVG (nothing fetched at view time):
//! latency percentiles over time with each step shaded and labelled, throughput and errors over
//! time, the lock-wait timeline, and strategies' p99 overlaid.

use plotters::prelude::*;

use crate::pg::SessionRole;
use crate::report::{StrategyReport, TrafficReport};

const WIDTH: u32 = 960;
const STEP_FILL: RGBAColor = RGBAColor(255, 160, 0, 0.18);
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

/// Steps as (start, end, name), seconds from the run's start.
fn steps(s: &StrategyReport) -> Vec<(f64, f64, String)> {
    s.steps
        .iter()
        .filter_map(|st| {
            let start = st.start_s?;
            Some((start, start + st.duration_s.unwrap_or(0.0), st.name.clone()))
        })
        .collect()
}

fn x_range(t: &TrafficReport, s: &StrategyReport) -> (f64, f64) {
    let lo = t
        .series
        .first()
        .map_or(s.start_s.unwrap_or(0.0), |i| i.t_s)
        .clamp(-LIMIT, LIMIT);
    let hi = t
        .series
        .last()
        .map_or(lo + 1.0, |i| i.t_s + t.interval_s)
        .clamp(-LIMIT, LIMIT)
        .max(lo + 1.0);
    (lo, hi)
}

type Result = std::result::Result<(), Box<dyn std::error::Error>>;

/// The largest value a chart draws (ms or seconds): anything beyond, or not finite, is a
/// broken report, and plotting it would make the axes unusable (or the drawing endless).
const LIMIT: f64 = 1e9;

/// A value fit to draw.
fn drawable(v: f64) -> Option<f64> {
    (v.is_finite() && v.abs() <= LIMIT).then_some(v)
}

/// Latency points (x, p50, p99, max) with the time they are placed at: by intended start when
/// the report has it, else by completion time (reports of version 1).
fn latency_points(t: &TrafficReport) -> (Vec<(f64, f64, f64, f64)>, &'static str) {
    if t.by_start.is_empty() {
        let points = t
            .series
            .iter()
            .filter_map(|i| {
                Some((
                    drawable(i.t_s + t.interval_s / 2.0)?,
                    drawable(i.p50_ms?)?,
                    drawable(i.p99_ms?)?,
                    drawable(i.max_ms?)?,
                ))
            })
            .collect();
        return (points, "by completion time");
    }
    let points = t
        .by_start
        .iter()
        .filter_map(|b| {
            Some((
                drawable(b.t_s + t.by_start_s / 2.0)?,
                drawable(b.p50_ms)?,
                drawable(b.p99_ms)?,
                drawable(b.max_ms)?,
            ))
        })
        .collect();
    (points, "by intended start: each operation where it was due")
}

/// Latency p50/p99/max over time (log scale), steps shaded and labelled, by intended start.
pub(super) fn latency(s: &StrategyReport, t: &TrafficReport) -> String {
    draw(|root| {
        let (x0, x1) = x_range(t, s);
        let (points, placed) = latency_points(t);
        let y_max = points.iter().map(|p| p.3).fold(1.0f64, f64::max) * 1.5;
        let y_min = points
            .iter()
            .map(|p| p.1)
            .fold(f64::MAX, f64::min)
            .clamp(0.01, 1.0)
            / 2.0;
        let caption = format!("Latency {placed} (ms, log scale)");
        let mut chart = chart(root, &caption, x0..x1, (y_min..y_max).log_scale())?;
        mesh(&mut chart, "seconds since the run started", "ms")?;
        shade_steps(&mut chart, &steps(s), y_min, y_max)?;
        for (name, color, pick) in [
            ("p50", PALETTE[2], 0),
            ("p99", PALETTE[0], 1),
            ("max", PALETTE[1], 2),
        ] {
            let line: Vec<(f64, f64)> = points
                .iter()
                .map(|p| {
                    let v = match pick {
                        0 => p.1,
                        1 => p.2,
                        _ => p.3,
                    };
                    (p.0, v.max(y_min))
                })
                .collect();
            chart
                .draw_series(LineSeries::new(line, color.stroke_width(1)))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        legend(&mut chart)
    })
}

/// Completions and errors per interval, steps shaded.
pub(super) fn throughput(s: &StrategyReport, t: &TrafficReport) -> String {
    draw(|root| {
        let (x0, x1) = x_range(t, s);
        let interval = drawable(t.interval_s).filter(|i| *i > 0.0).unwrap_or(1.0);
        let per_s = |n: u64| n as f64 / interval;
        let y_max = t
            .series
            .iter()
            .map(|i| per_s(i.completed))
            .fold(1.0, f64::max)
            * 1.15;
        let mut chart = chart(
            root,
            "Throughput and errors by completion time (operations per second)",
            x0..x1,
            0.0..y_max,
        )?;
        mesh(&mut chart, "seconds since the run started", "ops/s")?;
        shade_steps(&mut chart, &steps(s), 0.0, y_max)?;
        let mid = |t_s: f64| t_s + t.interval_s / 2.0;
        chart
            .draw_series(LineSeries::new(
                t.series.iter().map(|i| (mid(i.t_s), per_s(i.completed))),
                PALETTE[0].stroke_width(2),
            ))?
            .label("completed")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], PALETTE[0].stroke_width(2))
            });
        chart
            .draw_series(LineSeries::new(
                t.series.iter().map(|i| (mid(i.t_s), per_s(i.errors))),
                PALETTE[1].stroke_width(2),
            ))?
            .label("errors")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], PALETTE[1].stroke_width(2))
            });
        legend(&mut chart)
    })
}

/// Client connections open on the server over time, against `max_connections` and the limit
/// for roles that are not superusers; steps shaded.
pub(super) fn connections(s: &StrategyReport) -> Option<String> {
    let c = s.connections.as_ref()?;
    let first = c.series.first()?;
    let end = s
        .traffic
        .as_ref()
        .and_then(|t| t.series.last().map(|i| i.t_s + t.interval_s))
        .unwrap_or(first.t_s + 1.0);
    let x0 = drawable(first.t_s)?;
    let x1 = drawable(end.max(c.series.last()?.t_s + 0.5))?.max(x0 + 1.0);
    let limit = f64::from(c.max_connections);
    let usable = f64::from(c.max_connections.saturating_sub(c.reserved));
    let y_max = (limit.max(f64::from(c.peak)) * 1.15).max(1.0);
    Some(draw_sized(260, |root| {
        let mut chart = chart(
            root,
            "Client connections open on the server (all sessions)",
            x0..x1,
            0.0..y_max,
        )?;
        mesh(&mut chart, "seconds since the run started", "connections")?;
        shade_steps(&mut chart, &steps(s), 0.0, y_max)?;
        // A step line: each count holds until the next change.
        let mut line = Vec::new();
        for (i, p) in c.series.iter().enumerate() {
            if i > 0 {
                line.push((p.t_s, f64::from(c.series[i - 1].open)));
            }
            line.push((p.t_s, f64::from(p.open)));
        }
        line.push((x1, f64::from(c.series.last().map_or(0, |p| p.open))));
        chart
            .draw_series(LineSeries::new(line, PALETTE[0].stroke_width(2)))?
            .label("open")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], PALETTE[0].stroke_width(2))
            });
        for (name, y, color) in [
            ("max_connections", limit, PALETTE[1]),
            ("limit for non-superusers", usable, PALETTE[4]),
        ] {
            chart
                .draw_series(LineSeries::new([(x0, y), (x1, y)], color.stroke_width(1)))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        legend(&mut chart)
    }))
}

/// Who waited on whom: one bar per lock wait (the longest 40), steps shaded.
pub(super) fn lock_waits(s: &StrategyReport) -> Option<String> {
    if s.lock_waits.is_empty() {
        return None;
    }
    let mut waits: Vec<_> = s.lock_waits.iter().collect();
    waits.sort_by(|a, b| b.duration_s.total_cmp(&a.duration_s));
    waits.truncate(40);
    waits.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    let rows = waits.len();
    let x0 = s
        .start_s
        .unwrap_or(0.0)
        .min(waits.iter().map(|w| w.start_s).fold(f64::MAX, f64::min))
        - 0.2;
    let x1 = waits
        .iter()
        .map(|w| w.end_s)
        .fold(x0 + 1.0, f64::max)
        .max(s.start_s.unwrap_or(0.0) + s.duration_s.unwrap_or(0.0))
        + 0.2;
    let height = 90 + 22 * rows as u32;
    Some(draw_sized(height, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Lock waits (bar: waiting; label: waiter → what it waited for, behind whom)",
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(32)
            .y_label_area_size(10)
            .build_cartesian_2d(x0..x1, 0.0..rows as f64)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .x_desc("seconds since the run started")
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        shade_steps(&mut chart, &steps(s), 0.0, rows as f64)?;
        for (row, w) in waits.iter().enumerate() {
            let y = (rows - row) as f64 - 0.5;
            let color = match w.waiter.role {
                SessionRole::Migration => PALETTE[1],
                SessionRole::Traffic => PALETTE[0],
                _ => PALETTE[3],
            };
            chart.draw_series(std::iter::once(Rectangle::new(
                [
                    (w.start_s, y - 0.4),
                    (w.end_s.max(w.start_s + 0.01), y + 0.4),
                ],
                color.mix(0.35).filled(),
            )))?;
            let behind: Vec<String> = w
                .blocked_by
                .iter()
                .map(|b| format!("{} {}", b.role, b.pid))
                .collect();
            let label = format!(
                "{} {} → {} on {} ({:.3} s) behind {}",
                w.waiter.role,
                w.waiter.pid,
                w.mode,
                w.relation.as_deref().unwrap_or(w.locktype.name()),
                w.duration_s,
                if behind.is_empty() {
                    "?".into()
                } else {
                    behind.join(", ")
                }
            );
            // Inside the bar, from its start: long waits are the ones worth reading.
            chart.draw_series(std::iter::once(Text::new(
                label,
                (w.start_s + (x1 - x0) * 0.003, y + 0.3),
                ("sans-serif", 11),
            )))?;
        }
        Ok(())
    }))
}

/// Each strategy's p99 over time since its own start, overlaid, on one log-scale chart.
pub(super) fn overlay(strategies: &[StrategyReport]) -> Option<String> {
    let series: Vec<(&str, Vec<(f64, f64)>)> = strategies
        .iter()
        .filter_map(|s| {
            let t = s.traffic.as_ref()?;
            let start = s.start_s?;
            let points = latency_points(t)
                .0
                .into_iter()
                .filter_map(|(x, _, p99, _)| Some((drawable(x - start)?, p99)))
                .collect::<Vec<_>>();
            Some((s.name.as_str(), points))
        })
        .collect();
    if series.len() < 2 {
        return None;
    }
    let all = series.iter().flat_map(|(_, p)| p.iter());
    let x0 = all.clone().map(|p| p.0).fold(0.0, f64::min);
    let x1 = all.clone().map(|p| p.0).fold(x0 + 1.0, f64::max);
    let y_max = all.clone().map(|p| p.1).fold(1.0, f64::max) * 1.5;
    let y_min = all.map(|p| p.1).fold(f64::MAX, f64::min).clamp(0.01, 1.0) / 2.0;
    Some(draw(|root| {
        let mut chart = chart(
            root,
            "p99 latency of each strategy (ms, log scale; 0 = its first step)",
            x0..x1,
            (y_min..y_max).log_scale(),
        )?;
        mesh(&mut chart, "seconds since the strategy's first step", "ms")?;
        for (i, (name, points)) in series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|(x, y)| (*x, y.max(y_min))),
                    color.stroke_width(2),
                ))?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        legend(&mut chart)
    }))
}

type Area<'b> = DrawingArea<SVGBackend<'b>, plotters::coord::Shift>;
type Chart<'a, 'b, Y> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>;

/// A chart with the house style: caption, margins, label areas.
fn chart<'a, 'b, Y: plotters::coord::ranged1d::AsRangedCoord>(
    root: &'a Area<'b>,
    caption: &str,
    x: std::ops::Range<f64>,
    y: Y,
) -> std::result::Result<Chart<'a, 'b, Y::CoordDescType>, Box<dyn std::error::Error>> {
    Ok(ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(32)
        .y_label_area_size(60)
        .build_cartesian_2d(x, y)?)
}

/// Grid and axis titles.
fn mesh<'a, 'b, Y>(
    chart: &mut ChartContext<
        'a,
        SVGBackend<'b>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, Y>,
    >,
    x_desc: &str,
    y_desc: &str,
) -> Result
where
    'b: 'a,
    Y: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    Ok(())
}

fn shade_steps<Y>(
    chart: &mut ChartContext<
        '_,
        SVGBackend<'_>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, Y>,
    >,
    steps: &[(f64, f64, String)],
    y_lo: f64,
    y_hi: f64,
) -> Result
where
    Y: Ranged<ValueType = f64>,
{
    for (start, end, name) in steps {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(*start, y_lo), (end.max(start + 0.005), y_hi)],
            STEP_FILL.filled(),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            name.clone(),
            (*start, y_hi),
            ("sans-serif", 12).into_font().color(&RGBColor(150, 90, 0)),
        )))?;
    }
    Ok(())
}

fn legend<'a, 'b, Y>(
    chart: &mut ChartContext<
        'a,
        SVGBackend<'b>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, Y>,
    >,
) -> Result
where
    'b: 'a,
    Y: Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()?;
    Ok(())
}

fn draw(f: impl FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result) -> String {
    draw_sized(330, f)
}

fn draw_sized(
    height: u32,
    f: impl FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result,
) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .map_err(Into::into)
            .and_then(|()| f(&root))
            .and_then(|()| root.present().map_err(Into::into));
        if let Err(e) = drawn {
            tracing::warn!("failed to draw a chart: {e}");
        }
    }
    svg
}
