//! Line plots as PNG: drawn by plotters into an RGB buffer, encoded by `image`, with the
//! embedded DejaVu font (no system fonts or libraries).

use std::path::Path;
use std::sync::Once;

use anyhow::{Result, anyhow};
use avsl_data::fsutil::write_atomic;
use avsl_data::image_io::{RgbImage, encode_png};
use plotters::prelude::*;

const SIZE: (u32, u32) = (720, 540);
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

pub fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in; registering it cannot fail for a valid TTF.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
}

/// One curve of a plot: its legend label and points, drawn solid or dashed.
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
}

/// A plot on [0, 1] × [0, 1] with axis labels and a legend, written as PNG.
pub fn line_plot(path: &Path, title: &str, x_label: &str, y_label: &str, series: &[Series]) -> Result<()> {
    line_plot_in(path, title, x_label, y_label, series, (0.0, 1.0), (0.0, 1.02))
}

/// The range of the finite values `v`, padded by 5% (a unit range around a single value).
pub fn padded_range(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        v.filter(|x| x.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 0.5 };
    (lo - pad, hi + pad)
}

/// A line plot on the given axis ranges, written as PNG.
pub fn line_plot_in(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    x_range: (f64, f64),
    y_range: (f64, f64),
) -> Result<()> {
    register_font();
    let (w, h) = SIZE;
    let mut buffer = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, SIZE).into_drawing_area();
        let err = |e: &dyn std::fmt::Display| anyhow!("{}: cannot draw plot: {e}", path.display());
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style(("sans-serif", 15))
            .draw()
            .map_err(|e| err(&e))?;
        for (k, s) in series.iter().enumerate() {
            let colour = PALETTE[k % PALETTE.len()];
            let style = ShapeStyle::from(&colour).stroke_width(2);
            let points: Vec<(f64, f64)> =
                s.points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
            let drawn = if s.dashed {
                chart.draw_series(DashedLineSeries::new(points, 8, 5, style))
            } else {
                chart.draw_series(LineSeries::new(points, style))
            };
            drawn.map_err(|e| err(&e))?.label(s.label.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], ShapeStyle::from(&colour).stroke_width(2))
            });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 15))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    let img = RgbImage { width: w as usize, height: h as usize, data: buffer };
    write_atomic(path, &encode_png(&img))?;
    Ok(())
}

/// Confidence over time (one point per step) with the decision threshold dashed and the
/// steps decided "sounding" shaded, written as PNG.
pub fn timeline_plot(
    path: &Path,
    confidence: &[(f64, f64)],
    threshold: Option<f64>,
    sounding: &[bool],
    step: f64,
) -> Result<()> {
    register_font();
    let size = (960, 360);
    let mut buffer = vec![0u8; (size.0 * size.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, size).into_drawing_area();
        let err = |e: &dyn std::fmt::Display| anyhow!("{}: cannot draw plot: {e}", path.display());
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let x_end = confidence.last().map_or(1.0, |p| p.0 + step / 2.0);
        let x_start = confidence.first().map_or(0.0, |p| p.0 - step / 2.0).min(0.0);
        let (lo, hi) = padded_range(confidence.iter().map(|p| p.1).chain(threshold));
        let title = match threshold {
            Some(t) => format!("Confidence over time (threshold {t:.3}; shaded: sounding)"),
            None => "Confidence over time (no calibrated threshold)".to_string(),
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(x_start..x_end, lo..hi)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("time (s, centre of the window)")
            .y_desc("confidence")
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| err(&e))?;
        let shade = RGBColor(44, 160, 44).mix(0.18).filled();
        chart
            .draw_series(
                confidence
                    .iter()
                    .zip(sounding)
                    .filter(|(_, s)| **s)
                    .map(|((t, _), _)| Rectangle::new([(t - step / 2.0, lo), (t + step / 2.0, hi)], shade)),
            )
            .map_err(|e| err(&e))?;
        if let Some(t) = threshold {
            let style = ShapeStyle::from(&PALETTE[3]).stroke_width(2);
            chart
                .draw_series(DashedLineSeries::new(vec![(x_start, t), (x_end, t)], 8, 5, style))
                .map_err(|e| err(&e))?
                .label("threshold")
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        }
        let style = ShapeStyle::from(&PALETTE[0]).stroke_width(2);
        chart
            .draw_series(LineSeries::new(confidence.iter().copied().filter(|p| p.1.is_finite()), style))
            .map_err(|e| err(&e))?
            .label("confidence")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        chart.draw_series(confidence.iter().map(|&p| Circle::new(p, 3, PALETTE[0].filled()))).map_err(|e| err(&e))?;
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    let img = RgbImage { width: size.0 as usize, height: size.1 as usize, data: buffer };
    write_atomic(path, &encode_png(&img))?;
    Ok(())
}
