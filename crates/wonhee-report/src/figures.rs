//! The report's figures, drawn with `plotters` into an SVG string and an RGB buffer (encoded as
//! PNG with the `png` crate, so that the caller can write both atomically).
//!
//! Text needs a TrueType font: [`load_font`] registers the first of `$WONHEE_FONT` and a list of
//! standard system paths (DejaVu Sans, Liberation Sans, ...). Without one, figures are drawn
//! without any text (axes, captions and legends left out) and a warning is logged; the report
//! describes each figure in words, so it stays readable.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use wonhee_eval::Estimate;

use crate::error::{ReportError, Result};

/// The font family name figures use.
pub const FONT_FAMILY: &str = "sans-serif";

/// Where a sans-serif TTF is looked for, after `$WONHEE_FONT`.
pub const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/local/share/fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/usr/share/fonts/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

static FONT: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Registers a font for figure text, once per process; returns the file used, or `None` (with
/// a warning) when none of `$WONHEE_FONT` and [`FONT_PATHS`] is a readable TrueType font.
pub fn load_font() -> Option<&'static Path> {
    FONT.get_or_init(|| {
        let env = std::env::var_os("WONHEE_FONT").map(PathBuf::from);
        let candidates = env.into_iter().chain(FONT_PATHS.iter().map(PathBuf::from));
        for path in candidates {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            // plotters keeps registered fonts for the life of the process; one font, leaked once.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, bytes).is_ok() {
                tracing::debug!("figure font: {}", path.display());
                return Some(path);
            }
            tracing::warn!("{}: not a usable font", path.display());
        }
        tracing::warn!(
            "no font found (set WONHEE_FONT to a .ttf file): figures are drawn without text"
        );
        None
    })
    .as_deref()
}

/// A figure in both formats.
#[derive(Clone, Debug)]
pub struct Figure {
    /// File stem, e.g. `confusion-paper-ffn`.
    pub name: String,
    /// One-line description (the report's caption).
    pub caption: String,
    /// SVG document.
    pub svg: String,
    /// PNG file contents.
    pub png: Vec<u8>,
}

/// Something that can be drawn on any plotters backend; `text` is false when no font is loaded.
pub trait Plot {
    /// Pixel size (width, height).
    fn size(&self) -> (u32, u32) {
        (900, 560)
    }
    /// Draws onto a white `root`.
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        text: bool,
    ) -> std::result::Result<(), String>;
}

/// Renders `plot` as SVG and PNG. `text = false` leaves out all text (used without a font).
pub fn render(plot: &impl Plot, name: &str, caption: &str, text: bool) -> Result<Figure> {
    let (w, h) = plot.size();
    let err = |msg: String| ReportError::Plot {
        name: name.to_string(),
        msg,
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(pe).map_err(err)?;
        plot.draw(&root, text).map_err(err)?;
        root.present().map_err(pe).map_err(err)?;
    }
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(pe).map_err(err)?;
        plot.draw(&root, text).map_err(err)?;
        root.present().map_err(pe).map_err(err)?;
    }
    let png = encode_png(&rgb, w, h).map_err(err)?;
    Ok(Figure {
        name: name.to_string(),
        caption: caption.to_string(),
        svg,
        png,
    })
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(pe)?;
        writer.write_image_data(rgb).map_err(pe)?;
        writer.finish().map_err(pe)?;
    }
    Ok(out)
}

/// Error to string.
fn pe<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Tableau-10 colours.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Colour number `i` of the palette (cycling).
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn font(size: u32) -> TextStyle<'static> {
    TextStyle::from((FONT_FAMILY, size).into_font())
}

/// A chart builder with caption and label areas only when there is text.
fn builder<'a, 'b, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    caption: &str,
    text: bool,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(root);
    b.margin(12);
    if text {
        b.caption(caption, font(20))
            .x_label_area_size(42)
            .y_label_area_size(64);
    }
    b
}

/// Number of x labels and their formatter (categorical axes).
type XLabels<'a, V> = Option<(usize, &'a dyn Fn(&V) -> String)>;

