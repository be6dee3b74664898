//! A small YAML writer for the index, shaped like Helm's output (Go's yaml.v2 through
//! sigs.k8s.io/yaml): block style, 2-space indentation, sequences not indented under their
//! key, multi-line strings as literal blocks.
//!
//! Why not serde_yaml's emitter: Helm reads the index with YAML 1.1 rules, where unquoted
//! `yes`, `on`, `off`, `y`, `n`, `0755`, `1_000` or `12:30` are not strings. Every scalar
//! here is written plain only when it cannot be read as anything but the same string
//! under YAML 1.1 *and* 1.2; otherwise it is double-quoted. (It is also several times
//! faster, which matters for 25 MB indexes.)

use std::fmt::Write as _;

/// Writes YAML into a `String`. Every method ends its output with a newline.
pub struct Emitter {
    pub out: String,
}

impl Emitter {
    pub fn with_capacity(capacity: usize) -> Emitter {
        Emitter { out: String::with_capacity(capacity) }
    }

    fn indent(&mut self, indent: usize) {
        for _ in 0..indent {
            self.out.push(' ');
        }
    }

    /// `key:` at `indent` (no value, no newline).
    pub fn key(&mut self, indent: usize, key: &str) {
        self.indent(indent);
        self.scalar_inline(key);
        self.out.push(':');
    }

    /// `key: value` for a string value (literal block when it has line breaks).
    pub fn str_field(&mut self, indent: usize, key: &str, value: &str) {
        self.key(indent, key);
        self.str_value(indent, value);
    }

    /// `key: value` for a value that is already valid YAML text (booleans).
    pub fn raw_field(&mut self, indent: usize, key: &str, raw: &str) {
        self.key(indent, key);
        self.out.push(' ');
        self.out.push_str(raw);
        self.out.push('\n');
    }

    /// A string value after `key:` or `-`: ` value\n`, or ` |` + block lines at `indent + 2`.
    pub fn str_value(&mut self, indent: usize, value: &str) {
        if let Some(chomp) = literal_block_chomping(value) {
            self.out.push_str(" |");
            self.out.push_str(chomp);
            self.out.push('\n');
            let body = value.trim_end_matches('\n');
            for line in body.split('\n') {
                if !line.is_empty() {
                    self.indent(indent + 2);
                    self.out.push_str(line);
                }
                self.out.push('\n');
            }
            // `|+` keeps the extra trailing newlines as empty lines.
            for _ in 1..value.len() - value.trim_end_matches('\n').len() {
                if chomp == "+" {
                    self.out.push('\n');
                }
            }
        } else {
            self.out.push(' ');
            self.scalar_inline(value);
            self.out.push('\n');
        }
    }

    /// `key:` followed by a block sequence (`[]` when empty), each item written by `item`.
    pub fn seq_field<T>(&mut self, indent: usize, key: &str, items: &[T], item: impl Fn(&mut Emitter, usize, &T)) {
        self.key(indent, key);
        if items.is_empty() {
            self.out.push_str(" []\n");
            return;
        }
        self.out.push('\n');
        for value in items {
            item(self, indent, value);
        }
    }

    /// `key:` followed by a block sequence of strings (`[]` when empty).
    pub fn str_seq_field(&mut self, indent: usize, key: &str, items: &[String]) {
        self.seq_field(indent, key, items, |e, indent, item| {
            e.indent(indent);
            e.out.push('-');
            e.str_value(indent, item);
        });
    }

