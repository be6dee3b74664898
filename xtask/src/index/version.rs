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
//!
//! And which listed version *is* a given version, as Helm decides it when it merges
//! indexes ([`find`], the rule of `IndexFile.Get` / `Has` / `Merge` in `pkg/repo/index.go`):
//! the exact text first, else the first listed version (in list order) that satisfies
//! the wanted version read as a Masterminds constraint. For a full version that is SemVer
//! precedence equality (`v1.0.0` is `1.0.0`; build metadata is ignored, `1.0.0+a` is
//! `1.0.0+b`; a pre-release only matches the same pre-release); `1.2` and `1.x` match any
//! `1.2.*` and `1.*` release at or above them, as Helm's tilde rule does.

use std::cmp::Ordering;

/// Parse `text` the way Helm (Masterminds/semver `NewVersion`, non-strict) does: an
/// optional `v`, missing minor/patch read as 0, no leading zeros.
pub fn parse_lenient(text: &str) -> Option<semver::Version> {
    let body = text.strip_prefix('v').unwrap_or(text);
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
        if !is_number(part) {
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

/// A SemVer numeric identifier: digits without a leading zero.
fn is_number(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) && (part == "0" || !part.starts_with('0'))
}

/// The position in `listed` (an index's versions of one chart, in their order) of the
/// version Helm takes for `wanted`: the exact text first, else the first listed version
/// that satisfies `wanted` read as a constraint ([`satisfies`]). `None`: Helm's `Has` is
/// false and its `Merge` would add `wanted` as a new version.
///
/// Helm reads a `wanted` that is not a plain version (a range such as `>=1.0`, or text
/// that is no constraint at all) as a constraint too, or fails and then adds even an
/// exact duplicate; chart versions are versions, so here such text only matches itself.
pub fn find<'a>(listed: impl IntoIterator<Item = &'a str> + Clone, wanted: &str) -> Option<usize> {
    if wanted.is_empty() {
        return None;
    }
    if let Some(exact) = listed.clone().into_iter().position(|listed| listed == wanted) {
        return Some(exact);
    }
    let constraint = Constraint::parse(wanted)?;
    listed.into_iter().position(|listed| parse_lenient(listed).is_some_and(|v| constraint.satisfied_by(&v)))
}

/// Whether Helm takes `listed` for `wanted` when it is the only version listed.
pub fn satisfies(listed: &str, wanted: &str) -> bool {
    find([listed], wanted).is_some()
}

/// A plain version read as a Masterminds constraint (`parseConstraint` with no operator,
/// checked by `constraintTildeOrEqual`): `x`, `X`, `*` or a missing part make it "dirty",
/// matched by the tilde rule.
struct Constraint {
    con: semver::Version,
    /// The major part is a wildcard (`x`, `*`): Helm's `~0.0.0` special case, any version.
    any: bool,
    minor_dirty: bool,
    dirty: bool,
}