/// Draws the mesh (with axis titles when there is text).
fn mesh<DB, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    text: bool,
    x_desc: &str,
    y_desc: &str,
    x_fmt: XLabels<'_, X::ValueType>,
) -> std::result::Result<(), String>
where
    DB: DrawingBackend,
    X: Ranged + ValueFormatter<X::ValueType>,
    Y: Ranged + ValueFormatter<Y::ValueType>,
{
    let mut m = chart.configure_mesh();
    m.light_line_style(RGBColor(235, 235, 235));
    if text {
        m.x_desc(x_desc)
            .y_desc(y_desc)
            .label_style(font(13))
            .axis_desc_style(font(15));
        if let Some((n, f)) = x_fmt {
            m.x_labels(n).x_label_formatter(f);
        }
    }
    m.draw().map_err(pe)
}

/// Draws the series legend (only with text).
fn legend<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    text: bool,
    pos: SeriesLabelPosition,
) -> std::result::Result<(), String>
where
    DB: DrawingBackend + 'a,
    X: Ranged,
    Y: Ranged,
{
    if !text {
        return Ok(());
    }
    chart
        .configure_series_labels()
        .position(pos)
        .label_font(font(13))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .draw()
        .map_err(pe)
}

fn legend_line(c: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3))
}

fn legend_box(c: RGBColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled())
}

/// `lo..hi` widened by `pad` of its span (or by 1 when empty).
fn padded(lo: f64, hi: f64, pad: f64) -> std::ops::Range<f64> {
    let span = if hi > lo { hi - lo } else { 1.0 };
    (lo - pad * span)..(hi + pad * span)
}

fn min_max(v: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    v.into_iter()
        .filter(|x| x.is_finite())
        .fold(None, |acc, x| match acc {
            None => Some((x, x)),
            Some((a, b)) => Some((a.min(x), b.max(x))),
        })
}

/// A categorical axis over `n` categories at 0, 1, ..., n-1.
/// (Label it with `x_labels(n)`: plotters then puts its key points on the integers.)
fn category_axis(n: usize) -> std::ops::Range<f64> {
    -0.5..n as f64 - 0.5
}

fn category_name<'a>(names: &'a [String]) -> impl Fn(&f64) -> String + 'a {
    move |v: &f64| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
            names[i as usize].clone()
        } else {
            String::new()
        }
    }
}

/// Class counts before and after class-balanced sampling (log scale, counts printed).
#[derive(Clone, Debug)]
pub struct ClassDistribution {
    /// Title.
    pub title: String,
    /// Class names.
    pub classes: Vec<String>,
    /// Training-side windows per class.
    pub before: Vec<f64>,
    /// Expected draws per class under the class-balanced sampler (same total).
    pub after: Vec<f64>,
}

impl Plot for ClassDistribution {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        text: bool,
    ) -> std::result::Result<(), String> {
        let n = self.classes.len();
        let max = min_max(self.before.iter().chain(&self.after).copied())
            .map_or(1.0, |(_, b)| b.max(1.0));
        let mut chart = builder(root, &self.title, text)
            .build_cartesian_2d(category_axis(n), (0.7..max * 4.0).log_scale())
            .map_err(pe)?;
        let names = category_name(&self.classes);
        mesh(
            &mut chart,
            text,
            "class",
            "training windows",
            Some((n, &names)),
        )?;
        for (s, (label, values, dx)) in [
            ("before balancing", &self.before, -0.2),
            ("after balancing (expected)", &self.after, 0.2),
        ]
        .into_iter()
        .enumerate()
        {
            let c = color(s);
            chart
                .draw_series(values.iter().enumerate().filter(|(_, v)| **v >= 1.0).map(
                    |(i, &v)| {
                        let x = i as f64 + dx;
                        Rectangle::new([(x - 0.19, 0.7), (x + 0.19, v)], c.filled())
                    },
                ))
                .map_err(pe)?
                .label(label)
                .legend(legend_box(c));
            if text {
                let style = font(12).pos(Pos::new(HPos::Center, VPos::Bottom));
                chart
                    .draw_series(values.iter().enumerate().filter(|(_, v)| **v >= 1.0).map(
                        |(i, &v)| {
                            Text::new(
                                format!("{}", v.round()),
                                (i as f64 + dx, v * 1.08),
                                style.clone(),
                            )
                        },
                    ))
                    .map_err(pe)?;
            }
        }
        legend(&mut chart, text, SeriesLabelPosition::UpperRight)
    }
}

