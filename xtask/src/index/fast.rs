//! A fast path for reading large indexes (Bitnami's is ~25 MB).
//!
//! Indexes written by Helm (Go's yaml.v2), by us and by most tools use a small part of
//! YAML: block mappings and sequences, plain / quoted / literal-block scalars, `[]` and
//! `{}`. This module parses exactly that subset straight into a tree and then into the
//! model. Anything else (anchors, tags, flow collections with content, folded blocks,
//! tabs in indentation, duplicate or unknown keys, null-like or odd scalars in typed
//! fields, bad timestamps…) makes it return `None`, and [`super::RepoIndex::parse`] falls
//! back to the full YAML parser, which is the authority on the result and on errors. The
//! tests check that both paths agree.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{IndexEntry, LegacyFields, RepoIndex};
use crate::chart::{ChartMetadata, Dependency, Maintainer};

/// A parsed YAML node of the supported subset.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// A scalar and whether it was plain (unquoted, not a block).
    Scalar(String, bool),
    Seq(Vec<Node>),
    Map(Vec<(String, bool, Node)>),
}

struct Line<'a> {
    indent: usize,
    /// The line without its indentation and without a trailing `\r`.
    text: &'a str,
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
}

type P<T> = Option<T>;

/// Parse `bytes` on the fast path; `None` means "use the full parser".
pub fn parse(bytes: &[u8]) -> Option<RepoIndex> {
    let text = std::str::from_utf8(bytes).ok()?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') || text.contains('\t') && has_tab_indent(text) {
        return None;
    }
    let mut lines = Vec::with_capacity(text.len() / 24);
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        lines.push(Line { indent, text: &raw[indent..] });
    }
    let mut parser = Parser { lines, pos: 0 };
    parser.skip_blank();
    if parser.pos < parser.lines.len() && parser.lines[parser.pos].text.starts_with("---") {
        if parser.lines[parser.pos].text.trim_end() != "---" {
            return None;
        }
        parser.pos += 1;
        parser.skip_blank();
    }
    if parser.pos >= parser.lines.len() {
        return None;
    }
    let indent = parser.lines[parser.pos].indent;
    if indent != 0 {
        return None;
    }
    let root = parser.node(0)?;
    parser.skip_blank();
    if parser.pos < parser.lines.len() {
        return None;
    }
    convert_index(root)
}

fn has_tab_indent(text: &str) -> bool {
    text.split('\n').any(|l| l.trim_start_matches(' ').starts_with('\t'))
}

