//! The HTTP headers a published repository must carry: `verify-repo` checks them (`serve`
//! sends them; each file's content type and cache policy is in [`crate::layout`]).
//!
//! Production (S3 object metadata behind CloudFront with the managed security-headers
//! policy) sends:
//! - `index.yaml`: a short `Cache-Control: public, max-age=300` and a YAML content type;
//! - `NAME-VERSION.tgz`: `Cache-Control: public, max-age=31536000, immutable`,
//!   `Content-Type: application/gzip` and never `Content-Encoding: gzip` (Helm's Go
//!   client would transparently gunzip the package and the digest would no longer match);
//! - on every response: `Strict-Transport-Security` and the other security headers.

use reqwest::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderName};

use crate::layout::{
    INDEX_MAX_AGE_LIMIT, PACKAGE_CONTENT_TYPE, PACKAGE_MAX_AGE_MIN, PAGE_CONTENT_TYPE, YAML_CONTENT_TYPE,
    YAML_CONTENT_TYPES,
};

/// `Strict-Transport-Security` as CloudFront's managed `SecurityHeadersPolicy` sends it.
pub const HSTS: &str = "max-age=31536000";

/// `Cache-Control` parsed into the directives the checks look at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheControl {
    pub max_age: Option<u64>,
    pub immutable: bool,
    pub public: bool,
    /// `private`, `no-store` or `no-cache`: a CDN would not (or not simply) cache it.
    pub uncacheable: bool,
}

impl CacheControl {
    pub fn parse(value: &str) -> CacheControl {
        let mut parsed = CacheControl::default();
        for directive in value.split(',') {
            let directive = directive.trim().to_ascii_lowercase();
            let (name, arg) = match directive.split_once('=') {
                Some((name, arg)) => (name.trim().to_string(), Some(arg.trim().trim_matches('"').to_string())),
                None => (directive.clone(), None),
            };
            match name.as_str() {
                "max-age" => parsed.max_age = arg.and_then(|a| a.parse().ok()),
                "immutable" => parsed.immutable = true,
                "public" => parsed.public = true,
                "private" | "no-store" | "no-cache" => parsed.uncacheable = true,
                _ => {}
            }
        }
        parsed
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The media type of `Content-Type` without parameters, lower case.
fn media_type(headers: &HeaderMap) -> Option<String> {
    header(headers, &CONTENT_TYPE).map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

/// The `Cache-Control` of a response, parsed; when there is none, a problem naming what
/// is wanted instead.
fn cache_control<'a>(
    headers: &'a HeaderMap,
    want: &str,
    problems: &mut Vec<String>,
) -> Option<(&'a str, CacheControl)> {
    let value = header(headers, &CACHE_CONTROL);
    if value.is_none() {
        problems.push(format!("no Cache-Control (want {want})"));
    }
    value.map(|value| (value, CacheControl::parse(value)))
}

/// The problem with a response's media type, if it does not `fit` (`wrong`: what is added
/// after a wrong type, before the `want`ed one).
fn content_type_problem(headers: &HeaderMap, fits: impl Fn(&str) -> bool, wrong: &str, want: &str) -> Option<String> {
    match media_type(headers) {
        Some(mt) if fits(&mt) => None,
        Some(mt) => Some(format!("Content-Type {mt:?}{wrong} (want {want})")),
        None => Some(format!("no Content-Type (want {want})")),
    }
}

/// Problems with the headers of an `index.yaml` response (empty: all good).
pub fn index_header_problems(headers: &HeaderMap) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some((value, cc)) = cache_control(headers, "a short max-age, e.g. `public, max-age=300`", &mut problems) {
        match cc.max_age {
            None => problems.push(format!("Cache-Control {value:?} has no max-age")),
            Some(age) if age > INDEX_MAX_AGE_LIMIT => problems.push(format!(
                "Cache-Control {value:?}: max-age {age} s is not short (at most {INDEX_MAX_AGE_LIMIT} s): users \
                 would see new releases late"
            )),
            Some(_) => {}
        }
        if cc.immutable {
            problems
                .push(format!("Cache-Control {value:?} marks the index immutable, but it changes on every release"));
        }
    }
    let yaml = |mt: &str| YAML_CONTENT_TYPES.contains(&mt);
    problems.extend(content_type_problem(headers, yaml, " is not a YAML type", YAML_CONTENT_TYPE));
    problems
}

/// Problems with the headers of the landing page (empty: all good): HTML, short-lived
/// like the index it is made from.
pub fn page_header_problems(headers: &HeaderMap) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some((value, cc)) = cache_control(headers, "the index's short max-age", &mut problems)
        && (cc.max_age.is_none_or(|age| age > INDEX_MAX_AGE_LIMIT) || cc.immutable)
    {
        problems.push(format!(
            "Cache-Control {value:?} is not short-lived (at most {INDEX_MAX_AGE_LIMIT} s, not immutable): the page \
             would lag behind the index"
        ));
    }
    problems.extend(content_type_problem(headers, |mt| mt == "text/html", "", PAGE_CONTENT_TYPE));
    problems
}