/// A 2-D scatter coloured by label (t-SNE).
#[derive(Clone, Debug)]
pub struct Scatter {
    /// Title.
    pub title: String,
    /// Points.
    pub x: Vec<f64>,
    /// Points.
    pub y: Vec<f64>,
    /// Label per point (one colour per distinct label, in `order`).
    pub label: Vec<String>,
    /// Labels in legend order.
    pub order: Vec<String>,
}

impl Plot for Scatter {
    fn size(&self) -> (u32, u32) {
        (800, 720)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        text: bool,
    ) -> std::result::Result<(), String> {
        let (x0, x1) = min_max(self.x.iter().copied()).unwrap_or((0.0, 1.0));
        let (y0, y1) = min_max(self.y.iter().copied()).unwrap_or((0.0, 1.0));
        let mut chart = builder(root, &self.title, text)
            .build_cartesian_2d(padded(x0, x1, 0.04), padded(y0, y1, 0.04))
            .map_err(pe)?;
        mesh(&mut chart, text, "t-SNE 1", "t-SNE 2", None)?;
        for (ci, name) in self.order.iter().enumerate() {
            let c = color(ci);
            let n = self.label.iter().filter(|l| *l == name).count();
            chart
                .draw_series(
                    self.x
                        .iter()
                        .zip(&self.y)
                        .zip(&self.label)
                        .filter(|(_, l)| *l == name)
                        .map(|((&x, &y), _)| Circle::new((x, y), 2, c.mix(0.6).filled())),
                )
                .map_err(pe)?
                .label(format!("{name} ({n})"))
                .legend(legend_box(c));
        }
        legend(&mut chart, text, SeriesLabelPosition::UpperRight)
    }
}

/// Lines over steps, optionally on a log y axis; each series drawn faintly as is and boldly as a
/// centred moving average of `smooth` points (1 = no smoothing).
#[derive(Clone, Debug)]
pub struct Curves {
    /// Title.
    pub title: String,
    /// X axis title.
    pub x_desc: String,
    /// Y axis title.
    pub y_desc: String,
    /// Log scale on y.
    pub log_y: bool,
    /// Moving-average width.
    pub smooth: usize,
    /// (name, points) per series.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// Draw a marker at each point.
    pub markers: bool,
}

/// Centred moving average over `w` points.
fn moving_average(p: &[(f64, f64)], w: usize) -> Vec<(f64, f64)> {
    if w <= 1 || p.len() < 3 {
        return p.to_vec();
    }
    let h = w / 2;
    (0..p.len())
        .map(|i| {
            let (a, b) = (i.saturating_sub(h), (i + h + 1).min(p.len()));
            let m = p[a..b].iter().map(|q| q.1).sum::<f64>() / (b - a) as f64;
            (p[i].0, m)
        })
        .collect()
}

impl Curves {
    fn draw_on<'a, DB: DrawingBackend + 'a, Y>(
        &self,
        mut chart: ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
        text: bool,
    ) -> std::result::Result<(), String>
    where
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        mesh(&mut chart, text, &self.x_desc, &self.y_desc, None)?;
        for (i, (name, pts)) in self.series.iter().enumerate() {
            let c = color(i);
            let keep = |p: &&(f64, f64)| p.1.is_finite() && (!self.log_y || p.1 > 0.0);
            let pts: Vec<(f64, f64)> = pts.iter().filter(keep).copied().collect();
            if self.smooth > 1 {
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), c.mix(0.25)))
                    .map_err(pe)?;
            }
            chart
                .draw_series(LineSeries::new(
                    moving_average(&pts, self.smooth),
                    c.stroke_width(2),
                ))
                .map_err(pe)?
                .label(name.as_str())
                .legend(legend_line(c));
            if self.markers {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))
                    .map_err(pe)?;
            }
        }
        legend(&mut chart, text, SeriesLabelPosition::UpperRight)
    }
}

