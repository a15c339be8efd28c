//! Parsing of `Link` response headers (RFC 8288) for Okta's cursor pagination. The client follows the
//! `rel="next"` URL verbatim: it never builds or edits cursors. This module does not fetch anything.

use url::Url;

/// The target of the first `rel="next"` link among the given `Link` header values, resolved against
/// the request URL (Okta sends absolute URLs; a relative one is resolved rather than refused).
pub fn next_link<'a>(values: impl IntoIterator<Item = &'a str>, request_url: &Url) -> Option<Url> {
    values
        .into_iter()
        .flat_map(parse_links)
        .find(|(_, rels)| rels.iter().any(|r| r.eq_ignore_ascii_case("next")))
        .and_then(|(target, _)| request_url.join(&target).ok())
}

/// All `<target>; rel="a b"` pairs of one header value.
pub fn parse_links(value: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let Some(after_lt) = rest.strip_prefix('<') else {
            break;
        };
        let Some(end) = after_lt.find('>') else { break };
        let target = after_lt[..end].to_string();
        rest = &after_lt[end + 1..];
        // Parameters run to the next comma outside quotes.
        let mut in_quotes = false;
        let mut cut = rest.len();
        for (i, c) in rest.char_indices() {
            match c {
                '"' => in_quotes = !in_quotes,
                ',' if !in_quotes => {
                    cut = i;
                    break;
                }
                _ => {}
            }
        }
        let params = &rest[..cut];
        rest = &rest[cut..];
        let mut rels = Vec::new();
        for p in params.split(';') {
            let Some((k, v)) = p.split_once('=') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("rel") {
                rels.extend(
                    v.trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .map(str::to_string),
                );
            }
        }
        out.push((target, rels));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://x.okta.com/api/v1/users?limit=2").unwrap()
    }

    #[test]
    fn finds_next_among_self_and_next_in_one_header() {
        let h = r#"<https://x.okta.com/api/v1/users?limit=2>; rel="self", <https://x.okta.com/api/v1/users?after=00u2%2Cb&limit=2>; rel="next""#;
        assert_eq!(
            next_link([h], &base()).map(|u| u.to_string()).as_deref(),
            Some("https://x.okta.com/api/v1/users?after=00u2%2Cb&limit=2")
        );
    }

    #[test]
    fn finds_next_across_separate_headers_and_unquoted_rel() {
        let a = "<https://x.okta.com/api/v1/users?limit=2>; rel=self";
        let b = "<https://x.okta.com/api/v1/users?after=abc&limit=2>; rel=next";
        assert_eq!(
            next_link([a, b], &base())
                .map(|u| u.query().unwrap_or_default().to_string())
                .as_deref(),
            Some("after=abc&limit=2")
        );
    }

    #[test]
    fn no_next_when_only_self() {
        assert_eq!(
            next_link(
                [r#"<https://x.okta.com/api/v1/users>; rel="self""#],
                &base()
            ),
            None
        );
        assert_eq!(next_link(["garbage"], &base()), None);
    }

    #[test]
    fn quoted_comma_in_params_does_not_split() {
        let h = r#"<https://a/1>; title="x, y"; rel="next", <https://a/2>; rel="self""#;
        let links = parse_links(h);
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].1, vec!["next".to_string()]);
    }
}