/// Problems with the headers of a chart package response (empty: all good).
pub fn package_header_problems(headers: &HeaderMap) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some((value, cc)) = cache_control(headers, "`public, max-age=31536000, immutable`", &mut problems) {
        match cc.max_age {
            None => problems.push(format!("Cache-Control {value:?} has no max-age")),
            Some(age) if age < PACKAGE_MAX_AGE_MIN => problems.push(format!(
                "Cache-Control {value:?}: max-age {age} s is not long (at least {PACKAGE_MAX_AGE_MIN} s)"
            )),
            Some(_) => {}
        }
        if !cc.immutable {
            problems.push(format!("Cache-Control {value:?} lacks `immutable`"));
        }
        if cc.uncacheable {
            problems.push(format!("Cache-Control {value:?} stops a CDN from caching the package"));
        }
    }
    problems.extend(content_type_problem(headers, |mt| mt == PACKAGE_CONTENT_TYPE, "", PACKAGE_CONTENT_TYPE));
    if let Some(encoding) = header(headers, &CONTENT_ENCODING)
        && !encoding.trim().eq_ignore_ascii_case("identity")
    {
        problems.push(format!(
            "Content-Encoding {encoding:?} on a .tgz: Helm would decompress it and the digest would not match"
        ));
    }
    problems
}

/// The `max-age` of a `Strict-Transport-Security` value, when it is a usable one.
pub fn hsts_max_age(value: &str) -> Option<u64> {
    value.split(';').find_map(|part| {
        let (name, arg) = part.trim().split_once('=')?;
        if name.trim().eq_ignore_ascii_case("max-age") { arg.trim().trim_matches('"').parse().ok() } else { None }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn cache_control_parses_directives() {
        let cc = CacheControl::parse("Public, MAX-AGE=31536000 , immutable");
        assert_eq!(cc, CacheControl { max_age: Some(31_536_000), immutable: true, public: true, uncacheable: false });
        assert_eq!(CacheControl::parse("max-age=\"60\", no-cache").max_age, Some(60));
        assert!(CacheControl::parse("private").uncacheable);
    }

    #[test]
    fn default_policy_matches_the_config_defaults() {
        let policy = crate::config::CachePolicy::default();
        assert_eq!(policy.index_cache_control, "public, max-age=300");
        assert_eq!(policy.package_cache_control, "public, max-age=31536000, immutable");
        let index = headers(&[("cache-control", &policy.index_cache_control), ("content-type", YAML_CONTENT_TYPE)]);
        assert_eq!(index_header_problems(&index), Vec::<String>::new());
        let package =
            headers(&[("cache-control", &policy.package_cache_control), ("content-type", PACKAGE_CONTENT_TYPE)]);
        assert_eq!(package_header_problems(&package), Vec::<String>::new());
    }

    #[test]
    fn index_headers_must_be_short_lived_yaml() {
        let ok = headers(&[("cache-control", "max-age=60"), ("content-type", "text/yaml; charset=utf-8")]);
        assert!(index_header_problems(&ok).is_empty());
        let long = headers(&[("cache-control", "public, max-age=86400, immutable"), ("content-type", "text/plain")]);
        let problems = index_header_problems(&long).join("\n");
        assert!(problems.contains("not short"), "{problems}");
        assert!(problems.contains("immutable"), "{problems}");
        assert!(problems.contains("not a YAML type"), "{problems}");
        assert_eq!(index_header_problems(&HeaderMap::new()).len(), 2);
    }

    #[test]
    fn package_headers_must_be_immutable_gzip_without_encoding() {
        let plain = headers(&[("content-type", "application/octet-stream")]);
        let problems = package_header_problems(&plain).join("\n");
        assert!(problems.contains("no Cache-Control"), "{problems}");
        assert!(problems.contains("application/octet-stream"), "{problems}");

        let short = headers(&[("cache-control", "public, max-age=300"), ("content-type", "application/gzip")]);
        let problems = package_header_problems(&short).join("\n");
        assert!(problems.contains("not long"), "{problems}");
        assert!(problems.contains("lacks `immutable`"), "{problems}");

        let encoded = headers(&[
            ("cache-control", "public, max-age=31536000, immutable"),
            ("content-type", "application/gzip"),
            ("content-encoding", "gzip"),
        ]);
        let problems = package_header_problems(&encoded).join("\n");
        assert!(problems.contains("Content-Encoding \"gzip\""), "{problems}");
    }

    #[test]
    fn page_headers_must_be_short_lived_html() {
        let ok = headers(&[("cache-control", "public, max-age=300"), ("content-type", PAGE_CONTENT_TYPE)]);
        assert_eq!(page_header_problems(&ok), Vec::<String>::new());
        let bad =
            headers(&[("cache-control", "max-age=31536000, immutable"), ("content-type", "application/octet-stream")]);
        let problems = page_header_problems(&bad).join("\n");
        assert!(problems.contains("not short-lived"), "{problems}");
        assert!(problems.contains("application/octet-stream"), "{problems}");
    }

    #[test]
    fn hsts_max_age_is_read() {
        assert_eq!(hsts_max_age("max-age=31536000; includeSubDomains"), Some(31_536_000));
        assert_eq!(hsts_max_age("includeSubDomains; Max-Age=\"10\""), Some(10));
        assert_eq!(hsts_max_age("preload"), None);
    }
}
