//! The embedded font: DejaVu Sans, so that nothing depends on the fonts of the machine.

use std::sync::OnceLock;

use ab_glyph::FontRef;
use plotters::style::FontStyle;

use crate::{ReportError, Result};

/// The family name every figure asks plotters for.
pub(crate) const FONT: &str = "sans-serif";

/// DejaVu Sans 2.37 (Bitstream Vera / Arev licence: `assets/LICENSE-DejaVu`).
static DEJAVU_SANS: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// The parsed font, for [`crate::canvas::Canvas`]'s text; `None` if it does not parse.
pub(crate) fn font() -> Option<&'static FontRef<'static>> {
    static FONT_REF: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT_REF
        .get_or_init(|| FontRef::try_from_slice(DEJAVU_SANS).ok())
        .as_ref()
}

/// Make the embedded font available: parsed for [`crate::canvas::Canvas`], and registered
/// with plotters (once per process) for the text measurements plotters makes itself (legend
/// boxes).
///
/// # Errors
/// [`ReportError::Draw`] if the font does not parse (a corrupted build).
pub(crate) fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_ok()
    });
    if ok && font().is_some() {
        Ok(())
    } else {
        Err(ReportError::draw(
            "text",
            "the embedded DejaVu Sans font could not be parsed",
        ))
    }
}
