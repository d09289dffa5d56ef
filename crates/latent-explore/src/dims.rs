//! Parsing a set of latent dimensions from the command line.

use latent_core::{Error, Result};

/// Parse a set of latent dimensions for a model with `latent_dim` dimensions:
///
/// - `all`: every dimension, `0..latent_dim`;
/// - `a..b`: `a` to `b − 1` (end exclusive, like Rust), `b ≤ latent_dim`;
/// - `a..=b`: `a` to `b` (end inclusive), `b < latent_dim`;
/// - `i`: one dimension, which must exist;
/// - a comma-separated list of the above, e.g. `0,3,5` or `0..4,10`.
///
/// Spaces around the parts are ignored; the result keeps the order given, without
/// duplicates.
///
/// # Errors
/// [`Error::InvalidParam`] (named `dims`) quoting the part that is not a number or a range, an
/// empty part, a single dimension `≥ latent_dim`, a range that is empty or reaches past the
/// last dimension (nothing is clipped: the message says K and the valid range).
pub fn parse_dims(s: &str, latent_dim: usize) -> Result<Vec<usize>> {
    let bad = |part: &str, reason: String| Error::param("dims", format!("`{part}`: {reason}"));
    if latent_dim == 0 {
        return Err(Error::param("dims", "the model has no latent dimension"));
    }
    if s.trim() == "all" {
        return Ok((0..latent_dim).collect());
    }
    let number = |part: &str, text: &str| -> Result<usize> {
        text.trim().parse::<usize>().map_err(|_| {
            bad(
                part,
                format!(
                    "`{}` is not a dimension index (expected e.g. `3`, `0..10`, `0,3,5` or \
                     `all`)",
                    text.trim()
                ),
            )
        })
    };
    let mut out = Vec::new();
    for raw in s.split(',') {
        let part = raw.trim();
        if part.is_empty() {
            return Err(bad(
                s.trim(),
                "empty entry (expected e.g. `3`, `0..10`, `0,3,5` or `all`)".into(),
            ));
        }
        let range = if let Some((a, b)) = part.split_once("..=") {
            Some((number(part, a)?, number(part, b)?.saturating_add(1)))
        } else if let Some((a, b)) = part.split_once("..") {
            Some((number(part, a)?, number(part, b)?))
        } else {
            None
        };
        let dims: Vec<usize> = match range {
            Some((start, end)) => {
                if start >= end {
                    return Err(bad(part, "empty range".into()));
                }
                if end > latent_dim {
                    return Err(bad(
                        part,
                        format!(
                            "reaches past the last dimension: the latent dim is {latent_dim}, \
                             so the dimensions are 0..{latent_dim} (0 to {}); use \
                             `{}..{latent_dim}` or `all`",
                            latent_dim - 1,
                            start.min(latent_dim - 1)
                        ),
                    ));
                }
                (start..end).collect()
            }
            None => {
                let d = number(part, part)?;
                if d >= latent_dim {
                    return Err(bad(
                        part,
                        format!(
                            "dimension {d} does not exist (the latent dim is {latent_dim}: \
                             0..{latent_dim})"
                        ),
                    ));
                }
                vec![d]
            }
        };
        for d in dims {
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        assert_eq!(parse_dims("all", 3).unwrap(), vec![0, 1, 2]);
        assert_eq!(parse_dims(" all ", 2).unwrap(), vec![0, 1]);
        assert_eq!(
            parse_dims("0..10", 20).unwrap(),
            (0..10).collect::<Vec<_>>()
        );
        assert_eq!(parse_dims("0..4", 4).unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(parse_dims("0..=3", 4).unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(parse_dims("2..=4", 10).unwrap(), vec![2, 3, 4]);
        assert_eq!(parse_dims("0,3,5", 6).unwrap(), vec![0, 3, 5]);
        assert_eq!(parse_dims("5, 0 ,3", 6).unwrap(), vec![5, 0, 3]);
        assert_eq!(parse_dims("0..3,1,7", 8).unwrap(), vec![0, 1, 2, 7]);
        assert_eq!(parse_dims("4", 5).unwrap(), vec![4]);
    }

    #[test]
    fn errors_name_the_bad_part() {
        let cases = [
            ("0,x,2", 5, "`x`"),
            ("0..y", 5, "`0..y`"),
            ("7", 5, "dimension 7 does not exist"),
            ("0,,1", 5, "empty entry"),
            ("3..3", 5, "`3..3`: empty range"),
            ("6..9", 5, "`6..9`: reaches past the last dimension"),
            (
                "0..20",
                10,
                "the latent dim is 10, so the dimensions are 0..10 (0 to 9)",
            ),
            ("0..=10", 10, "`0..=10`: reaches past"),
            ("-1", 5, "`-1`"),
            ("", 5, "empty entry"),
            ("al", 5, "`al`"),
        ];
        for (s, k, want) in cases {
            let err = parse_dims(s, k).unwrap_err().to_string();
            assert!(err.contains(want), "{s:?}: {err}");
            assert!(err.contains("dims"), "{s:?}: {err}");
        }
    }
}