impl Plot for Curves {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        text: bool,
    ) -> std::result::Result<(), String> {
        let all = self.series.iter().flat_map(|(_, p)| p.iter());
        let (x0, x1) = min_max(all.clone().map(|p| p.0)).unwrap_or((0.0, 1.0));
        let ys = all.map(|p| p.1).filter(|y| !self.log_y || *y > 0.0);
        let (y0, y1) = min_max(ys).unwrap_or((0.1, 1.0));
        let xr = padded(x0, x1, 0.02);
        if self.log_y {
            let chart = builder(root, &self.title, text)
                .build_cartesian_2d(xr, (y0 / 1.3..y1 * 1.3).log_scale())
                .map_err(pe)?;
            self.draw_on(chart, text)
        } else {
            let chart = builder(root, &self.title, text)
                .build_cartesian_2d(xr, padded(y0, y1, 0.08))
                .map_err(pe)?;
            self.draw_on(chart, text)
        }
    }
}

/// A confusion matrix: cells coloured by the row-normalized fraction, counts printed.
#[derive(Clone, Debug)]
pub struct Confusion {
    /// Title.
    pub title: String,
    /// Class names.
    pub classes: Vec<String>,
    /// `matrix[true][predicted]`.
    pub matrix: Vec<Vec<u64>>,
}

impl Plot for Confusion {
    fn size(&self) -> (u32, u32) {
        (640, 600)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        text: bool,
    ) -> std::result::Result<(), String> {
        let n = self.classes.len();
        let mut chart = builder(root, &self.title, text)
            .build_cartesian_2d(category_axis(n), category_axis(n))
            .map_err(pe)?;
        let names = category_name(&self.classes);
        // Row `t` is drawn at y = n - 1 - t, so that the first class is on top.
        let reversed: Vec<String> = self.classes.iter().rev().cloned().collect();
        let rows = category_name(&reversed);
        {
            let mut m = chart.configure_mesh();
            m.disable_mesh();
            if text {
                m.x_desc("predicted")
                    .y_desc("true")
                    .label_style(font(14))
                    .axis_desc_style(font(15))
                    .x_labels(n)
                    .y_labels(n)
                    .x_label_formatter(&names)
                    .y_label_formatter(&rows);
            }
            m.draw().map_err(pe)?;
        }
        let base = RGBColor(31, 119, 180);
        for (t, row) in self.matrix.iter().enumerate() {
            let total: u64 = row.iter().sum();
            for (p, &count) in row.iter().enumerate() {
                let f = if total > 0 {
                    count as f64 / total as f64
                } else {
                    0.0
                };
                let mix = |c: u8| (255.0 - f * (255.0 - f64::from(c))).round() as u8;
                let fill = RGBColor(mix(base.0), mix(base.1), mix(base.2));
                let (x, y) = (p as f64, (n - 1 - t) as f64);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                        fill.filled(),
                    )))
                    .map_err(pe)?;
                if text {
                    let ink = if f > 0.55 { WHITE } else { BLACK };
                    let style = font(15)
                        .color(&ink)
                        .pos(Pos::new(HPos::Center, VPos::Center));
                    chart
                        .draw_series(std::iter::once(Text::new(
                            format!("{count}"),
                            (x, y),
                            style,
                        )))
                        .map_err(pe)?;
                }
            }
        }
        Ok(())
    }
}

/// Misclassified beats per record: one horizontal bar per record (the first on top), stacked
/// by true class, with each bar's total printed at its end.
#[derive(Clone, Debug)]
pub struct RecordErrors {
    /// Title.
    pub title: String,
    /// X axis title.
    pub x_desc: String,
    /// Record names, top to bottom.
    pub records: Vec<String>,
    /// Stack segments in order: class name and its palette index ([`color`]).
    pub classes: Vec<(String, usize)>,
    /// `counts[record][segment]`; missing entries count as 0.
    pub counts: Vec<Vec<u64>>,
}

impl RecordErrors {
    /// Count of segment `k` of record `r` (0 when absent).
    fn count(&self, r: usize, k: usize) -> u64 {
        self.counts
            .get(r)
            .and_then(|c| c.get(k))
            .copied()
            .unwrap_or(0)
    }

    /// Total of record `r` over the segments.
    fn total(&self, r: usize) -> u64 {
        (0..self.classes.len()).map(|k| self.count(r, k)).sum()
    }
}

