//! `.helmignore` with Helm's own semantics (`pkg/ignore` in Helm's source).
//!
//! Each non-empty line that is not a `#` comment is one rule, checked in order; the first
//! rule that decides wins:
//! - `foo/` only applies to directories (an ignored directory is not descended into);
//! - `/foo` and any rule containing `/` match the whole path relative to the chart root;
//!   other rules match the last path component only;
//! - a rule starting with `!` is Helm's negation: a path that does **not** match it is
//!   ignored (this is Helm's behaviour, not git's, and we copy it on purpose);
//! - globs are Go's `filepath.Match`: `*` and `?` never cross `/`, `[a-z]`, `[^a-z]`, `\`
//!   escapes; `**` is refused, as Helm refuses it.
//!
//! Helm always appends the rule `templates/.?*` (hidden files under `templates/`).

use anyhow::{Result, bail};

/// The rules of one `.helmignore` (plus Helm's defaults once [`Rules::add_defaults`] ran).
#[derive(Debug, Clone, Default)]
pub struct Rules {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    glob: String,
    negate: bool,
    must_dir: bool,
    kind: MatchKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchKind {
    /// The rule started with `/`: match the whole path.
    Anchored,
    /// The rule contains `/`: match the whole path.
    Path,
    /// Match the base name only.
    BaseName,
}

impl Rules {
    /// Parse the text of a `.helmignore` file.
    pub fn parse(text: &str) -> Result<Rules> {
        let mut rules = Rules::default();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (number, line) in text.lines().enumerate() {
            rules.add_rule(line).map_err(|err| anyhow::anyhow!(".helmignore line {}: {err:#}", number + 1))?;
        }
        Ok(rules)
    }

    /// Helm's built-in rule: hidden files under `templates/` are never packaged.
    pub fn add_defaults(&mut self) {
        self.add_rule("templates/.?*").expect("the default rule is valid");
    }

    fn add_rule(&mut self, rule: &str) -> Result<()> {
        let rule = rule.trim();
        if rule.is_empty() || rule.starts_with('#') {
            return Ok(());
        }
        if rule.contains("**") {
            bail!("double-star (**) syntax is not supported in `{rule}` (Helm refuses it too)");
        }
        // Go validates the pattern by matching it once; do the same so a broken rule fails early.
        glob_match(rule, "abc").map_err(|err| anyhow::anyhow!("invalid pattern `{rule}`: {err}"))?;
        let mut glob = rule;
        let negate = glob.starts_with('!');
        if negate {
            glob = &glob[1..];
        }
        let must_dir = glob.ends_with('/');
        if must_dir {
            glob = &glob[..glob.len() - 1];
        }
        let kind = if let Some(rest) = glob.strip_prefix('/') {
            glob = rest;
            MatchKind::Anchored
        } else if glob.contains('/') {
            MatchKind::Path
        } else {
            MatchKind::BaseName
        };
        self.patterns.push(Pattern { glob: glob.to_string(), negate, must_dir, kind });
        Ok(())
    }

    /// Whether `path` (relative to the chart root, `/`-separated) is ignored.
    pub fn ignore(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        for pattern in &self.patterns {
            let matched = pattern.matches(path);
            if pattern.negate {
                if pattern.must_dir && !is_dir {
                    return true;
                }
                if !matched {
                    return true;
                }
                continue;
            }
            if pattern.must_dir && !is_dir {
                continue;
            }
            if matched {
                return true;
            }
        }
        false
    }
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        let subject = match self.kind {
            MatchKind::Anchored | MatchKind::Path => path,
            MatchKind::BaseName => path.rsplit('/').next().unwrap_or(path),
        };
        glob_match(&self.glob, subject).unwrap_or(false)
    }
}

/// Go's `filepath.Match` on `/`-separated names: `*` = any run of non-`/` characters,
/// `?` = one non-`/` character, `[...]` classes (`^` negates, ranges, `\` escapes).
pub fn glob_match(pattern: &str, name: &str) -> Result<bool, &'static str> {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    // Validate the whole pattern first, as Go reports ErrBadPattern even when an early
    // mismatch would stop matching.
    validate(&pattern)?;
    Ok(match_from(&pattern, &name))
}

