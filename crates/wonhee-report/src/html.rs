//! `report.html`: the Markdown rendered by `pulldown-cmark` as one self-contained page, each
//! figure link replaced by the figure itself (inline SVG, or a base64 PNG data URI when the SVG
//! is large).

use base64::Engine as _;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::figures::Figure;

/// Largest SVG inlined as is in the HTML; larger figures (big scatter plots) are inlined as
/// base64 PNG.
const MAX_INLINE_SVG: usize = 400_000;

/// Renders the Markdown as one self-contained HTML page: figures inlined (SVG, or PNG as a
/// data URI when the SVG is large), minimal CSS.
pub fn html(title: &str, markdown: &str, figures: &[Figure]) -> String {
    let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES);
    let mut events = Vec::new();
    let mut in_image = false;
    for ev in parser {
        match ev {
            Event::Start(Tag::Image { dest_url, .. }) => {
                in_image = true;
                let name = dest_url
                    .strip_prefix("figures/")
                    .and_then(|n| n.strip_suffix(".svg"))
                    .unwrap_or("");
                let inline = figures.iter().find(|f| f.name == name).map(inline_figure);
                events.push(Event::InlineHtml(inline.unwrap_or_default().into()));
            }
            Event::End(TagEnd::Image) => in_image = false,
            // The image's alt text: the caption follows it anyway.
            _ if in_image => {}
            other => events.push(other),
        }
    }
    let mut body = String::new();
    pulldown_cmark::html::push_html(&mut body, events.into_iter());
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

/// A figure as HTML: its SVG, or its PNG as a data URI when the SVG is over
/// [`MAX_INLINE_SVG`] bytes.
fn inline_figure(f: &Figure) -> String {
    if f.svg.len() <= MAX_INLINE_SVG {
        format!("<div class=\"fig\">{}</div>", strip_xml_decl(&f.svg))
    } else {
        format!(
            "<div class=\"fig\"><img alt=\"{}\" src=\"data:image/png;base64,{}\"></div>",
            escape(&f.caption),
            base64::engine::general_purpose::STANDARD.encode(&f.png)
        )
    }
}

const CSS: &str = "body{font-family:-apple-system,'DejaVu Sans',Helvetica,Arial,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em}
th{background:#f3f3f3}
tr:nth-child(even) td{background:#fafafa}
code{background:#f3f3f3;padding:0 .2em}
.fig svg,.fig img{max-width:100%;height:auto}
h1,h2{border-bottom:1px solid #ddd}
";

/// The SVG from its `<svg` element on (no XML declaration inside HTML).
fn strip_xml_decl(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

/// Escapes text for HTML content and attribute values.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_inlines_figures_and_escapes() {
        let f = Figure {
            name: "a".into(),
            caption: "c".into(),
            svg: "<?xml version=\"1.0\"?><svg id=\"x\"></svg>".into(),
            png: vec![1, 2, 3],
        };
        let h = html(
            "T <1>",
            "# T\n\n![c](figures/a.svg)\n\n| a | b |\n|---|---|\n| 1 | <2> |\n",
            &[f],
        );
        assert!(h.contains("<svg id=\"x\"></svg>") && !h.contains("<?xml"));
        assert!(h.contains("<table>") && h.contains("&lt;2&gt;"));
        assert!(h.contains("<title>T &lt;1&gt;</title>"));
        assert!(
            !h.contains("figures/a.svg"),
            "image replaced by its inline SVG"
        );
    }

    #[test]
    fn large_figures_are_inlined_as_base64_png() {
        let f = Figure {
            name: "big".into(),
            caption: "a \"big\" one".into(),
            svg: format!("<svg>{}</svg>", " ".repeat(MAX_INLINE_SVG)),
            png: b"foobar".to_vec(),
        };
        let h = html("T", "![c](figures/big.svg)\n", &[f]);
        assert!(
            h.contains(
                "<img alt=\"a &quot;big&quot; one\" src=\"data:image/png;base64,Zm9vYmFy\">"
            ),
            "{h}"
        );
        assert!(!h.contains("<svg>"));
    }
}