impl Plot for RecordErrors {
    fn size(&self) -> (u32, u32) {
        let n = u32::try_from(self.records.len()).unwrap_or(u32::MAX);
        (
            900,
            n.saturating_mul(22).saturating_add(130).clamp(320, 1600),
        )
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        text: bool,
    ) -> std::result::Result<(), String> {
        let n = self.records.len();
        let max = (0..n).map(|r| self.total(r)).max().unwrap_or(0).max(1) as f64;
        let mut chart = builder(root, &self.title, text)
            .build_cartesian_2d(0.0..max * 1.3, category_axis(n))
            .map_err(pe)?;
        // Record `r` is drawn at y = n - 1 - r, so that the first record is on top.
        let reversed: Vec<String> = self.records.iter().rev().cloned().collect();
        let rows = category_name(&reversed);
        {
            let mut m = chart.configure_mesh();
            m.disable_y_mesh().light_line_style(RGBColor(235, 235, 235));
            if text {
                m.x_desc(self.x_desc.as_str())
                    .y_desc("record")
                    .label_style(font(13))
                    .axis_desc_style(font(15))
                    .y_labels(n)
                    .y_label_formatter(&rows)
                    .x_label_formatter(&|v: &f64| format!("{v:.0}"));
            }
            m.draw().map_err(pe)?;
        }
        let y = |r: usize| (n - 1 - r) as f64;
        for (k, (name, ci)) in self.classes.iter().enumerate() {
            let c = color(*ci);
            let all: u64 = (0..n).map(|r| self.count(r, k)).sum();
            let bars = (0..n).filter(|&r| self.count(r, k) > 0).map(|r| {
                let x0: u64 = (0..k).map(|j| self.count(r, j)).sum();
                let x1 = x0 + self.count(r, k);
                Rectangle::new(
                    [(x0 as f64, y(r) - 0.36), (x1 as f64, y(r) + 0.36)],
                    c.filled(),
                )
            });
            chart
                .draw_series(bars)
                .map_err(pe)?
                .label(format!("{name} ({all})"))
                .legend(legend_box(c));
        }
        if text {
            let style = font(12).pos(Pos::new(HPos::Left, VPos::Center));
            chart
                .draw_series((0..n).map(|r| {
                    Text::new(
                        format!("{}", self.total(r)),
                        (self.total(r) as f64 + 0.01 * max, y(r)),
                        style.clone(),
                    )
                }))
                .map_err(pe)?;
        }
        legend(&mut chart, text, SeriesLabelPosition::UpperRight)
    }
}

/// An imputation or forecasting example: the true window, the observed points, the model's
/// and a baseline's values at the hidden points.
#[derive(Clone, Debug)]
pub struct ExampleWindow {
    /// Title.
    pub title: String,
    /// Sampling rate (Hz), for the time axis.
    pub rate_hz: f64,
    /// The true window.
    pub truth: Vec<f32>,
    /// Hidden points.
    pub hidden: Vec<bool>,
    /// Model output.
    pub pred: Vec<f32>,
    /// Baseline name.
    pub baseline_name: String,
    /// Baseline output.
    pub baseline: Vec<f32>,
}

/// Runs of consecutive hidden indices, as (time, value) polylines.
fn hidden_runs(hidden: &[bool], v: &[f32], rate: f64) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut prev = false;
    for (i, (&h, &y)) in hidden.iter().zip(v).enumerate() {
        if h {
            if !prev {
                runs.push(Vec::new());
            }
            if let Some(r) = runs.last_mut() {
                r.push((i as f64 / rate, f64::from(y)));
            }
        }
        prev = h;
    }
    runs
}

