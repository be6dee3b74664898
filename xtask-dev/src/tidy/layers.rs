//! The layers of a crate's source folder (`xtask/src`): its import graph, derived from the
//! sources, checked against the order ARCHITECTURE.md draws, so the document and the code
//! cannot drift.
//!
//! A line scan, no parser: comments and the insides of string and char literals are
//! blanked first ([`code_only`]), then every `crate::…` path (and `$crate::…` in a macro)
//! and every `super::…` path that climbs to the crate root names a top-level module (a
//! file or folder right under the source folder); a `use crate::{a, b::c}` group names
//! each. A `crate::name!` macro counts as the module that `#[macro_export]`s it.
//!
//! Unit tests are left out: a `#[cfg(test)] mod …` block, and the file of a
//! `#[cfg(test)] mod …;` declaration (`tests.rs`). A test is a leaf of the graph (nothing
//! imports it), so its imports cannot close a circle among the modules, and a test may
//! drive its module through a higher one, as an integration test does (`release`'s flags
//! parsed by the real command line in `cli`). Any other `#[cfg(test)]` item is scanned like
//! the rest. The crate roots (`lib.rs`, `main.rs`) declare the modules and are not one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail};

/// One place where a top-level module names another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Import {
    /// The file, relative to the repository root, `/`-separated.
    pub file: String,
    /// 1-based.
    pub line: usize,
    pub from: String,
    pub to: String,
}

/// The layers of the `## Layers` section of ARCHITECTURE.md (`doc`), bottom first: the
/// first fenced block of that section, drawn top first, one layer a line, its modules
/// separated by commas.
pub fn drawn_layers(doc: &str) -> Result<Vec<Vec<String>>> {
    let (_, section) = doc.split_once("\n## Layers\n").context("ARCHITECTURE.md has no `## Layers` section")?;
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut lines = section.lines().skip_while(|line| !line.starts_with("```")).skip(1);
    let mut layers = Vec::new();
    loop {
        let Some(line) = lines.next() else {
            bail!("the `## Layers` section of ARCHITECTURE.md has no closed ``` block")
        };
        if line.starts_with("```") {
            break;
        }
        if !line.trim().is_empty() {
            layers.push(line.split(',').map(|name| name.trim().to_string()).collect());
        }
    }
    if layers.is_empty() {
        bail!("the `## Layers` section of ARCHITECTURE.md draws no layer");
    }
    layers.reverse();
    Ok(layers)
}

/// Everything wrong with the imports of `src` (a source folder under `root`, such as
/// `xtask/src`) against the layers that `doc` draws: a module the drawing leaves out (or
/// places twice, or a name that is no module); a path the scan cannot place; an import of a
/// module that is not in a lower layer (file, line and both modules); and every circle, as
/// the modules it runs through and where each step imports the next.
pub fn layer_problems(root: &Path, src: &str, doc: &str) -> Result<Vec<String>> {
    let layers = drawn_layers(doc)?;
    let graph = import_graph(root, src)?;
    let mut problems = Vec::new();
    let mut level: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, layer) in layers.iter().enumerate() {
        for name in layer {
            if level.insert(name, index + 1).is_some() {
                problems.push(format!("ARCHITECTURE.md's layers place {name} twice"));
            }
        }
    }
    for module in &graph.modules {
        if !level.contains_key(module.as_str()) {
            problems.push(format!("ARCHITECTURE.md's layers do not place {src}/{module}"));
        }
    }
    for name in level.keys().filter(|name| !graph.modules.contains(**name)) {
        problems.push(format!("ARCHITECTURE.md's layers name {name}, which is no top-level module of {src}"));
    }
    problems.extend(graph.unplaced.iter().cloned());
    for import in &graph.imports {
        if let (Some(&from), Some(&to)) = (level.get(import.from.as_str()), level.get(import.to.as_str()))
            && to >= from
        {
            problems.push(format!(
                "{}:{}: {} (layer {from}) imports {} (layer {to}): a module imports only from the layers below its own",
                import.file, import.line, import.from, import.to
            ));
        }
    }
    problems.extend(circles(&graph.imports));
    Ok(problems)
}

/// The top-level modules of a source folder and where each imports another.
#[derive(Debug, Default)]
pub struct ImportGraph {
    pub modules: BTreeSet<String>,
    /// Sorted by file and line.
    pub imports: Vec<Import>,
    /// Paths the scan cannot place (`crate::x` where `x` is no module and no exported macro).
    pub unplaced: Vec<String>,
}