    /// `key:` followed by a block mapping of strings (`{}` when empty).
    pub fn str_map_field<'a>(
        &mut self,
        indent: usize,
        key: &str,
        map: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) {
        self.key(indent, key);
        let start = self.out.len();
        self.out.push('\n');
        let mut any = false;
        for (k, v) in map {
            any = true;
            self.str_field(indent + 2, k, v);
        }
        if !any {
            self.out.truncate(start);
            self.out.push_str(" {}\n");
        }
    }

    /// Start a sequence item whose content is a mapping written at `indent + 2`: call this,
    /// write the mapping, then [`Emitter::end_map_item`] with the returned mark.
    pub fn begin_map_item(&self) -> usize {
        self.out.len()
    }

    /// Turn the first line written since `mark` (indented `indent + 2`) into `- ` at `indent`.
    pub fn end_map_item(&mut self, mark: usize, indent: usize) {
        if self.out.len() >= mark + indent + 2 {
            self.out.replace_range(mark + indent..mark + indent + 2, "- ");
        }
    }

    /// Any YAML value (for `serverInfo` and `import-values`) after `key:` or `-`.
    pub fn value(&mut self, indent: usize, value: &serde_yaml::Value) {
        use serde_yaml::Value;
        match value {
            Value::Null => self.out.push_str(" null\n"),
            Value::Bool(b) => {
                let _ = writeln!(self.out, " {b}");
            }
            Value::Number(n) => {
                let _ = writeln!(self.out, " {n}");
            }
            Value::String(s) => self.str_value(indent, s),
            Value::Sequence(items) if items.is_empty() => self.out.push_str(" []\n"),
            Value::Mapping(map) if map.is_empty() => self.out.push_str(" {}\n"),
            Value::Sequence(items) => {
                self.out.push('\n');
                for item in items {
                    self.seq_item(indent, item);
                }
            }
            Value::Mapping(map) => {
                self.out.push('\n');
                self.mapping(indent + 2, map);
            }
            Value::Tagged(tagged) => self.value(indent, &tagged.value),
        }
    }

    /// One `- item` of a block sequence at `indent`.
    pub fn seq_item(&mut self, indent: usize, item: &serde_yaml::Value) {
        match item {
            serde_yaml::Value::Mapping(map) if !map.is_empty() => {
                let mark = self.begin_map_item();
                self.mapping(indent + 2, map);
                self.end_map_item(mark, indent);
            }
            other => {
                self.indent(indent);
                self.out.push('-');
                self.value(indent + 2, other);
            }
        }
    }

    /// The entries of a mapping, each key at `indent`.
    pub fn mapping(&mut self, indent: usize, map: &serde_yaml::Mapping) {
        for (k, v) in map {
            let key = match k {
                serde_yaml::Value::String(s) => s.clone(),
                serde_yaml::Value::Bool(b) => b.to_string(),
                serde_yaml::Value::Number(n) => n.to_string(),
                serde_yaml::Value::Null => "null".to_string(),
                other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
            };
            self.key(indent, &key);
            // Sequences under a key are not indented, as Helm writes them.
            match v {
                serde_yaml::Value::Sequence(items) if !items.is_empty() => {
                    self.out.push('\n');
                    for item in items {
                        self.seq_item(indent, item);
                    }
                }
                other => self.value(indent, other),
            }
        }
    }

    /// A scalar on the current line: plain when unambiguous, else double-quoted.
    fn scalar_inline(&mut self, s: &str) {
        if is_plain_safe(s) {
            self.out.push_str(s);
        } else {
            quote_into(&mut self.out, s);
        }
    }
}

/// `Some(chomping indicator)` when `s` can be written as a literal block scalar that reads
/// back exactly; `None` when it must be quoted (or has no line break at all).
fn literal_block_chomping(s: &str) -> Option<&'static str> {
    if !s.contains('\n') {
        return None;
    }
    let body = s.trim_end_matches('\n');
    if body.is_empty() || body.starts_with([' ', '\t']) {
        return None;
    }
    for line in body.split('\n') {
        // Whitespace-only lines would be read back as empty lines; trailing spaces are fine.
        if !line.is_empty() && line.trim_matches([' ', '\t']).is_empty() {
            return None;
        }
        if line.chars().any(|c| (c.is_control() && c != '\t') || is_special_break(c)) {
            return None;
        }
    }
    Some(match s.len() - body.len() {
        0 => "-",
        1 => "",
        _ => "+",
    })
}