impl Plot for ExampleWindow {
    fn size(&self) -> (u32, u32) {
        (1000, 480)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        text: bool,
    ) -> std::result::Result<(), String> {
        let t = |i: usize| i as f64 / self.rate_hz;
        let vals = self
            .truth
            .iter()
            .chain(&self.pred)
            .chain(&self.baseline)
            .map(|&v| f64::from(v));
        let (y0, y1) = min_max(vals).unwrap_or((-1.0, 1.0));
        let mut chart = builder(root, &self.title, text)
            .build_cartesian_2d(
                padded(0.0, t(self.truth.len().saturating_sub(1)), 0.01),
                padded(y0, y1, 0.06),
            )
            .map_err(pe)?;
        mesh(&mut chart, text, "time (s)", "standardized amplitude", None)?;
        let grey = RGBColor(150, 150, 150);
        chart
            .draw_series(LineSeries::new(
                self.truth
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| (t(i), f64::from(v))),
                grey.stroke_width(1),
            ))
            .map_err(pe)?
            .label("truth")
            .legend(legend_line(grey));
        chart
            .draw_series(
                self.truth
                    .iter()
                    .zip(&self.hidden)
                    .enumerate()
                    .filter(|(_, (_, h))| !**h)
                    .map(|(i, (&v, _))| Circle::new((t(i), f64::from(v)), 2, BLACK.filled())),
            )
            .map_err(pe)?
            .label("observed")
            .legend(|(x, y)| Circle::new((x + 6, y), 3, BLACK.filled()));
        for (series, name, c) in [
            (
                &self.baseline,
                format!("baseline: {}", self.baseline_name),
                color(2),
            ),
            (&self.pred, "model".to_string(), color(3)),
        ] {
            let runs = hidden_runs(&self.hidden, series, self.rate_hz);
            for (j, r) in runs.iter().enumerate() {
                let s = chart
                    .draw_series(LineSeries::new(r.iter().copied(), c.stroke_width(2)))
                    .map_err(pe)?;
                if j == 0 {
                    s.label(name.as_str()).legend(legend_line(c));
                }
            }
            chart
                .draw_series(
                    runs.iter()
                        .flatten()
                        .map(|&p| Circle::new(p, 2, c.filled())),
                )
                .map_err(pe)?;
        }
        legend(&mut chart, text, SeriesLabelPosition::UpperRight)
    }
}

/// One method's errors against K, with interval bounds.
#[derive(Clone, Debug)]
pub struct ErrorSeries {
    /// Method name.
    pub name: String,
    /// (K, estimate) pairs.
    pub points: Vec<(f64, Estimate)>,
}

/// Imputation and forecasting MSE against K, side by side, with bootstrap intervals as error
/// bars.
#[derive(Clone, Debug)]
pub struct ErrorVsK {
    /// Title.
    pub title: String,
    /// (panel title, series) per panel.
    pub panels: Vec<(String, Vec<ErrorSeries>)>,
    /// Y axis title.
    pub y_desc: String,
}

impl Plot for ErrorVsK {
    fn size(&self) -> (u32, u32) {
        (1100, 500)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        text: bool,
    ) -> std::result::Result<(), String> {
        let root = if text {
            root.titled(&self.title, font(20)).map_err(pe)?
        } else {
            root.clone()
        };
        let areas = root.split_evenly((1, self.panels.len().max(1)));
        for ((title, series), area) in self.panels.iter().zip(&areas) {
            let ks = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
            let (k0, k1) = min_max(ks).unwrap_or((0.0, 1.0));
            let highs = series
                .iter()
                .flat_map(|s| s.points.iter().filter_map(|(_, e)| e.hi.or(e.value)));
            let (_, y1) = min_max(highs).unwrap_or((0.0, 1.0));
            let spread = (k1 - k0).max(100.0);
            let mut chart = builder(area, title, text)
                .build_cartesian_2d(
                    (k0 - 0.12 * spread)..(k1 + 0.12 * spread),
                    0.0..(y1 * 1.1).max(1e-9),
                )
                .map_err(pe)?;
            mesh(&mut chart, text, "K (hidden points)", &self.y_desc, None)?;
            let m = series.len() as f64;
            for (i, s) in series.iter().enumerate() {
                let c = color(i);
                let dx = (i as f64 - (m - 1.0) / 2.0) * 0.015 * spread;
                let pts: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .filter_map(|(k, e)| e.value.map(|v| (k + dx, v)))
                    .collect();
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
                    .map_err(pe)?
                    .label(s.name.as_str())
                    .legend(legend_line(c));
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))
                    .map_err(pe)?;
                let cap = 0.006 * spread;
                for (k, e) in &s.points {
                    if let (Some(lo), Some(hi)) = (e.lo, e.hi) {
                        let x = k + dx;
                        for seg in [
                            vec![(x, lo), (x, hi)],
                            vec![(x - cap, lo), (x + cap, lo)],
                            vec![(x - cap, hi), (x + cap, hi)],
                        ] {
                            chart
                                .draw_series(std::iter::once(PathElement::new(
                                    seg,
                                    c.stroke_width(1),
                                )))
                                .map_err(pe)?;
                        }
                    }
                }
            }
            legend(&mut chart, text, SeriesLabelPosition::UpperLeft)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Confusion {
        Confusion {
            title: "demo".into(),
            classes: vec!["N".into(), "V".into()],
            matrix: vec![vec![90, 10], vec![0, 0]],
        }
    }