/// The import graph of the source folder `src` under `root` (see the module docs for what
/// counts).
pub fn import_graph(root: &Path, src: &str) -> Result<ImportGraph> {
    let mut files = Vec::new();
    for file in super::rust_files(root, src)? {
        let relative = file.strip_prefix(src).and_then(|rest| rest.strip_prefix('/')).unwrap_or(&file);
        let Some(path) = module_path(relative) else { continue };
        let text = std::fs::read_to_string(root.join(&file)).with_context(|| format!("reading {file}"))?;
        let code = code_only(&text);
        let scan = scan_lines(&code, &path);
        files.push((file, path, code, scan));
    }
    let mut graph = ImportGraph::default();
    let mut macros: BTreeMap<String, String> = BTreeMap::new();
    let mut test_modules: Vec<Vec<String>> = Vec::new();
    for (_, path, code, scan) in &files {
        graph.modules.insert(path[0].clone());
        test_modules.extend(scan.test_children.iter().cloned());
        for name in exported_macros(code) {
            macros.insert(name, path[0].clone());
        }
    }
    for (file, path, code, scan) in &files {
        if test_modules.iter().any(|test| path.starts_with(test)) {
            continue;
        }
        let from = &path[0];
        for (line, name) in named_modules(code, path, &scan.inline) {
            let to = if graph.modules.contains(&name) {
                name
            } else if let Some(module) = macros.get(&name) {
                module.clone()
            } else {
                graph.unplaced.push(format!("{file}:{line}: crate::{name} is no top-level module of {src}"));
                continue;
            };
            if &to != from {
                graph.imports.push(Import { file: file.clone(), line, from: from.clone(), to });
            }
        }
    }
    graph.imports.sort();
    Ok(graph)
}

/// The module path of a file relative to the source folder (`release/page.rs` is
/// `release::page`, `release/mod.rs` is `release`); `None` for a crate root.
fn module_path(relative: &str) -> Option<Vec<String>> {
    if relative == "lib.rs" || relative == "main.rs" {
        return None;
    }
    let mut path: Vec<String> = relative.strip_suffix(".rs")?.split('/').map(str::to_string).collect();
    if path.last().is_some_and(|last| last == "mod") {
        path.pop();
    }
    Some(path)
}

