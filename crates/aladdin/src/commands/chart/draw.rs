//! Drawing with plotters into an SVG string, or into an RGB buffer that the `png` crate
//! encodes. Text uses the DejaVu Sans font compiled into the binary (registered with
//! plotters' `ab_glyph` font table), so a chart looks the same on every machine and no system
//! font is looked up.

use anyhow::anyhow;
use faux::Date;
use plotters::coord::Shift;
use plotters::coord::combinators::WithKeyPoints;
use plotters::coord::types::RangedCoordi32;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::data::{OrdersCurve, PlatformTotals};

/// The family name charts ask for; it resolves to the embedded font only.
const FONT: &str = "sans-serif";
static DEJAVU_SANS: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");

const COST: RGBColor = RGBColor(230, 126, 34);
const SALES: RGBColor = RGBColor(41, 128, 185);
const GAIN: RGBColor = RGBColor(39, 174, 96);
const LOSS: RGBColor = RGBColor(192, 57, 43);
const CURVE: RGBColor = RGBColor(41, 128, 185);
const MUTED: RGBColor = RGBColor(110, 110, 110);

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// What to draw.
#[derive(Debug)]
pub enum Picture<'a> {
    OrdersCurve(&'a OrdersCurve),
    MarketingRoi(&'a [PlatformTotals]),
}

#[derive(Debug)]
pub struct Spec<'a> {
    pub title: String,
    /// A small line at the bottom: where the numbers came from.
    pub footer: String,
    pub picture: Picture<'a>,
    pub width: u32,
    pub height: u32,
}

fn register_font() -> anyhow::Result<()> {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(anyhow!("the embedded font DejaVuSans.ttf cannot be read"))
    }
}

fn drawing_error<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("cannot draw the chart: {e}")
}

pub fn svg(spec: &Spec) -> anyhow::Result<Vec<u8>> {
    register_font()?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (spec.width, spec.height)).into_drawing_area();
        draw(&root, spec)?;
        root.present().map_err(drawing_error)?;
    }
    Ok(out.into_bytes())
}

pub fn png(spec: &Spec) -> anyhow::Result<Vec<u8>> {
    register_font()?;
    let (w, h) = (spec.width, spec.height);
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw(&root, spec)?;
        root.present().map_err(drawing_error)?;
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&rgb)?;
    writer.finish()?;
    Ok(out)
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, spec: &Spec) -> anyhow::Result<()> {
    root.fill(&WHITE).map_err(drawing_error)?;
    let area = root
        .titled(&spec.title, (FONT, 28).into_font().color(&BLACK))
        .map_err(drawing_error)?;
    let (w, h) = area.dim_in_pixel();
    let (body, foot) = area.split_vertically(h.saturating_sub(30));
    foot.draw(&Text::new(
        spec.footer.clone(),
        (16, 12),
        TextStyle::from((FONT, 14).into_font())
            .color(&MUTED)
            .pos(Pos::new(HPos::Left, VPos::Center)),
    ))
    .map_err(drawing_error)?;
    match &spec.picture {
        Picture::OrdersCurve(curve) => draw_orders_curve(&body, curve),
        Picture::MarketingRoi(platforms) => {
            let (left, right) = body.split_horizontally(w * 58 / 100);
            draw_cost_and_sales(&left, platforms)?;
            draw_roi(&right, platforms)
        }
    }
}

fn label_style(size: u32, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).pos(Pos::new(h, v))
}

