//! A self-contained HTML report: one file, images inlined as `data:` URIs, no script and
//! nothing fetched from the network, readable in any browser and printable.

use std::fmt::Write as _;
use std::path::Path;

use crate::{ReportError, Result};

/// One piece of a section.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A paragraph of plain text (escaped).
    Paragraph(String),
    /// A bulleted list of plain-text items.
    List(Vec<String>),
    /// A PNG image with its alternative text and a caption below it.
    Image {
        /// The PNG file's bytes.
        png: Vec<u8>,
        /// Text for screen readers and broken images.
        alt: String,
        /// Shown under the image.
        caption: String,
    },
    /// A table: header cells, then rows of cells (plain text).
    Table {
        /// Column headings.
        header: Vec<String>,
        /// Rows; each as long as `header`.
        rows: Vec<Vec<String>>,
    },
    /// Images side by side (wrapping on narrow screens), each with its own label, and a
    /// caption for the row.
    Gallery {
        /// `(PNG bytes, label)` pairs.
        items: Vec<(Vec<u8>, String)>,
        /// Shown under the row.
        caption: String,
    },
    /// Preformatted text (e.g. a command line).
    Code(String),
}

/// A titled section.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// The heading.
    pub title: String,
    /// Its content, in order.
    pub blocks: Vec<Block>,
}

impl Section {
    /// An empty section.
    pub fn new(title: impl Into<String>) -> Self {
        Section {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    /// Append a paragraph.
    pub fn paragraph(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }

    /// Append a block.
    pub fn push(&mut self, block: Block) -> &mut Self {
        self.blocks.push(block);
        self
    }
}

/// A report: a title, an introduction and sections.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// The page title.
    pub title: String,
    /// Paragraphs under the title.
    pub intro: Vec<String>,
    /// The sections, in order (a table of contents links them).
    pub sections: Vec<Section>,
}

/// Escape text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Standard base64 (RFC 4648, with padding).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'DejaVu Sans',sans-serif;\
max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.5}\
h1{border-bottom:2px solid #ddd;padding-bottom:.3em}h2{margin-top:2em;border-bottom:1px solid #eee}\
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #eee}\
figcaption{color:#555;font-size:.92em}table{border-collapse:collapse;margin:1em 0;font-size:.92em}\
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}th{background:#f4f4f4}\
td:first-child,th:first-child{text-align:left}pre{background:#f6f6f6;padding:.6em;overflow-x:auto}\
nav ol{columns:2}.gallery{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}\
.gallery>div{flex:1 1 300px;max-width:100%}.gallery img{max-width:100%;border:1px solid #eee}\
.label{font-weight:600;margin-bottom:.2em}";

fn slug(i: usize) -> String {
    format!("s{}", i + 1)
}

impl Report {
    /// The page as one HTML string.
    pub fn render(&self) -> String {
        let mut h = String::new();
        let t = escape(&self.title);
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{t}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n"
        );
        for p in &self.intro {
            let _ = writeln!(h, "<p>{}</p>", escape(p));
        }
        if self.sections.len() > 1 {
            h.push_str("<nav><ol>\n");
            for (i, s) in self.sections.iter().enumerate() {
                let _ = writeln!(
                    h,
                    "<li><a href=\"#{}\">{}</a></li>",
                    slug(i),
                    escape(&s.title)
                );
            }
            h.push_str("</ol></nav>\n");
        }
        for (i, s) in self.sections.iter().enumerate() {
            let _ = writeln!(
                h,
                "<section id=\"{}\">\n<h2>{}</h2>",
                slug(i),
                escape(&s.title)
            );
            for b in &s.blocks {
                render_block(&mut h, b);
            }
            h.push_str("</section>\n");
        }
        h.push_str("</body>\n</html>\n");
        h
    }

    /// Write the page to `path`, atomically.
    ///
    /// # Errors
    /// [`ReportError::Io`] naming `path`.
    pub fn write(&self, path: &Path) -> Result<()> {
        latent_core::fsutil::atomic_write_bytes(path, self.render().as_bytes())
            .map_err(|e| ReportError::write(path, e))
    }
}

fn render_block(h: &mut String, b: &Block) {
    match b {
        Block::Paragraph(p) => {
            let _ = writeln!(h, "<p>{}</p>", escape(p));
        }
        Block::List(items) => {
            h.push_str("<ul>\n");
            for i in items {
                let _ = writeln!(h, "<li>{}</li>", escape(i));
            }
            h.push_str("</ul>\n");
        }
        Block::Image { png, alt, caption } => {
            let _ = writeln!(
                h,
                "<figure><img alt=\"{}\" src=\"data:image/png;base64,{}\">\
                 <figcaption>{}</figcaption></figure>",
                escape(alt),
                base64(png),
                escape(caption)
            );
        }
        Block::Table { header, rows } => {
            h.push_str("<table>\n<thead><tr>");
            for c in header {
                let _ = write!(h, "<th>{}</th>", escape(c));
            }
            h.push_str("</tr></thead>\n<tbody>\n");
            for r in rows {
                h.push_str("<tr>");
                for c in r {
                    let _ = write!(h, "<td>{}</td>", escape(c));
                }
                h.push_str("</tr>\n");
            }
            h.push_str("</tbody></table>\n");
        }
        Block::Gallery { items, caption } => {
            h.push_str("<figure><div class=\"gallery\">");
            for (png, label) in items {
                let _ = write!(
                    h,
                    "<div><div class=\"label\">{l}</div><img alt=\"{l}\" src=\"data:image/png;base64,{}\"></div>",
                    base64(png),
                    l = escape(label)
                );
            }
            let _ = writeln!(
                h,
                "</div><figcaption>{}</figcaption></figure>",
                escape(caption)
            );
        }
        Block::Code(c) => {
            let _ = writeln!(h, "<pre>{}</pre>", escape(c));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want, "{input}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn renders_escaped_self_contained_html() {
        let mut s = Section::new("Results <1>");
        s.paragraph("a < b & \"c\"");
        s.push(Block::Table {
            header: vec!["model".into(), "mse".into()],
            rows: vec![vec!["pca".into(), "1.5".into()]],
        });
        s.push(Block::Image {
            png: vec![1, 2, 3],
            alt: "x".into(),
            caption: "cap".into(),
        });
        let r = Report {
            title: "T & T".into(),
            intro: vec!["hello".into()],
            sections: vec![s, Section::new("Two")],
        };
        let h = r.render();
        assert!(h.starts_with("<!DOCTYPE html>"));
        assert!(h.contains("<title>T &amp; T</title>"));
        assert!(h.contains("<p>a &lt; b &amp; &quot;c&quot;</p>"));
        assert!(h.contains("<h2>Results &lt;1&gt;</h2>"));
        assert!(h.contains("src=\"data:image/png;base64,AQID\""));
        assert!(h.contains("<td>pca</td><td>1.5</td>"));
        assert!(h.contains("href=\"#s2\""));
        // nothing is fetched: no external references
        assert!(!h.contains("http://") && !h.contains("https://") && !h.contains("<script"));
    }
}
