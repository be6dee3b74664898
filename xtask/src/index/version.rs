//! Version ordering in the index, as Helm orders it (Masterminds/semver `NewVersion` +
//! `LessThan`, reversed so the newest comes first).
//!
//! - SemVer 2 precedence: pre-releases sort below their release (`1.0.0-rc.1 < 1.0.0`),
//!   numeric pre-release identifiers compare numerically (`rc.2 < rc.10`), build metadata
//!   is ignored for precedence (`1.0.0+a` == `1.0.0+b`).
//! - Helm reads versions leniently: a leading `v`, and missing minor/patch (`1.2` =
//!   `1.2.0`) are accepted when ordering.
//! - Versions that do not parse go last, as in Helm.
//! - Ties (same precedence, e.g. different build metadata) are broken by the version text,
//!   descending, so the order never depends on input order.

use std::cmp::Ordering;

/// Parse `text` the way Helm (Masterminds/semver, non-strict) does.
pub fn parse_lenient(text: &str) -> Option<semver::Version> {
    let text = text.trim();
    let body = text.strip_prefix(['v', 'V']).unwrap_or(text);
    let (body, build) = match body.split_once('+') {
        Some((body, build)) => (body, Some(build)),
        None => (body, None),
    };
    let (core, pre) = match body.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (body, None),
    };
    let mut numbers = [0u64; 3];
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    for (slot, part) in numbers.iter_mut().zip(&parts) {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    let mut version = semver::Version::new(numbers[0], numbers[1], numbers[2]);
    if let Some(pre) = pre {
        version.pre = semver::Prerelease::new(pre).ok()?;
    }
    if let Some(build) = build {
        version.build = semver::BuildMetadata::new(build).ok()?;
    }
    Some(version)
}

/// Order two version strings newest first (the order of an index entry list).
pub fn newest_first(a: &str, b: &str) -> Ordering {
    match (parse_lenient(a), parse_lenient(b)) {
        (Some(va), Some(vb)) => vb.cmp_precedence(&va).then_with(|| b.cmp(a)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => b.cmp(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(input: &[&str]) -> Vec<String> {
        let mut versions: Vec<String> = input.iter().map(|s| s.to_string()).collect();
        versions.sort_by(|a, b| newest_first(a, b));
        versions
    }

    #[test]
    fn semver_precedence_newest_first() {
        assert_eq!(
            sorted(&["1.0.0", "1.0.0-alpha", "1.0.0-rc.1", "0.9.0", "1.0.0-alpha.1", "1.0.0-beta", "1.10.0", "1.2.0"]),
            ["1.10.0", "1.2.0", "1.0.0", "1.0.0-rc.1", "1.0.0-beta", "1.0.0-alpha.1", "1.0.0-alpha", "0.9.0"]
        );
    }

    #[test]
    fn numeric_prerelease_identifiers_compare_numerically() {
        assert_eq!(sorted(&["1.0.0-rc.2", "1.0.0-rc.10", "1.0.0-rc.1"]), ["1.0.0-rc.10", "1.0.0-rc.2", "1.0.0-rc.1"]);
        // Numeric identifiers have lower precedence than alphanumeric ones.
        assert_eq!(sorted(&["1.0.0-1", "1.0.0-a"]), ["1.0.0-a", "1.0.0-1"]);
    }

    #[test]
    fn build_metadata_is_ignored_for_precedence_and_ties_are_stable() {
        assert_eq!(newest_first("1.0.0+b", "1.0.0+a"), Ordering::Less);
        assert_eq!(sorted(&["1.0.0+a", "1.0.1", "1.0.0+b"]), ["1.0.1", "1.0.0+b", "1.0.0+a"]);
        assert_eq!(sorted(&["1.0.0+b", "1.0.0+a"]), sorted(&["1.0.0+a", "1.0.0+b"]));
        assert_eq!(sorted(&["1.0.0-rc.1+build.5", "1.0.0"]), ["1.0.0", "1.0.0-rc.1+build.5"]);
    }

    #[test]
    fn lenient_versions_like_helm() {
        assert_eq!(parse_lenient("v1.2.3"), Some(semver::Version::new(1, 2, 3)));
        assert_eq!(parse_lenient("1.2"), Some(semver::Version::new(1, 2, 0)));
        assert_eq!(parse_lenient("2"), Some(semver::Version::new(2, 0, 0)));
        assert_eq!(parse_lenient("not-a-version"), None);
        assert_eq!(sorted(&["v1.0.0", "1.1", "v0.9.0"]), ["1.1", "v1.0.0", "v0.9.0"]);
    }

    #[test]
    fn unparsable_versions_go_last() {
        assert_eq!(sorted(&["garbage", "0.0.1", "1.0.0"]), ["1.0.0", "0.0.1", "garbage"]);
    }
}
