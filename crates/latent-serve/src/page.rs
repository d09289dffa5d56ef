//! The explorer's page: `assets/explore.html` with its style and script inlined, so that one
//! answer (or one file) is the whole page.

const HTML: &str = include_str!("../assets/explore.html");
const CSS: &str = include_str!("../assets/explore.css");
const JS: &str = include_str!("../assets/explore.js");
const EXPORT_JS: &str = include_str!("../assets/export.js");

/// The page for a session whose token is `token` (hex: nothing to escape).
pub fn page(token: &str) -> String {
    HTML.replacen("LATENT_TOKEN", token, 1)
        .replacen("/*LATENT_CSS*/", CSS, 1)
        .replacen("/*LATENT_JS*/", JS, 1)
}

/// The page as one self-contained file: `bundle` (the JSON of
/// [`latent::explore::Session::bundle`]) and the script that decodes in JavaScript
/// (`assets/export.js`, which answers the page's requests from the bundle) come before the
/// page's own script; no token, no server.
pub fn exported(bundle: &str) -> String {
    // inside a <script> element, "</" could end it: JSON allows "<\/" for it
    let bundle = bundle.replace("</", "<\\/");
    let script = format!("window.latentBundle = {bundle};\n{EXPORT_JS}\n{JS}");
    HTML.replacen("LATENT_TOKEN", "exported", 1)
        .replacen("/*LATENT_CSS*/", CSS, 1)
        .replacen("/*LATENT_JS*/", &script, 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_filled_once() {
        let p = super::page("00ff");
        assert!(p.contains(r#"content="00ff""#));
        assert!(!p.contains("/*LATENT_CSS*/"));
        assert!(!p.contains("/*LATENT_JS*/"));
        assert!(!p.contains("LATENT_TOKEN"));
        // nothing fetched from elsewhere
        assert!(!p.contains("http://") && !p.contains("https://"));
    }

    #[test]
    fn an_exported_bundle_cannot_end_its_script() {
        let p = super::exported(r#"{"name": "</script><script>alert(1)</script>"}"#);
        assert!(!p.contains("</script><script>alert"));
        assert!(p.contains(r#"<\/script>"#));
        assert!(p.contains("window.latentBundle = {"));
    }
}