/// The text with comments and the insides of string and char literals (raw and byte ones
/// too) turned into spaces, line breaks kept, so paths are only ever found in code and line
/// numbers stay right.
pub fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let at = |i: usize, s: &str| s.chars().enumerate().all(|(k, c)| chars.get(i + k) == Some(&c));
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let after_ident = i > 0 && is_ident(chars[i - 1]);
        // Where the literal or comment starting at `i` ends (exclusive), if one does.
        let end = if at(i, "//") {
            Some(chars[i..].iter().position(|&c| c == '\n').map_or(chars.len(), |n| i + n))
        } else if at(i, "/*") {
            let (mut depth, mut j) = (0_usize, i);
            while j < chars.len() {
                if at(j, "/*") {
                    depth += 1;
                    j += 2;
                } else if at(j, "*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            Some(j.min(chars.len()))
        } else if !after_ident && (c == 'r' || (c == 'b' && chars.get(i + 1) == Some(&'r'))) {
            let open = if c == 'b' { i + 2 } else { i + 1 };
            let hashes = chars[open..].iter().take_while(|&&c| c == '#').count();
            (chars.get(open + hashes) == Some(&'"')).then(|| {
                let closing: String = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
                let mut j = open + hashes + 1;
                while j < chars.len() && !at(j, &closing) {
                    j += 1;
                }
                (j + closing.chars().count()).min(chars.len())
            })
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            Some((j + 1).min(chars.len()))
        } else if c == '\'' && chars.get(i + 1) == Some(&'\\') {
            chars.iter().skip(i + 3).position(|&c| c == '\'').map(|n| i + 3 + n + 1)
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            Some(i + 3)
        } else {
            None // code, a lifetime or a label
        };
        match end {
            Some(end) => {
                out.extend(chars[i..end].iter().map(|&c| blank(c)));
                i = end;
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// What the line scan of one file finds.
#[derive(Debug, Default)]
struct LineScan {
    /// Per line (0-based): the inline modules it sits in (`mod names { … }`), or `None` in
    /// test code.
    inline: Vec<Option<Vec<String>>>,
    /// The module paths of `#[cfg(test)] mod name;` declarations: test files.
    test_children: Vec<Vec<String>>,
}

/// Track inline modules and test code line by line. rustfmt indents a module's body and
/// puts its closing brace at the module's own indentation, which is what ends it here.
fn scan_lines(code: &str, path: &[String]) -> LineScan {
    let mut scan = LineScan::default();
    // (indentation, name, test code) of each open inline module.
    let mut open: Vec<(usize, String, bool)> = Vec::new();
    let mut cfg_test = false;
    for line in code.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let in_test = open.iter().any(|(_, _, test)| *test);
        scan.inline.push((!in_test).then(|| open.iter().map(|(_, name, _)| name.clone()).collect()));
        if open.last().is_some_and(|(at, _, _)| *at == indent) && trimmed.starts_with('}') {
            open.pop();
            continue;
        }
        let mut item = trimmed;
        while let Some(rest) = item.strip_prefix("#[") {
            cfg_test |= rest.starts_with("cfg(test)]");
            item = rest.split_once(']').map_or("", |(_, after)| after.trim_start());
        }
        if item.is_empty() {
            continue; // blank, a comment, or attributes for the next line
        }
        if let Some((name, body)) = module_declaration(item) {
            let test = cfg_test || in_test;
            if body {
                open.push((indent, name, test));
            } else if test {
                let mut child = path.to_vec();
                child.extend(open.iter().map(|(_, name, _)| name.clone()));
                child.push(name);
                scan.test_children.push(child);
            }
        }
        cfg_test = false;
    }
    scan
}

/// `mod name {` (`true`: its body follows) or `mod name;` (`false`), with any visibility.
fn module_declaration(item: &str) -> Option<(String, bool)> {
    let item = match item.strip_prefix("pub") {
        Some(rest) if rest.starts_with('(') => rest.split_once(')')?.1.trim_start(),
        Some(rest) => rest.trim_start(),
        None => item,
    };
    let rest = item.strip_prefix("mod ")?.trim_start();
    let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
    match rest[name.len()..].trim() {
        "{" => Some((name, true)),
        ";" => Some((name, false)),
        _ => None,
    }
}

/// The macros a file exports at the crate root (`#[macro_export] macro_rules! name`).
fn exported_macros(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut exported = false;
    for line in code.lines().map(str::trim) {
        if line.starts_with("#[macro_export]") {
            exported = true;
        } else if let Some(rest) = line.strip_prefix("macro_rules!").filter(|_| exported) {
            found.push(rest.trim_start().chars().take_while(|&c| is_ident(c)).collect());
            exported = false;
        } else if !line.is_empty() && !line.starts_with("#[") {
            exported = false;
        }
    }
    found
}

/// The crate-root names of every `crate::` and root-reaching `super::` path in `code`
/// outside test code, with their (1-based) lines; `path` is the file's module path and
/// `inline` the line scan's inline modules.
fn named_modules(code: &str, path: &[String], inline: &[Option<Vec<String>>]) -> Vec<(usize, String)> {
    let line_starts: Vec<usize> = std::iter::once(0).chain(code.match_indices('\n').map(|(at, _)| at + 1)).collect();
    let line_of = |offset: usize| line_starts.partition_point(|&start| start <= offset);
    let mut found = Vec::new();
    for keyword in ["crate::", "super::"] {
        for (at, _) in code.match_indices(keyword) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| is_ident(c) || c == ':') {
                continue; // `mycrate::`, or the second `super` of `super::super::`
            }
            let Some(Some(modules)) = inline.get(line_of(at) - 1) else { continue };
            let mut rest = at + keyword.len();
            if keyword == "super::" {
                let mut climbs = 1;
                while code[rest..].starts_with("super::") {
                    climbs += 1;
                    rest += "super::".len();
                }
                // Below the crate root, `super` stays inside the file's own top-level module.
                if path.len() + modules.len() != climbs {
                    continue;
                }
            }
            found.extend(names_at(code, rest).into_iter().map(|(offset, name)| (line_of(offset), name)));
        }
    }
    found.sort();
    found
}

/// The first segment of the path at `offset`, or of each item of a `{…}` group there, with
/// its offset.
fn names_at(code: &str, offset: usize) -> Vec<(usize, String)> {
    let ident = |from: usize| -> (usize, String) {
        let start = from + code[from..].len() - code[from..].trim_start().len();
        (start, code[start..].chars().take_while(|&c| is_ident(c)).collect())
    };
    if !code[offset..].starts_with('{') {
        return vec![ident(offset)];
    }
    let mut names = Vec::new();
    let (mut depth, mut item_start) = (0_usize, offset + 1);
    for (at, c) in code[offset..].char_indices().map(|(at, c)| (offset + at, c)) {
        match c {
            '{' => depth += 1,
            '}' | ',' if depth == 1 => {
                let item = ident(item_start);
                if !item.1.is_empty() && item.1 != "self" {
                    names.push(item);
                }
                item_start = at + 1;
                if c == '}' {
                    break;
                }
            }
            '}' => depth -= 1,
            _ => {}
        }
    }
    names
}

/// Every circle among the imports: one per tangle (a set of modules that all reach each
/// other), the shortest through its first module, with where each step is imported.
fn circles(imports: &[Import]) -> Vec<String> {
    // The first place each edge is imported (imports are sorted by file and line).
    let mut edges: BTreeMap<(&str, &str), &Import> = BTreeMap::new();
    for import in imports {
        edges.entry((import.from.as_str(), import.to.as_str())).or_insert(import);
    }
    let next = |from: &str| edges.keys().filter(move |(a, _)| *a == from).map(|(_, b)| *b).collect::<Vec<_>>();
    let reach = |start: &str| {
        let mut seen = BTreeSet::new();
        let mut pending = vec![start];
        while let Some(module) = pending.pop() {
            for to in next(module) {
                if seen.insert(to) {
                    pending.push(to);
                }
            }
        }
        seen
    };
    let modules: BTreeSet<&str> = edges.keys().map(|(from, _)| *from).collect();
    let reaches: BTreeMap<&str, BTreeSet<&str>> = modules.iter().map(|m| (*m, reach(m))).collect();
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    let mut problems = Vec::new();
    for start in &modules {
        if reported.contains(start) || !reaches[start].contains(start) {
            continue;
        }
        let tangle: BTreeSet<&str> =
            reaches[start].iter().copied().filter(|m| reaches.get(m).is_some_and(|r| r.contains(start))).collect();
        reported.extend(&tangle);
        // Breadth first from `start` back to it, inside the tangle.
        let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([*start]);
        'search: while let Some(module) = queue.pop_front() {
            for to in next(module).into_iter().filter(|to| tangle.contains(to)) {
                if to == *start {
                    came_from.insert(to, module);
                    break 'search;
                }
                if !came_from.contains_key(to) {
                    came_from.insert(to, module);
                    queue.push_back(to);
                }
            }
        }
        let mut cycle = vec![*start];
        let mut at = came_from[start];
        while at != *start {
            cycle.push(at);
            at = came_from[at];
        }
        cycle.push(start);
        cycle.reverse(); // it was collected backwards, from `start` through each predecessor
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|pair| {
                let import = edges[&(pair[0], pair[1])];
                format!("{}:{} ({} imports {})", import.file, import.line, import.from, import.to)
            })
            .collect();
        let members: Vec<&str> = tangle.into_iter().collect();
        problems.push(format!("circle among {}: {}; {}", members.join(", "), cycle.join(" → "), steps.join("; ")));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use xtask::project::project_root;

    fn architecture() -> String {
        std::fs::read_to_string(project_root().join("ARCHITECTURE.md")).unwrap()
    }

    /// The shipped crate's modules import in the order ARCHITECTURE.md draws, and in a circle nowhere.
    #[test]
    fn xtask_imports_follow_the_drawn_layers() {
        let problems = layer_problems(&project_root(), "xtask/src", &architecture()).unwrap();
        assert!(problems.is_empty(), "xtask/src against ARCHITECTURE.md's layers:\n{}", problems.join("\n"));
    }

    /// The check reads the order from the document: drawn the other way round, the code fails it.
    #[test]
    fn layer_check_reads_the_order_from_architecture_md() {
        let doc = architecture();
        let layers = drawn_layers(&doc).unwrap();
        assert_eq!(layers.first().unwrap().first().map(String::as_str), Some("project"), "{layers:?}");
        assert_eq!(layers.last().unwrap(), &["entry"], "{layers:?}");
        let swapped = doc.replacen("\nrelease\n", "\nRELEASE\n", 1).replacen("\nverify, ctx\n", "\nrelease\n", 1);
        let swapped = swapped.replacen("\nRELEASE\n", "\nverify, ctx\n", 1).replacen(
            "\nproject, logging, http, layout, retry, interrupt\n",
            "\nproject, logging, layout, retry, interrupt\n",
            1,
        );
        let problems = layer_problems(&project_root(), "xtask/src", &swapped).unwrap();
        assert!(
            problems.contains(&"ARCHITECTURE.md's layers do not place xtask/src/http".to_string()),
            "{problems:#?}"
        );
        let upward = problems.iter().find(|p| p.starts_with("xtask/src/verify/address.rs:")).expect("verify → release");
        assert!(upward.contains(": verify (layer 6) imports release (layer 7): a module imports only"), "{upward}");
    }

    #[test]
    fn layer_check_catches_a_circle_an_upward_import_and_a_module_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let files: &[(&str, &str)] = &[
            ("src/lib.rs", "pub mod a;\npub mod b;\npub mod c;\npub mod d;\npub mod e;\n"),
            (
                "src/a.rs",
                "//! Docs naming crate::c are no import.\n\
                 use crate::b::Thing;\n\
                 const S: &str = \"crate::c::X\"; const R: &str = r#\"crate::c \"# ;\n\
                 fn f<'a>(x: &'a str) -> char { let _ = '\"'; crate::d::h(); '{' }\n\
                 /* crate::c\n   crate::c */\n\
                 #[cfg(test)]\n\
                 mod tests {\n    use crate::c::Upward;\n}\n\
                 fn g() {}\n",
            ),
            ("src/b/mod.rs", "pub mod inner;\npub use self::inner::Sibling;\n#[cfg(test)]\nmod tests;\n"),
            (
                "src/b/inner.rs",
                "use super::super::a::Thing;\nuse super::Sibling;\nuse crate::{\n    c::One,\n    a::{self, Two},\n};\n",
            ),
            ("src/b/tests.rs", "use crate::c::Anything;\n"),
            ("src/c.rs", "pub fn x() { crate::shout!(\"hi\"); crate::nowhere::f(); }\n"),
            (
                "src/d.rs",
                "pub mod names {\n    pub fn up() { super::super::c::x(); }\n}\n\
                 #[macro_export]\nmacro_rules! shout {\n    ($e:expr) => { $crate::a::print($e) };\n}\n",
            ),
            ("src/e.rs", "pub fn nothing() {}\n"),
        ];
        for (path, text) in files {
            std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
            std::fs::write(root.join(path), text).unwrap();
        }
        let doc = "# Architecture\n\n## Layers\n\n```text\nc\nb, x\na, d\n```\n\n## Next\n";
        let problems = layer_problems(root, "src", doc).unwrap();
        assert_eq!(
            problems,
            [
                "ARCHITECTURE.md's layers do not place src/e",
                "ARCHITECTURE.md's layers name x, which is no top-level module of src",
                "src/c.rs:1: crate::nowhere is no top-level module of src",
                "src/a.rs:2: a (layer 1) imports b (layer 2): a module imports only from the layers below its own",
                "src/a.rs:4: a (layer 1) imports d (layer 1): a module imports only from the layers below its own",
                "src/b/inner.rs:4: b (layer 2) imports c (layer 3): a module imports only from the layers below its own",
                "src/d.rs:2: d (layer 1) imports c (layer 3): a module imports only from the layers below its own",
                "src/d.rs:6: d (layer 1) imports a (layer 1): a module imports only from the layers below its own",
                "circle among a, b, c, d: a → b → a; src/a.rs:2 (a imports b); src/b/inner.rs:1 (b imports a)",
            ]
        );
    }

    #[test]
    fn code_only_keeps_code_and_line_breaks_and_blanks_the_rest() {
        let text = "let a = \"x // y\"; // crate::no\nlet b = 'c'; let l: &'static str = r##\"a\"#b\"##;\n/* a /* b */ c */ d\n'\\'' e";
        let code = code_only(text);
        assert_eq!(code.lines().count(), text.lines().count());
        // Each literal and comment keeps its width: `"x // y"` is 8 characters, `r##"a"#b"##` 11.
        let blanks = |n: usize| " ".repeat(n);
        assert_eq!(
            code.lines().map(str::trim_end).collect::<Vec<_>>(),
            [
                format!("let a = {};", blanks(8)),
                format!("let b = {}; let l: &'static str = {};", blanks(3), blanks(11)),
                format!("{}d", blanks(18)),
                format!("{}e", blanks(5)),
            ]
        );
    }
}