    #[test]
    fn renders_without_text() {
        let f = render(&demo(), "c", "caption", false).unwrap();
        assert!(f.png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(f.svg.contains("<svg") && !f.svg.contains("<text"));
    }

    #[test]
    fn renders_text_with_a_font() {
        if load_font().is_none() {
            // Not a skip: this machine's lack of a font is what must not break rendering.
            let f = render(&demo(), "c", "caption", false).unwrap();
            assert!(!f.png.is_empty());
            return;
        }
        let f = render(&demo(), "c", "caption", true).unwrap();
        let texts: Vec<&str> = f
            .svg
            .split("<text")
            .skip(1)
            .filter_map(|t| t.split_once('>').and_then(|(_, r)| r.split_once("</text>")))
            .map(|(inner, _)| inner.trim())
            .collect();
        assert!(
            texts.contains(&"90") && texts.contains(&"10"),
            "counts printed: {texts:?}"
        );
    }

    /// The inner text of every `<text>` element of an SVG.
    fn svg_texts(svg: &str) -> Vec<&str> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| t.split_once('>').and_then(|(_, r)| r.split_once("</text>")))
            .map(|(inner, _)| inner.trim())
            .collect()
    }

    fn record_errors() -> RecordErrors {
        RecordErrors {
            title: "errors".into(),
            x_desc: "misclassified beats".into(),
            records: vec!["232".into(), "100".into(), "222".into()],
            classes: vec![("N".into(), 0), ("S".into(), 1), ("V".into(), 2)],
            // Record 222's row is short: its missing V count is 0.
            counts: vec![vec![2, 40, 0], vec![0, 0, 0], vec![3]],
        }
    }

    #[test]
    fn record_errors_stack_by_class_in_class_colours() {
        let p = record_errors();
        assert_eq!((p.total(0), p.total(1), p.total(2)), (42, 0, 3));
        assert_eq!(p.size(), (900, 320));
        let f = render(&p, "record-errors", "caption", false).unwrap();
        assert!(f.png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(!f.svg.contains("<text"));
        // N (colour 0) and S (colour 1) bars are drawn; V (colour 2) has none.
        let fill = |c: RGBColor| format!("fill=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2);
        assert_eq!(f.svg.matches(&fill(color(0))).count(), 2, "{}", f.svg);
        assert_eq!(f.svg.matches(&fill(color(1))).count(), 1);
        assert!(!f.svg.contains(&fill(color(2))));
        if load_font().is_some() {
            let f = render(&p, "record-errors", "caption", true).unwrap();
            let texts = svg_texts(&f.svg);
            for t in [
                "232", "100", "222", "42", "0", "3", "N (5)", "S (40)", "V (0)",
            ] {
                assert!(texts.contains(&t), "{t} missing: {texts:?}");
            }
        }
    }

    #[test]
    fn moving_average_is_centred() {
        let p: Vec<(f64, f64)> = (0..5).map(|i| (i as f64, i as f64)).collect();
        let m = moving_average(&p, 3);
        assert_eq!(m[2], (2.0, 2.0));
        assert_eq!(m[0], (0.0, 0.5));
        assert_eq!(m[4], (4.0, 3.5));
    }

    #[test]
    fn hidden_runs_split_at_gaps() {
        let h = [false, true, true, false, true];
        let v = [0.0, 1.0, 2.0, 3.0, 4.0];
        let r = hidden_runs(&h, &v, 1.0);
        assert_eq!(r, vec![vec![(1.0, 1.0), (2.0, 2.0)], vec![(4.0, 4.0)]]);
    }
}