impl Constraint {
    fn parse(text: &str) -> Option<Constraint> {
        let text = text.trim();
        let body = text.strip_prefix('=').unwrap_or(text).trim_start();
        let body = body.strip_prefix('v').unwrap_or(body);
        let (body, _build) = body.split_once('+').unwrap_or((body, ""));
        let (core, pre) = match body.split_once('-') {
            Some((core, pre)) => (core, semver::Prerelease::new(pre).ok()?),
            None => (body, semver::Prerelease::EMPTY),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() > 3 || !parts.iter().all(|p| is_number(p) || is_x(p)) {
            return None;
        }
        let part = |i: usize| parts.get(i).copied().filter(|p| !is_x(p));
        let number = |i: usize| part(i).map_or(Some(0), |p| p.parse::<u64>().ok());
        let (any, minor_dirty, dirty, con) = if part(0).is_none() {
            (true, false, true, semver::Version::new(0, 0, 0))
        } else if part(1).is_none() {
            (false, true, true, semver::Version::new(number(0)?, 0, 0))
        } else if part(2).is_none() {
            (false, false, true, semver::Version::new(number(0)?, number(1)?, 0))
        } else {
            (false, false, false, semver::Version::new(number(0)?, number(1)?, number(2)?))
        };
        Some(Constraint { con: semver::Version { pre, ..con }, any, minor_dirty, dirty })
    }

    fn satisfied_by(&self, v: &semver::Version) -> bool {
        // A pre-release only matches a constraint that names one.
        if !v.pre.is_empty() && self.con.pre.is_empty() {
            return false;
        }
        if !self.dirty {
            return v.cmp_precedence(&self.con).is_eq();
        }
        // The tilde rule: at least the constraint, same major (and minor unless it is open).
        if v.cmp_precedence(&self.con).is_lt() {
            return false;
        }
        self.any || (v.major == self.con.major && (v.minor == self.con.minor || self.minor_dirty))
    }
}

fn is_x(part: &str) -> bool {
    matches!(part, "x" | "X" | "*")
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
        let mut versions: Vec<String> = input.iter().map(std::string::ToString::to_string).collect();
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
        // Masterminds' NewVersion: no leading zeros, no upper-case `V`, no blanks.
        assert_eq!(parse_lenient("01.2.3"), None);
        assert_eq!(parse_lenient("V1.2.3"), None);
        assert_eq!(parse_lenient(" 1.2.3"), None);
        assert_eq!(sorted(&["v1.0.0", "1.1", "v0.9.0"]), ["1.1", "v1.0.0", "v0.9.0"]);
    }

    #[test]
    fn helm_takes_v_prefixed_and_build_metadata_variants_as_the_same_version() {
        assert_eq!(find(["1.1.0", "v1.0.0"], "1.0.0"), Some(1));
        assert_eq!(find(["1.0.0"], "v1.0.0"), Some(0));
        assert!(satisfies("1.0.0+build.2", "1.0.0+build.1"));
        assert!(satisfies("1.0.0-rc.1", "v1.0.0-rc.1"));
        assert!(!satisfies("1.0.0", "1.0.1"));
        assert!(!satisfies("1.0.0-rc.1", "1.0.0"), "a pre-release is not its release");
        assert!(!satisfies("1.0.0", "1.0.0-rc.1"));
        assert!(!satisfies("1.0.0-rc.2", "1.0.0-rc.1"));
        // The exact text wins over an earlier entry that only satisfies the constraint.
        assert_eq!(find(["1.0.0+a", "1.0.0+b"], "1.0.0+b"), Some(1));
        assert_eq!(find(["1.0.0+a", "1.0.0+b"], "1.0.0+c"), Some(0));
        assert_eq!(find(Vec::<&str>::new(), "1.0.0"), None);
    }

    #[test]
    fn helm_reads_short_and_wildcard_versions_with_the_tilde_rule() {
        assert!(satisfies("1.2.5", "1.2"));
        assert!(!satisfies("1.3.0", "1.2"));
        assert!(satisfies("1.9.0", "1"));
        assert!(satisfies("1.9.0", "1.x"));
        assert!(!satisfies("2.0.0", "1.x"));
        assert!(satisfies("7.1.0", "*"));
        assert!(!satisfies("1.2.5-rc.1", "1.2"), "pre-releases only match a pre-release constraint");
    }

    #[test]
    fn text_that_is_not_a_plain_version_only_matches_itself() {
        assert!(satisfies("not-a-version", "not-a-version"));
        assert!(!satisfies("1.0.0", ">=1.0.0"));
        assert!(!satisfies("1.0.0", "01.0.0"));
        assert!(!satisfies("1.0.0", "V1.0.0"));
        assert!(!satisfies("not-a-version", "1.0.0"));
        assert_eq!(find(["x"], ""), None);
    }

    #[test]
    fn unparsable_versions_go_last() {
        assert_eq!(sorted(&["garbage", "0.0.1", "1.0.0"]), ["1.0.0", "0.0.1", "garbage"]);
    }
}