impl<'a> Parser<'a> {
    /// Skip empty and comment-only lines.
    fn skip_blank(&mut self) {
        while let Some(line) = self.lines.get(self.pos) {
            let t = line.text.trim_end();
            if t.is_empty() || t.starts_with('#') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// The block node starting at the current line, whose lines are at `indent`.
    fn node(&mut self, indent: usize) -> P<Node> {
        self.skip_blank();
        let line = self.lines.get(self.pos)?;
        if line.indent != indent {
            return None;
        }
        if line.text == "-" || line.text.starts_with("- ") { self.seq(indent) } else { self.map(indent, None) }
    }

    /// A block sequence whose `-` are at `indent`.
    fn seq(&mut self, indent: usize) -> P<Node> {
        let mut items = Vec::new();
        loop {
            self.skip_blank();
            let Some(line) = self.lines.get(self.pos) else { break };
            if line.indent != indent || !(line.text == "-" || line.text.starts_with("- ")) {
                if line.indent > indent {
                    return None;
                }
                break;
            }
            let rest = line.text[1..].trim_start_matches(' ');
            let rest_col = indent + (line.text.len() - rest.len());
            if rest.is_empty() || rest.starts_with('#') {
                self.pos += 1;
                self.skip_blank();
                let next = self.lines.get(self.pos)?;
                if next.indent <= indent {
                    return None;
                }
                items.push(self.node(next.indent)?);
            } else if rest.starts_with("- ") || rest == "-" {
                return None;
            } else if let Some(key_end) = find_key_end(rest) {
                // `- key: value` starts a mapping whose keys sit at `rest_col`.
                let first = (rest, key_end);
                items.push(self.map(rest_col, Some(first))?);
            } else {
                self.pos += 1;
                items.push(self.scalar_value(rest, indent)?);
            }
        }
        Some(Node::Seq(items))
    }

    /// A block mapping with keys at `indent`. `first` is an inline first entry (after `- `).
    fn map(&mut self, indent: usize, first: Option<(&'a str, usize)>) -> P<Node> {
        let mut entries: Vec<(String, bool, Node)> = Vec::new();
        let mut inline = first;
        loop {
            let (text, key_end) = match inline.take() {
                Some(first) => first,
                None => {
                    self.skip_blank();
                    let Some(line) = self.lines.get(self.pos) else { break };
                    if line.indent != indent {
                        if line.indent > indent {
                            return None;
                        }
                        break;
                    }
                    if line.text.starts_with("- ") || line.text == "-" {
                        break;
                    }
                    (line.text, find_key_end(line.text)?)
                }
            };
            let (key, key_plain) = parse_key(&text[..key_end])?;
            if entries.iter().any(|(k, _, _)| *k == key) {
                return None;
            }
            let rest = text[key_end + 1..].trim_start_matches(' ');
            self.pos += 1;
            let value = if rest.is_empty() || rest.starts_with('#') {
                self.skip_blank();
                match self.lines.get(self.pos) {
                    Some(next) if next.indent > indent => self.node(next.indent)?,
                    Some(next) if next.indent == indent && (next.text.starts_with("- ") || next.text == "-") => {
                        self.seq(indent)?
                    }
                    _ => Node::Scalar(String::new(), true),
                }
            } else {
                self.scalar_value(rest, indent)?
            };
            entries.push((key, key_plain, value));
        }
        Some(Node::Map(entries))
    }

    /// A scalar value that starts with `rest` on the line just consumed (`self.pos` is
    /// already past it); continuation lines must be indented more than `parent`.
    fn scalar_value(&mut self, rest: &'a str, parent: usize) -> P<Node> {
        match rest.as_bytes()[0] {
            b'|' => self.literal_block(rest, parent),
            b'"' => self.double_quoted(rest, parent),
            b'\'' => self.single_quoted(rest, parent),
            b'[' | b'{' => {
                let t = strip_comment(rest);
                match t {
                    "[]" => Some(Node::Seq(Vec::new())),
                    "{}" => Some(Node::Map(Vec::new())),
                    _ => None,
                }
            }
            b'>' | b'&' | b'*' | b'!' | b'%' | b'@' | b'`' | b'?' => None,
            _ => self.plain(rest, parent),
        }
    }

    fn plain(&mut self, first: &'a str, parent: usize) -> P<Node> {
        let first = strip_comment(first);
        if first.contains(": ") || first.ends_with(':') || first.starts_with("- ") {
            return None;
        }
        let mut value = first.to_string();
        // Multi-line plain scalars (Go wraps long strings): fold line breaks into spaces,
        // an empty line into a newline.
        let mut pending_newlines = 0;
        while let Some(line) = self.lines.get(self.pos) {
            let t = line.text.trim_end();
            if t.is_empty() {
                pending_newlines += 1;
                self.pos += 1;
                continue;
            }
            if line.indent <= parent || t.starts_with('#') {
                break;
            }
            if t.contains(": ") || t.ends_with(':') || t.contains(" #") || t.starts_with("- ") {
                return None;
            }
            if pending_newlines > 0 {
                for _ in 0..pending_newlines {
                    value.push('\n');
                }
            } else {
                value.push(' ');
            }
            pending_newlines = 0;
            value.push_str(t);
            self.pos += 1;
        }
        if pending_newlines > 0 {
            // Blank lines after the scalar belong to nobody; step back so the caller sees them.
            self.pos -= pending_newlines;
        }
        Some(Node::Scalar(value, true))
    }

    fn literal_block(&mut self, header: &str, parent: usize) -> P<Node> {
        let header = strip_comment(header);
        let chomp = match &header[1..] {
            "" => Chomp::Clip,
            "-" => Chomp::Strip,
            "+" => Chomp::Keep,
            _ => return None,
        };
        // Content indentation: the first non-empty line's.
        let mut content_indent = None;
        let mut i = self.pos;
        while let Some(line) = self.lines.get(i) {
            if !line.text.is_empty() {
                if line.indent > parent {
                    content_indent = Some(line.indent);
                }
                break;
            }
            i += 1;
        }
        let mut value = String::new();
        let Some(content_indent) = content_indent else {
            return Some(Node::Scalar(String::new(), false));
        };
        let mut last_content = self.pos;
        while let Some(line) = self.lines.get(self.pos) {
            if line.text.is_empty() {
                // Empty (or less indented whitespace-only) line inside the block.
                if line.indent > content_indent {
                    value.push_str(&" ".repeat(line.indent - content_indent));
                }
                value.push('\n');
                self.pos += 1;
                continue;
            }
            if line.indent < content_indent {
                break;
            }
            value.push_str(&" ".repeat(line.indent - content_indent));
            value.push_str(line.text);
            value.push('\n');
            self.pos += 1;
            last_content = self.pos;
        }
        // Trailing empty lines: kept only with `+`; rewind so they are not consumed twice.
        let trailing = self.pos - last_content;
        match chomp {
            Chomp::Keep => {}
            Chomp::Clip | Chomp::Strip => {
                let body_len = value.trim_end_matches('\n').len();
                value.truncate(body_len);
                if chomp == Chomp::Clip && body_len > 0 {
                    value.push('\n');
                }
            }
        }
        if trailing > 0 && chomp != Chomp::Keep {
            self.pos = last_content;
        }
        Some(Node::Scalar(value, false))
    }

    fn double_quoted(&mut self, first: &'a str, parent: usize) -> P<Node> {
        let mut out = String::new();
        let mut text: &str = &first[1..];
        let mut first_line = true;
        loop {
            let mut chars = text.char_indices();
            let mut line_buf = String::new();
            let mut closed_at = None;
            let mut escaped_break = false;
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        closed_at = Some(i);
                        break;
                    }
                    '\\' => {
                        let Some((_, e)) = chars.next() else {
                            escaped_break = true;
                            break;
                        };
                        match e {
                            'n' => line_buf.push('\n'),
                            't' | '\t' => line_buf.push('\t'),
                            'r' => line_buf.push('\r'),
                            '"' => line_buf.push('"'),
                            '\\' => line_buf.push('\\'),
                            '/' => line_buf.push('/'),
                            ' ' => line_buf.push(' '),
                            '0' => line_buf.push('\0'),
                            'a' => line_buf.push('\u{7}'),
                            'b' => line_buf.push('\u{8}'),
                            'e' => line_buf.push('\u{1b}'),
                            'f' => line_buf.push('\u{c}'),
                            'v' => line_buf.push('\u{b}'),
                            'N' => line_buf.push('\u{85}'),
                            '_' => line_buf.push('\u{a0}'),
                            'L' => line_buf.push('\u{2028}'),
                            'P' => line_buf.push('\u{2029}'),
                            'x' | 'u' | 'U' => {
                                let len = match e {
                                    'x' => 2,
                                    'u' => 4,
                                    _ => 8,
                                };
                                let mut code = 0u32;
                                for _ in 0..len {
                                    let (_, h) = chars.next()?;
                                    code = code * 16 + h.to_digit(16)?;
                                }
                                line_buf.push(char::from_u32(code)?);
                            }
                            _ => return None,
                        }
                    }
                    c => line_buf.push(c),
                }
            }
            if let Some(end) = closed_at {
                if !first_line {
                    out.push_str(line_buf.trim_start_matches([' ', '\t']));
                } else {
                    out.push_str(&line_buf);
                }
                let tail = strip_comment(&text[end + 1..]);
                if !tail.is_empty() {
                    return None;
                }
                return Some(Node::Scalar(out, false));
            }
            // The scalar continues on the next line(s): fold.
            let piece = if first_line { line_buf.as_str() } else { line_buf.trim_start_matches([' ', '\t']) };
            if escaped_break {
                out.push_str(piece);
            } else {
                out.push_str(piece.trim_end_matches([' ', '\t']));
            }
            first_line = false;
            let mut empties = 0;
            loop {
                let line = self.lines.get(self.pos)?;
                self.pos += 1;
                if line.text.trim().is_empty() {
                    empties += 1;
                    continue;
                }
                if line.indent <= parent {
                    return None;
                }
                text = line.text;
                break;
            }
            if empties > 0 {
                for _ in 0..empties {
                    out.push('\n');
                }
            } else if !escaped_break {
                out.push(' ');
            }
        }
    }