fn draw_orders_curve<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    curve: &OrdersCurve,
) -> anyhow::Result<()> {
    let n = curve.days.len();
    let first = curve
        .days
        .first()
        .map(|(d, _)| *d)
        .ok_or_else(|| anyhow!("no days"))?;
    let max = curve.days.iter().map(|(_, o)| *o).max().unwrap_or(0);
    let points: Vec<(i32, f64)> = curve
        .days
        .iter()
        .enumerate()
        .map(|(i, (_, o))| (i as i32, *o as f64))
        .collect();
    let (ticks, daily_labels) = date_ticks(&curve.days);
    let label_of = |x: &i32| -> String {
        let d = first.add_days(*x);
        let (y, m, day) = d.ymd();
        if daily_labels {
            format!("{} {day}", MONTHS[m as usize - 1])
        } else {
            format!("{} {y}", MONTHS[m as usize - 1])
        }
    };
    // with few days, half a day's margin each side keeps the end points' labels inside
    let pad = if n <= 62 { 1 } else { 0 };
    let x_range = -pad..(n as i32 - 1 + pad).max(1);
    let mut chart = ChartBuilder::on(area)
        .margin(20)
        .margin_right(40)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(
            x_range.with_key_points(ticks),
            0f64..(max as f64 * 1.2).max(10.0),
        )
        .map_err(drawing_error)?;
    chart
        .configure_mesh()
        .x_label_formatter(&label_of)
        .y_label_formatter(&|y| thousands(y.round() as i64))
        .x_desc("Order date")
        .y_desc("Orders per day")
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 17))
        .max_light_lines(0)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(drawing_error)?;

    chart
        .draw_series(LineSeries::new(points.clone(), CURVE.stroke_width(2)))
        .map_err(drawing_error)?
        .label("Orders per day")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], CURVE.stroke_width(2)));
    if n <= 62 {
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 3, CURVE.filled())))
            .map_err(drawing_error)?;
    }

    let total: u64 = curve.days.iter().map(|(_, o)| o).sum();
    let mean = total as f64 / n as f64;
    chart
        .draw_series(DashedLineSeries::new(
            vec![(points[0].0, mean), (points[n - 1].0, mean)],
            10,
            6,
            MUTED.stroke_width(2),
        ))
        .map_err(drawing_error)?
        .label(format!(
            "Mean: {} orders/day",
            thousands(mean.round() as i64)
        ))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], MUTED.stroke_width(2)));

    // every value when there are few days; otherwise the highest and lowest
    if n <= 16 {
        chart
            .draw_series(points.iter().map(|(x, y)| {
                EmptyElement::at((*x, *y))
                    + Text::new(
                        thousands(*y as i64),
                        (0, -8),
                        label_style(14, HPos::Center, VPos::Bottom),
                    )
            }))
            .map_err(drawing_error)?;
    } else {
        let (hi_i, _) = curve
            .days
            .iter()
            .enumerate()
            .max_by_key(|(i, (_, o))| (*o, std::cmp::Reverse(*i)))
            .expect("days");
        let (lo_i, _) = curve
            .days
            .iter()
            .enumerate()
            .min_by_key(|(i, (_, o))| (*o, *i))
            .expect("days");
        for (i, above, word) in [(hi_i, true, "highest"), (lo_i, false, "lowest")] {
            let (d, o) = curve.days[i];
            // keep the note inside the plot near its edges
            let (h, dx) = if i < n / 6 {
                (HPos::Left, 8)
            } else if i > n * 5 / 6 {
                (HPos::Right, -8)
            } else {
                (HPos::Center, 0)
            };
            let (dy, v) = if above {
                (-10, VPos::Bottom)
            } else {
                (10, VPos::Top)
            };
            chart
                .draw_series([EmptyElement::at(points[i])
                    + Circle::new((0, 0), 5, CURVE.filled())
                    + Text::new(
                        format!("{word}: {} on {d}", thousands(o as i64)),
                        (dx, dy),
                        label_style(15, h, v),
                    )])
                .map_err(drawing_error)?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .margin(12)
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(drawing_error)?;
    Ok(())
}

/// Where the date axis gets labels: every day for a short range, weekly for a few months'
/// worth of days, else the first of each month (at most about 12 of them). The flag says
/// whether labels name days (`Jul 10`) or months (`Jul 2024`).
fn date_ticks(days: &[(Date, u64)]) -> (Vec<i32>, bool) {
    let n = days.len();
    if n <= 16 {
        return ((0..n as i32).collect(), true);
    }
    if n <= 93 {
        return ((0..n as i32).step_by(7).collect(), true);
    }
    let starts: Vec<usize> = (0..n).filter(|&i| days[i].0.ymd().2 == 1).collect();
    let every = starts.len().div_ceil(12).max(1);
    (
        starts.iter().step_by(every).map(|&i| i as i32).collect(),
        false,
    )
}

fn draw_cost_and_sales<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    platforms: &[PlatformTotals],
) -> anyhow::Result<()> {
    let n = platforms.len().max(1);
    let usd = |cents: i64| cents as f64 / 100.0;
    let top = platforms
        .iter()
        .map(|p| usd(p.sales_amount).max(usd(p.marketing_cost.unwrap_or(0))))
        .fold(0.0, f64::max);
    let names: Vec<String> = platforms.iter().map(|p| p.platform.clone()).collect();
    let name_at = |x: &i32| names.get((x / SLOT) as usize).cloned().unwrap_or_default();
    let mut chart = ChartBuilder::on(area)
        .caption("Marketing cost and sales", (FONT, 20))
        .margin(16)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(platform_axis(n), 0f64..(top * 1.3).max(1.0))
        .map_err(drawing_error)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&name_at)
        .y_label_formatter(&|y| money_short(*y))
        .x_desc("Platform")
        .y_desc("US dollars")
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 17))
        .max_light_lines(0)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(drawing_error)?;

    let bar = |offset: i32, value: f64, color: RGBColor, i: usize| {
        let x = i as i32 * SLOT + offset;
        Rectangle::new([(x - 180, 0.0), (x + 180, value)], color.filled())
    };
    let value_label = |offset: i32, value: f64, i: usize| {
        EmptyElement::at((i as i32 * SLOT + offset, value))
            + Text::new(
                money_short(value),
                (0, -5),
                label_style(14, HPos::Center, VPos::Bottom),
            )
    };
    chart
        .draw_series(
            platforms
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.marketing_cost.map(|c| bar(-200, usd(c), COST, i))),
        )
        .map_err(drawing_error)?
        .label("Marketing cost")
        .legend(|(x, y)| Rectangle::new([(x, y - 7), (x + 16, y + 7)], COST.filled()));
    chart
        .draw_series(
            platforms
                .iter()
                .enumerate()
                .map(|(i, p)| bar(200, usd(p.sales_amount), SALES, i)),
        )
        .map_err(drawing_error)?
        .label("Sales")
        .legend(|(x, y)| Rectangle::new([(x, y - 7), (x + 16, y + 7)], SALES.filled()));
    chart
        .draw_series(
            platforms
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.marketing_cost.map(|c| value_label(-200, usd(c), i))),
        )
        .map_err(drawing_error)?;
    chart
        .draw_series(
            platforms
                .iter()
                .enumerate()
                .map(|(i, p)| value_label(200, usd(p.sales_amount), i)),
        )
        .map_err(drawing_error)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .margin(12)
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(drawing_error)?;
    Ok(())
}

