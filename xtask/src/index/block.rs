//! The block-style YAML subset that Helm (Go's yaml.v2), we and most tools write, parsed
//! into a small tree ([`Node`]) for the fast path (`fast.rs` turns the tree into the model).
//!
//! The subset: block mappings and sequences, plain / quoted / literal-block scalars, `[]`
//! and `{}`. Anything else (anchors, tags, flow collections with content, folded blocks,
//! tabs in indentation, duplicate keys, a document that does not start at column 0…) makes
//! [`parse`] return `None`, and the caller defers to the full YAML parser.

/// A parsed YAML node of the supported subset.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A scalar and whether it was plain (unquoted, not a block).
    Scalar(String, bool),
    Seq(Vec<Node>),
    /// Entries in document order: key, whether the key was plain, value.
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

/// The document in `text` as a tree; `None` when it is outside the subset.
pub fn parse(text: &str) -> Option<Node> {
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
    Some(root)
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
            text = self.fold_to_next_line(parent, &mut out, !escaped_break)?;
        }
    }

    /// A quoted scalar continues on the next non-blank line, which must be indented
    /// deeper than `parent`: each blank line folds to a line break, no blank line to a
    /// space (unless `space` is false: an escaped line break joins without one).
    fn fold_to_next_line(&mut self, parent: usize, out: &mut String, space: bool) -> P<&'a str> {
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
            if empties > 0 {
                out.extend(std::iter::repeat_n('\n', empties));
            } else if space {
                out.push(' ');
            }
            return Some(line.text);
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
            text = self.fold_to_next_line(parent, &mut out, true)?;
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