    fn single_quoted(&mut self, first: &'a str, parent: usize) -> P<Node> {
        let mut out = String::new();
        let mut text: &str = &first[1..];
        let mut first_line = true;
        loop {
            let bytes = text.as_bytes();
            let mut i = 0;
            let mut piece = String::new();
            let mut closed = None;
            while i < bytes.len() {
                if bytes[i] == b'\'' {
                    if bytes.get(i + 1) == Some(&b'\'') {
                        piece.push('\'');
                        i += 2;
                        continue;
                    }
                    closed = Some(i);
                    break;
                }
                let c = text[i..].chars().next()?;
                piece.push(c);
                i += c.len_utf8();
            }
            let piece = if first_line { piece.as_str() } else { piece.trim_start_matches([' ', '\t']) };
            if let Some(end) = closed {
                out.push_str(piece);
                if !strip_comment(&text[end + 1..]).is_empty() {
                    return None;
                }
                return Some(Node::Scalar(out, false));
            }
            out.push_str(piece.trim_end_matches([' ', '\t']));
            first_line = false;
            let mut empties = 0;
            loop {
                let line = self.lines.get(self.pos)?;
                self.pos += 1;
                if line.text.trim().is_empty() {
                    empties += 1;
                    continue;
                }
                if line.indent <= parent {
                    return None;
                }
                text = line.text;
                break;
            }
            if empties > 0 {
                for _ in 0..empties {
                    out.push('\n');
                }
            } else {
                out.push(' ');
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Chomp {
    Clip,
    Strip,
    Keep,
}

/// Position of the `:` ending a mapping key on this line, if the line is `key: …`/`key:`.
fn find_key_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    match bytes.first()? {
        b'"' | b'\'' => {
            let quote = bytes[0];
            let mut i = 1;
            while i < bytes.len() {
                if bytes[i] == b'\\' && quote == b'"' {
                    i += 2;
                    continue;
                }
                if bytes[i] == quote {
                    if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    return (bytes.get(i + 1) == Some(&b':') && matches!(bytes.get(i + 2), None | Some(b' ')))
                        .then_some(i + 1);
                }
                i += 1;
            }
            None
        }
        b'#' | b'[' | b'{' | b'&' | b'*' | b'!' | b'|' | b'>' | b'%' | b'@' | b'`' | b'?' | b'-' => None,
        _ => {
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b':' && matches!(bytes.get(i + 1), None | Some(b' ')) {
                    return Some(i);
                }
                if bytes[i] == b' ' && bytes.get(i + 1) == Some(&b'#') {
                    return None;
                }
                i += 1;
            }
            None
        }
    }
}

/// A mapping key: plain or quoted (single-line).
fn parse_key(raw: &str) -> Option<(String, bool)> {
    let raw = raw.trim_end();
    match raw.as_bytes().first()? {
        b'"' => {
            let mut p = Parser { lines: vec![Line { indent: 0, text: raw }], pos: 1 };
            match p.double_quoted(raw, 0)? {
                Node::Scalar(s, _) => Some((s, false)),
                _ => None,
            }
        }
        b'\'' => {
            let mut p = Parser { lines: vec![Line { indent: 0, text: raw }], pos: 1 };
            match p.single_quoted(raw, 0)? {
                Node::Scalar(s, _) => Some((s, false)),
                _ => None,
            }
        }
        _ => Some((raw.to_string(), true)),
    }
}

/// Remove a trailing ` # comment` and surrounding spaces.
fn strip_comment(text: &str) -> &str {
    let text = match text.find(" #") {
        Some(i) => &text[..i],
        None => text,
    };
    text.trim_end_matches([' ', '\t'])
}

// ---------------------------------------------------------------------------------------
// Tree -> model, with the same typing rules as the serde path (any scalar reads as a
// string; null-like plain scalars only where an Option takes them).

fn is_null_like(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

fn opt_string(node: Node) -> P<Option<String>> {
    match node {
        Node::Scalar(s, true) if is_null_like(&s) => Some(None),
        Node::Scalar(s, _) => Some(Some(s)),
        _ => None,
    }
}

fn string(node: Node) -> P<String> {
    match node {
        Node::Scalar(s, true) if is_null_like(&s) => None,
        Node::Scalar(s, _) => Some(s),
        _ => None,
    }
}

fn boolean(node: Node) -> P<bool> {
    match node {
        Node::Scalar(s, true) => match s.as_str() {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn strings(node: Node) -> P<Vec<String>> {
    match node {
        Node::Seq(items) => items.into_iter().map(string).collect(),
        _ => None,
    }
}

fn string_map(node: Node) -> P<BTreeMap<String, String>> {
    match node {
        Node::Map(entries) => {
            let mut map = BTreeMap::new();
            for (k, _, v) in entries {
                map.insert(k, string(v)?);
            }
            Some(map)
        }
        _ => None,
    }
}

fn time(node: Node) -> P<Option<DateTime<Utc>>> {
    match opt_string(node)? {
        None => Some(None),
        Some(text) => Some(Some(DateTime::parse_from_rfc3339(text.trim()).ok()?.with_timezone(&Utc))),
    }
}

/// A generic YAML value, resolving plain scalars exactly as serde_yaml does.
fn value(node: Node) -> P<serde_yaml::Value> {
    Some(match node {
        Node::Scalar(s, true) => serde_yaml::from_str(&s).ok()?,
        Node::Scalar(s, false) => serde_yaml::Value::String(s),
        Node::Seq(items) => serde_yaml::Value::Sequence(items.into_iter().map(value).collect::<Option<_>>()?),
        Node::Map(entries) => {
            let mut map = serde_yaml::Mapping::new();
            for (k, plain, v) in entries {
                let key = if plain { serde_yaml::from_str(&k).ok()? } else { serde_yaml::Value::String(k) };
                if map.insert(key, value(v)?).is_some() {
                    return None;
                }
            }
            serde_yaml::Value::Mapping(map)
        }
    })
}

fn convert_index(root: Node) -> P<RepoIndex> {
    let Node::Map(fields) = root else { return None };
    let mut index = RepoIndex::default();
    let mut api_version = None;
    for (key, _, node) in fields {
        match key.as_str() {
            "apiVersion" => api_version = opt_string(node)?,
            "annotations" => index.annotations = string_map(node)?,
            "generated" => index.generated = time(node)?,
            "publicKeys" => index.public_keys = strings(node)?,
            "serverInfo" => match value(node)? {
                serde_yaml::Value::Mapping(m) => index.server_info = Some(m),
                serde_yaml::Value::Null => {}
                _ => return None,
            },
            "entries" => {
                let Node::Map(charts) = node else { return None };
                for (name, _, versions) in charts {
                    let Node::Seq(versions) = versions else { return None };
                    let mut list = Vec::with_capacity(versions.len());
                    for version in versions {
                        list.push(convert_entry(version)?);
                    }
                    super::sort_versions(&mut list);
                    index.entries.insert(name, list);
                }
            }
            _ => return None,
        }
    }
    // Only a plain `apiVersion: v1` index takes the fast path; anything else gets the
    // full parser's verdict and message.
    (api_version.as_deref() == Some("v1")).then_some(index)
}

fn convert_entry(node: Node) -> P<IndexEntry> {
    let Node::Map(fields) = node else { return None };
    let mut m = ChartMetadata::default();
    let mut e = IndexEntry::default();
    let mut l = LegacyFields::default();
    for (key, _, node) in fields {
        match key.as_str() {
            "annotations" => m.annotations = string_map(node)?,
            "apiVersion" => m.api_version = opt_string(node)?,
            "appVersion" => m.app_version = opt_string(node)?,
            "checksum" => l.checksum = opt_string(node)?,
            "condition" => m.condition = opt_string(node)?,
            "created" => e.created = time(node)?,
            "dependencies" => {
                let Node::Seq(items) = node else { return None };
                m.dependencies = items.into_iter().map(convert_dependency).collect::<Option<_>>()?;
            }
            "deprecated" => m.deprecated = boolean(node)?,
            "description" => m.description = opt_string(node)?,
            "digest" => e.digest = opt_string(node)?.unwrap_or_default(),
            "engine" => l.engine = opt_string(node)?,
            "home" => m.home = opt_string(node)?,
            "icon" => m.icon = opt_string(node)?,
            "keywords" => m.keywords = strings(node)?,
            "kubeVersion" => m.kube_version = opt_string(node)?,
            "maintainers" => {
                let Node::Seq(items) = node else { return None };
                m.maintainers = items.into_iter().map(convert_maintainer).collect::<Option<_>>()?;
            }
            "name" => m.name = opt_string(node)?.unwrap_or_default(),
            "removed" => e.removed = boolean(node)?,
            "sources" => m.sources = strings(node)?,
            "tags" => m.tags = opt_string(node)?,
            "tillerVersion" => l.tiller_version = opt_string(node)?,
            "type" => m.chart_type = opt_string(node)?,
            "url" => l.url = opt_string(node)?,
            "urls" => e.urls = strings(node)?,
            "version" => m.version = opt_string(node)?.unwrap_or_default(),
            _ => return None,
        }
    }
    e.metadata = m;
    e.legacy = l;
    Some(e)
}

fn convert_maintainer(node: Node) -> P<Maintainer> {
    let Node::Map(fields) = node else { return None };
    let mut m = Maintainer::default();
    for (key, _, node) in fields {
        match key.as_str() {
            "email" => m.email = opt_string(node)?,
            "name" => m.name = opt_string(node)?,
            "url" => m.url = opt_string(node)?,
            _ => return None,
        }
    }
    Some(m)
}

fn convert_dependency(node: Node) -> P<Dependency> {
    let Node::Map(fields) = node else { return None };
    let mut d = Dependency::default();
    for (key, _, node) in fields {
        match key.as_str() {
            "alias" => d.alias = opt_string(node)?,
            "condition" => d.condition = opt_string(node)?,
            "enabled" => d.enabled = boolean(node)?,
            "import-values" => {
                let Node::Seq(items) = node else { return None };
                d.import_values = items.into_iter().map(value).collect::<Option<_>>()?;
            }
            "name" => d.name = opt_string(node)?.unwrap_or_default(),
            "repository" => d.repository = opt_string(node)?.unwrap_or_default(),
            "tags" => d.tags = strings(node)?,
            "version" => d.version = opt_string(node)?,
            _ => return None,
        }
    }
    Some(d)
}