fn draw_roi<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    platforms: &[PlatformTotals],
) -> anyhow::Result<()> {
    let n = platforms.len().max(1);
    let rois: Vec<Option<f64>> = platforms.iter().map(PlatformTotals::roi).collect();
    let lo = rois.iter().flatten().copied().fold(0.0, f64::min);
    let hi = rois.iter().flatten().copied().fold(0.0, f64::max);
    let pad = ((hi - lo) * 0.2).max(0.25);
    let y_range = if lo < 0.0 { lo - pad } else { 0.0 }..hi + pad;
    let names: Vec<String> = platforms.iter().map(|p| p.platform.clone()).collect();
    let name_at = |x: &i32| names.get((x / SLOT) as usize).cloned().unwrap_or_default();
    let mut chart = ChartBuilder::on(area)
        .caption("ROI = (sales − cost) / cost", (FONT, 20))
        .margin(16)
        .margin_right(24)
        .x_label_area_size(60)
        .y_label_area_size(70)
        .build_cartesian_2d(platform_axis(n), y_range)
        .map_err(drawing_error)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&name_at)
        .y_label_formatter(&|y| format!("{y:.1}"))
        .x_desc("Platform")
        .y_desc("Marketing ROI")
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 17))
        .max_light_lines(0)
        .bold_line_style(RGBColor(225, 225, 225))
        .draw()
        .map_err(drawing_error)?;
    chart
        .draw_series(rois.iter().enumerate().filter_map(|(i, r)| {
            r.map(|r| {
                let x = i as i32 * SLOT;
                let color = if r >= 0.0 { GAIN } else { LOSS };
                Rectangle::new([(x - 300, 0.0), (x + 300, r)], color.filled())
            })
        }))
        .map_err(drawing_error)?;
    chart
        .draw_series(rois.iter().enumerate().map(|(i, r)| {
            let (text, y, dy, v) = match r {
                Some(r) if *r >= 0.0 => (format!("{r:.2}"), *r, -5, VPos::Bottom),
                Some(r) => (format!("{r:.2}"), *r, 5, VPos::Top),
                None => ("no spend".to_string(), 0.0, -5, VPos::Bottom),
            };
            EmptyElement::at((i as i32 * SLOT, y))
                + Text::new(text, (0, dy), label_style(15, HPos::Center, v))
        }))
        .map_err(drawing_error)?;
    chart
        .draw_series(LineSeries::new(
            vec![(-SLOT / 2, 0.0), (n as i32 * SLOT - SLOT / 2, 0.0)],
            BLACK.stroke_width(1),
        ))
        .map_err(drawing_error)?;
    Ok(())
}

/// Width of one platform's slot on a categorical axis. Positions are integers (plotters
/// formats integer axes with custom key points, not float ones): platform `i` is centred on
/// `i * SLOT`, and bars sit at offsets within its slot.
const SLOT: i32 = 1000;

fn platform_axis(n: usize) -> WithKeyPoints<RangedCoordi32> {
    (-SLOT / 2..n as i32 * SLOT - SLOT / 2)
        .with_key_points((0..n as i32).map(|i| i * SLOT).collect())
}

/// `1014` → `1,014`.
pub fn thousands(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0 { format!("-{out}") } else { out }
}

/// Dollars, short: `$950`, `$176.8k`, `$5.3M`, trailing zeros dropped (`$50k`).
pub fn money_short(usd: f64) -> String {
    fn trim(s: String) -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
    let a = usd.abs();
    let sign = if usd < 0.0 { "-" } else { "" };
    if a >= 1e6 {
        format!("{sign}${}M", trim(format!("{:.2}", a / 1e6)))
    } else if a >= 1e3 {
        format!("{sign}${}k", trim(format!("{:.1}", a / 1e3)))
    } else {
        format!("{sign}${a:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(1014), "1,014");
        assert_eq!(thousands(655), "655");
        assert_eq!(thousands(-1_234_567), "-1,234,567");
        assert_eq!(money_short(950.0), "$950");
        assert_eq!(money_short(176_774.0), "$176.8k");
        assert_eq!(money_short(50_000.0), "$50k");
        assert_eq!(money_short(5_303_220.0), "$5.3M");
        assert_eq!(money_short(-1_500.0), "-$1.5k");
    }
}