fn validate(pattern: &[char]) -> Result<(), &'static str> {
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            '\\' => {
                if i + 1 >= pattern.len() {
                    return Err("trailing backslash");
                }
                i += 2;
            }
            '[' => {
                let (_, next) = parse_class(pattern, i, None)?;
                i = next;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

fn match_from(pattern: &[char], name: &[char]) -> bool {
    let (mut p, mut n) = (0, 0);
    // Backtracking point for the last `*`: (pattern index after the star, name index).
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p < pattern.len() {
            match pattern[p] {
                '*' => {
                    star = Some((p + 1, n));
                    p += 1;
                    continue;
                }
                '?' if n < name.len() && name[n] != '/' => {
                    p += 1;
                    n += 1;
                    continue;
                }
                '[' if n < name.len() && name[n] != '/' => {
                    if let Ok((true, next)) = parse_class(pattern, p, Some(name[n])) {
                        p = next;
                        n += 1;
                        continue;
                    }
                }
                '\\' if p + 1 < pattern.len() && n < name.len() && pattern[p + 1] == name[n] => {
                    p += 2;
                    n += 1;
                    continue;
                }
                c if c != '*' && c != '?' && c != '[' && c != '\\' && n < name.len() && name[n] == c => {
                    p += 1;
                    n += 1;
                    continue;
                }
                _ => {}
            }
        } else if n == name.len() {
            return true;
        }
        // Mismatch: let the last star swallow one more character (never a separator).
        match star {
            Some((sp, sn)) if sn < name.len() && name[sn] != '/' => {
                star = Some((sp, sn + 1));
                p = sp;
                n = sn + 1;
            }
            _ => return false,
        }
    }
}

/// Parse the class starting at `pattern[start] == '['`; returns whether `c` matched (false
/// when `c` is None) and the index after the closing `]`.
fn parse_class(pattern: &[char], start: usize, c: Option<char>) -> Result<(bool, usize), &'static str> {
    let mut i = start + 1;
    let negated = i < pattern.len() && pattern[i] == '^';
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        if i >= pattern.len() {
            return Err("unterminated character class");
        }
        if pattern[i] == ']' && !first {
            i += 1;
            break;
        }
        first = false;
        let lo = class_char(pattern, &mut i)?;
        let mut hi = lo;
        if i < pattern.len() && pattern[i] == '-' && i + 1 < pattern.len() && pattern[i + 1] != ']' {
            i += 1;
            hi = class_char(pattern, &mut i)?;
        }
        if let Some(c) = c
            && lo <= c
            && c <= hi
        {
            matched = true;
        }
    }
    Ok((matched != negated && c.is_some(), i))
}

fn class_char(pattern: &[char], i: &mut usize) -> Result<char, &'static str> {
    let mut c = pattern[*i];
    if c == '\\' {
        *i += 1;
        if *i >= pattern.len() {
            return Err("trailing backslash in class");
        }
        c = pattern[*i];
    } else if c == '-' || c == ']' {
        return Err("bad range in character class");
    }
    *i += 1;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_follows_go_filepath_match() {
        let cases = [
            ("*.txt", "a.txt", true),
            ("*.txt", "dir/a.txt", false),
            ("a?c", "abc", true),
            ("a?c", "a/c", false),
            ("[a-c]x", "bx", true),
            ("[^a-c]x", "bx", false),
            ("[^a-c]x", "dx", true),
            ("\\*", "*", true),
            ("templates/.?*", "templates/.hidden", true),
            ("templates/.?*", "templates/.", false),
            ("*b*", "aaabaaa", true),
            ("a*", "a", true),
        ];
        for (pattern, name, matches) in cases {
            assert_eq!(glob_match(pattern, name), Ok(matches), "{pattern} ~ {name}");
        }
        assert!(glob_match("[a-", "a").is_err());
        assert!(glob_match("ab\\", "ab").is_err());
    }

    #[test]
    fn helmignore_rules_follow_helm() {
        let mut rules = Rules::parse("# comment\n\n*.bak\n/top.txt\ndocs/\nsecret/*.key\n").unwrap();
        rules.add_defaults();
        assert!(rules.ignore("a.bak", false));
        assert!(rules.ignore("templates/x.bak", false), "base-name rules apply at any depth");
        assert!(rules.ignore("top.txt", false));
        assert!(!rules.ignore("sub/top.txt", false), "a leading slash anchors at the root");
        assert!(rules.ignore("docs", true));
        assert!(!rules.ignore("docs", false), "a trailing slash only matches directories");
        assert!(rules.ignore("secret/a.key", false));
        assert!(!rules.ignore("other/secret/a.key", false));
        assert!(rules.ignore("templates/.gitkeep", false), "built-in rule");
        assert!(!rules.ignore("templates/deployment.yaml", false));
        assert!(!rules.ignore("values.yaml", false));
    }

    #[test]
    fn helm_negation_ignores_what_does_not_match() {
        let rules = Rules::parse("!*.yaml\n").unwrap();
        assert!(!rules.ignore("values.yaml", false));
        assert!(rules.ignore("README.md", false));
    }

    #[test]
    fn double_star_is_refused() {
        let err = Rules::parse("a/**/b\n").unwrap_err();
        assert!(format!("{err:#}").contains("double-star"), "{err:#}");
    }
}
