//! `Link` header parsing (RFC 8288) for Okta's cursor pagination.

use reqwest::header::HeaderMap;

/// The `rel="next"` target among all `Link` headers of a response. Accepts one header
/// line per link and several links comma-joined into one line (RFC 8288).
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(split_links)
        .find_map(|(target, params)| link_has_rel(&params, "next").then(|| target.to_string()))
}

/// Splits one `Link` header value into `(target, params)` pairs. Commas inside `<…>` or
/// inside quoted parameter values don't split.
fn split_links(value: &str) -> Vec<(String, String)> {
    let mut links = Vec::new();
    let mut rest = value.trim();
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else { break };
        let target = after[..end].trim().to_string();
        let tail = &after[end + 1..];
        // Parameters run until a comma that is outside quotes.
        let mut in_quotes = false;
        let mut cut = tail.len();
        for (i, c) in tail.char_indices() {
            match c {
                '"' => in_quotes = !in_quotes,
                ',' if !in_quotes => {
                    cut = i;
                    break;
                }
                _ => {}
            }
        }
        links.push((target, tail[..cut].to_string()));
        rest = if cut < tail.len() {
            &tail[cut + 1..]
        } else {
            ""
        };
    }
    links
}

/// Whether a link's parameters contain `rel` with the given relation type (rel may hold
/// several space-separated types, quoted or not; comparison is case-insensitive).
fn link_has_rel(params: &str, wanted: &str) -> bool {
    params.split(';').any(|p| {
        let Some((name, value)) = p.split_once('=') else {
            return false;
        };
        name.trim().eq_ignore_ascii_case("rel")
            && value
                .trim()
                .trim_matches('"')
                .split_ascii_whitespace()
                .any(|r| r.eq_ignore_ascii_case(wanted))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, LINK};

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(LINK, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn next_link_from_separate_lines() {
        let h = headers(&[
            r#"<https://x.okta.com/api/v1/apps/a/users?limit=2>; rel="self""#,
            r#"<https://x.okta.com/api/v1/apps/a/users?after=00u2&limit=2>; rel="next""#,
        ]);
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://x.okta.com/api/v1/apps/a/users?after=00u2&limit=2")
        );
    }

    #[test]
    fn next_link_from_comma_joined_line() {
        let h =
            headers(&[r#"<https://x/a?limit=2,3>; rel="self", <https://x/a?after=b,c>; rel=next"#]);
        assert_eq!(next_link(&h).as_deref(), Some("https://x/a?after=b,c"));
    }

    #[test]
    fn no_next_link_on_last_page() {
        let h = headers(&[r#"<https://x/a>; rel="self""#]);
        assert_eq!(next_link(&h), None);
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    #[test]
    fn multi_valued_rel() {
        let h = headers(&[r#"<https://x/b>; title="a, b"; rel="prefetch next""#]);
        assert_eq!(next_link(&h).as_deref(), Some("https://x/b"));
    }
}