fn is_special_break(c: char) -> bool {
    matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// Whether `s` reads back as the same string when written plain, under YAML 1.1 (Go's
/// yaml.v2, which Helm uses) and YAML 1.2. Conservative: when in doubt, quote.
pub fn is_plain_safe(s: &str) -> bool {
    const WORDS: &[&str] = &["y", "yes", "n", "no", "true", "false", "on", "off", "null"];
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    if !bytes.iter().all(|b| b.is_ascii_alphanumeric() || b" ._/-+:@~=,()#%;$^?!'&*|><[]{}\"`".contains(b)) {
        return false;
    }
    if first == b' ' || bytes[bytes.len() - 1] == b' ' {
        return false;
    }
    if b"-?:,[]{}#&*!|>'\"%@`.+~=<".contains(&first) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    if WORDS.iter().any(|w| s.eq_ignore_ascii_case(w)) {
        return false;
    }
    if first.is_ascii_digit() {
        return digit_start_is_plain(s);
    }
    true
}

/// Digit-first strings: plain for SemVer-like `1.2.3…` and for words that contain a
/// letter no number syntax uses (hex digests like `46a3…`); everything else is quoted
/// (numbers, `0x…`, `1e5`, `1_000`, dates, `12:30`).
fn digit_start_is_plain(s: &str) -> bool {
    let b = s.as_bytes();
    // N.N.  — never an int, float, date or base-60 number.
    let mut i = 0;
    let mut groups = 0;
    while groups < 2 {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || i >= b.len() || b[i] != b'.' {
            break;
        }
        i += 1;
        groups += 1;
    }
    if groups == 2 && i < b.len() && b[i].is_ascii_digit() {
        return !s.contains(':');
    }
    if s.len() > 1 && matches!(b[1], b'x' | b'X' | b'o' | b'O' | b'b' | b'B') {
        return false;
    }
    let has_unusual_letter = b.iter().any(|c| c.is_ascii_alphabetic() && !b"eExXoObB".contains(c));
    has_unusual_letter && b.iter().all(u8::is_ascii_alphanumeric)
}

/// `s` as a YAML double-quoted scalar (JSON-compatible escapes).
pub fn quote_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || is_special_break(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_only_when_unambiguous() {
        for plain in [
            "kube9-operator",
            "1.2.3",
            "1.0.0-rc.1+build.5",
            "https://charts.kube9.io/a-1.0.0.tgz",
            "v0.72.0",
            "46423699a3aa1abcaf21c5c1c88fa7f75c5de2c6bce8b056f413d8fa9e40da69",
            "A Helm chart for Kubernetes",
            "application",
            "A Helm chart for Mozilla's CTMS-API app",
        ] {
            assert!(is_plain_safe(plain), "{plain} should be plain");
        }
        for quoted in [
            "",
            "yes",
            "No",
            "ON",
            "off",
            "y",
            "true",
            "null",
            "~",
            "1.10",
            "1",
            "0755",
            "0x1f",
            "1e5",
            "1_000",
            "12:30",
            "2021-10-22",
            "2021-10-22T21:33:36Z",
            ">=1.19.0-0",
            "*",
            "5.18.*",
            "a: b",
            "a #b",
            "-x",
            " lead",
            "trail ",
            "[x]",
            "'q'",
            "\"q\"",
            "12345e678",
            ".inf",
            "<<",
            "ünïcode",
        ] {
            assert!(!is_plain_safe(quoted), "{quoted:?} should be quoted");
        }
    }

    #[test]
    fn everything_reads_back_as_the_same_string() {
        let samples = [
            "yes",
            "on",
            "1.10",
            "0755",
            "line one\nline two\n",
            "no newline\nat end",
            "two\n\n",
            "  indented\nx\n",
            "tab\tinside",
            "Mozilla's [chart] {x} & *y* | z > w < v `q` \"ok\"",
            "quote \" and \\ backslash",
            "bell \u{7}",
            "ünïcode",
            "trailing space \nnext",
            "a\n  \nb",
        ];
        for sample in samples {
            let mut emitter = Emitter::with_capacity(64);
            emitter.str_field(2, "key", sample);
            let doc = format!("outer:\n{}", emitter.out);
            let value: serde_yaml::Value = serde_yaml::from_str(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
            assert_eq!(value["outer"]["key"].as_str(), Some(sample), "{doc}");
        }
    }
}
