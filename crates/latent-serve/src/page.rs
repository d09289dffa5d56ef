//! The explorer's page: `assets/explore.html` with its style and script inlined, so that one
//! answer (or one file) is the whole page.

const HTML: &str = include_str!("../assets/explore.html");
const CSS: &str = include_str!("../assets/explore.css");
const JS: &str = include_str!("../assets/explore.js");

/// The page for a session whose token is `token` (hex: nothing to escape).
pub fn page(token: &str) -> String {
    HTML.replacen("/*LATENT_CSS*/", CSS, 1)
        .replacen("/*LATENT_JS*/", JS, 1)
        .replacen("LATENT_TOKEN", token, 1)
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
}
