//! Checks that guard the repository itself, run by plain `cargo test` (rust-analyzer's
//! `tidy.rs` habit): the command reference is the one `cargo xtask docs` generates from
//! the definitions of every command (shipped and development), the workflows call only
//! commands that exist and pin their actions, no path climbs out of the repository, and
//! the modules of `xtask/src` import in the order ARCHITECTURE.md draws ([`layers`]).

mod layers;

use std::path::Path;

use anyhow::{Context, Result, bail};
use clap::CommandFactory;
use serde_yaml::Value;

use crate::cli::Cli;

/// Names of every `cargo xtask` subcommand, as `--help` lists them (the development
/// binary's: shipped commands, `test` and the benchmarks).
pub fn command_names() -> Vec<String> {
    Cli::command().get_subcommands().map(|c| c.get_name().to_string()).collect()
}

/// Names of the shipped binary's subcommands (what `target/debug/xtask` offers).
pub fn shipped_command_names() -> Vec<String> {
    <xtask::cli::Cli>::command().get_subcommands().map(|c| c.get_name().to_string()).collect()
}

/// The `cargo xtask NAME` (or built `target/debug/xtask NAME`) invocations in a piece of shell.
fn xtask_invocations(script: &str) -> Vec<String> {
    invocations(script, &["cargo xtask ", "target/debug/xtask "])
}

/// The `target/debug/xtask NAME` invocations: the shipped binary, built by `cargo build -p xtask`.
fn shipped_invocations(script: &str) -> Vec<String> {
    invocations(script, &["target/debug/xtask "])
}

fn invocations(script: &str, prefixes: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in prefixes {
        let mut rest = script;
        while let Some(at) = rest.find(prefix) {
            rest = &rest[at + prefix.len()..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
            found.push(name);
        }
    }
    found
}

/// A full commit SHA: the only `uses:` reference that cannot be moved under us.
fn is_commit_sha(reference: &str) -> bool {
    reference.len() == 40 && reference.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Every problem found in one workflow file (empty when it is fine).
pub fn check_workflow(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: Value = serde_yaml::from_str(&text).with_context(|| format!("{} is not valid YAML", path.display()))?;
    let commands = command_names();
    let shipped = shipped_command_names();
    let mut problems = Vec::new();
    let Some(jobs) = doc.get("jobs").and_then(Value::as_mapping) else {
        bail!("{} has no `jobs`", path.display());
    };
    if doc.get("on").is_none() {
        problems.push("no `on:` trigger".to_string());
    }
    for (job_name, job) in jobs {
        let job_name = job_name.as_str().unwrap_or("?");
        let steps = job.get("steps").and_then(Value::as_sequence).cloned().unwrap_or_default();
        if steps.is_empty() {
            problems.push(format!("job `{job_name}` has no steps"));
        }
        for step in steps {
            if let Some(uses) = step.get("uses").and_then(Value::as_str) {
                match uses.split_once('@') {
                    Some((_, reference)) if is_commit_sha(reference) => {}
                    _ => problems.push(format!("job `{job_name}`: action `{uses}` is not pinned to a full commit SHA")),
                }
            }
            if let Some(run) = step.get("run").and_then(Value::as_str) {
                for name in xtask_invocations(run) {
                    if !commands.contains(&name) {
                        problems.push(format!("job `{job_name}`: `cargo xtask {name}` is not a command"));
                    }
                }
                for name in shipped_invocations(run).into_iter().filter(|name| !shipped.contains(name)) {
                    problems.push(format!("job `{job_name}`: the shipped `target/debug/xtask` has no `{name}`"));
                }
                if run.contains("${{") {
                    problems.push(format!("job `{job_name}`: expression inside `run:` (script injection risk)"));
                }
            }
        }
    }
    Ok(problems)
}

/// The source folders whose every file ARCHITECTURE.md names.
pub const SOURCE_DIRS: [&str; 3] = ["operator/src", "xtask/src", "xtask-dev/src"];

/// Every `.rs` file under `dir` (relative to `root`, `/`-separated), sorted.
fn rust_files(root: &Path, dir: &str) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_string()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(root.join(&dir)).with_context(|| format!("listing {dir}"))?;
        for entry in entries {
            let entry = entry?;
            let path = format!("{dir}/{}", entry.file_name().to_string_lossy());
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else if path.ends_with(".rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// What only the reporter (`xtask/src/logging.rs`) may use to reach the user.
/// (Each spelled in two pieces, so this file's own list never matches.)
const PRINTERS: [&str; 7] = [
    concat!("print", "ln!("),
    concat!("eprint", "ln!("),
    concat!("print", "!("),
    concat!("eprint", "!("),
    concat!("io::std", "out()"),
    concat!("io::std", "err()"),
    concat!("indicatif", "::"),
];

/// Every line of code (tests and comments aside) under [`SOURCE_DIRS`] that prints or
/// draws on its own instead of through `xtask/src/logging.rs`, the one reporter.
pub fn printing_outside_the_reporter(root: &Path) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for dir in SOURCE_DIRS {
        for file in rust_files(root, dir)? {
            if file == "xtask/src/logging.rs" || file.ends_with("/tests.rs") || file.starts_with("operator/") {
                continue;
            }
            let text = std::fs::read_to_string(root.join(&file)).with_context(|| format!("reading {file}"))?;
            for (number, line) in text.lines().take_while(|line| !line.starts_with("#[cfg(test)]")).enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if let Some(printer) = PRINTERS.iter().find(|printer| {
                    code.match_indices(*printer).any(|(at, _)| {
                        // `eprintln!(` contains `println!(`: a printer counts where no name goes on before it.
                        !code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                    })
                }) {
                    found.push(format!("{file}:{}: {printer}", number + 1));
                }
            }
        }
    }
    Ok(found)
}

/// A room of one purpose stays small enough to read: no source file longer than this
/// before its `#[cfg(test)]` tests.
pub const MAX_LINES_BEFORE_TESTS: usize = 600;

/// Every source file under [`SOURCE_DIRS`] longer than [`MAX_LINES_BEFORE_TESTS`] lines
/// before its first `#[cfg(test)]`, with its count.
pub fn oversized_files(root: &Path) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for dir in SOURCE_DIRS {
        for file in rust_files(root, dir)? {
            let text = std::fs::read_to_string(root.join(&file)).with_context(|| format!("reading {file}"))?;
            let lines = text.lines().take_while(|line| !line.starts_with("#[cfg(test)]")).count();
            if lines > MAX_LINES_BEFORE_TESTS {
                found.push(format!("{file}: {lines} lines before its tests (at most {MAX_LINES_BEFORE_TESTS})"));
            }
        }
    }
    Ok(found)
}

/// What ARCHITECTURE.md (`doc`) gets wrong about the source files under `root`: a file it
/// does not name, or a file it names that does not exist. A file is named by its path in
/// backticks (`xtask/src/ctx.rs`), or by its name in backticks (`fast.rs`) in the section
/// headed by its folder (`` ### `xtask/src/index/` ``), whose `mod.rs` the heading itself
/// names.
pub fn architecture_problems(root: &Path, doc: &str) -> Result<Vec<String>> {
    // (folder heading, section text) of every `### `…/`` section.
    let mut sections: Vec<(&str, &str)> = Vec::new();
    for part in doc.split("\n### `").skip(1) {
        let Some((heading, body)) = part.split_once('`') else { continue };
        let body = body.split("\n## ").next().unwrap_or(body);
        sections.push((heading, body));
    }
    let named_in_section = |folder: &str, name: &str| {
        sections.iter().any(|(heading, body)| {
            *heading == format!("{folder}/") && (name == "mod.rs" || body.contains(&format!("`{name}`")))
        })
    };
    let mut problems = Vec::new();
    for dir in SOURCE_DIRS {
        for file in rust_files(root, dir)? {
            let (folder, name) = file.rsplit_once('/').unwrap_or(("", &file));
            if !doc.contains(&format!("`{file}`")) && !named_in_section(folder, name) {
                problems.push(format!("ARCHITECTURE.md does not name {file}"));
            }
        }
    }
    // The other way round: every file it names exists.
    for (heading, body) in &sections {
        for name in backticked(body).filter(|name| name.ends_with(".rs") && !name.contains('/')) {
            if heading.ends_with('/') && !root.join(heading).join(name).is_file() {
                problems.push(format!("ARCHITECTURE.md names {name} under {heading}, which has no such file"));
            }
        }
    }
    for path in backticked(doc).filter(|path| path.ends_with(".rs") && path.contains('/')) {
        let exists = [".", "xtask/src", "xtask-dev/src"].iter().any(|base| root.join(base).join(path).is_file());
        if !exists {
            problems.push(format!("ARCHITECTURE.md names {path}, which does not exist"));
        }
    }
    Ok(problems)
}

/// The project root's parent folder (spelled in two pieces, so this file never matches).
const PARENT_OF_ROOT: &str = concat!("project_root()", ".parent()");

/// Calls whose string argument is a path that is read (or joined onto one that is).
const PATH_READERS: [&str; 7] =
    ["join(", "Path::new(", "PathBuf::from(", "include_str!(", "include_bytes!(", "read_to_string(", "fs::read("];

/// Every place in the repository's own files (Rust sources, Cargo manifests, the CI
/// entry point and the workflows; not `target/`, `.git/` or `testdata/`) that reaches
/// a path outside the repository: `join("..")`, a `"../…"` path handed to a reader, an
/// `include_str!` or a Cargo `path =` that resolves above the root, `project_root().parent()`,
/// or `../` in a script. A clone anywhere must pass its tests: what they read lives inside.
pub fn climbing_paths(root: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_dir() {
                let skipped = ["target", "testdata", "node_modules", "dist"].contains(&name.as_str())
                    || (name.starts_with('.') && ![".github", ".ci", ".cargo", "workflows"].contains(&name.as_str()));
                if !skipped {
                    pending.push(path);
                }
                continue;
            }
            let relative = path.strip_prefix(root).unwrap_or(&path).display().to_string();
            let kind = if name.ends_with(".rs") {
                FileKind::Rust
            } else if name == "Cargo.toml" {
                FileKind::Manifest
            } else if name.ends_with(".yml") || name.ends_with(".toml") || relative.starts_with(".ci/") {
                FileKind::Script
            } else {
                continue;
            };
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {relative}"))?;
            let base = path.parent().unwrap_or(root);
            for (number, line) in text.lines().enumerate() {
                let trimmed = line.trim_start();
                if trimmed.starts_with("//") || trimmed.starts_with('#') {
                    continue;
                }
                let at = format!("{relative}:{}", number + 1);
                match kind {
                    FileKind::Rust => {
                        problems.extend(climbing_in_rust(line, base, root).map(|why| format!("{at}: {why}")));
                    }
                    FileKind::Manifest => {
                        if let Some(target) = line.split_once("path = \"").and_then(|(_, rest)| rest.split_once('"'))
                            && !inside(root, &base.join(target.0))
                        {
                            problems.push(format!("{at}: path = \"{}\" is outside the repository", target.0));
                        }
                    }
                    FileKind::Script => {
                        if line.contains("../") {
                            problems.push(format!("{at}: `../` climbs out of the folder"));
                        }
                    }
                }
            }
        }
    }
    problems.sort();
    Ok(problems)
}

#[derive(Clone, Copy)]
enum FileKind {
    Rust,
    Manifest,
    Script,
}

/// Why one line of Rust reaches outside the repository, for each way it does.
fn climbing_in_rust<'a>(line: &'a str, base: &'a Path, root: &'a Path) -> impl Iterator<Item = String> + 'a {
    let parent = line.contains(PARENT_OF_ROOT).then(|| "the parent of the project root".to_string());
    let readers = PATH_READERS.iter().flat_map(move |reader| {
        line.match_indices(reader).filter_map(move |(at, _)| {
            let literal = line[at + reader.len()..].strip_prefix('"')?.split('"').next()?;
            if literal != ".." && !literal.starts_with("../") {
                return None;
            }
            let outside = if reader.starts_with("include_") { !inside(root, &base.join(literal)) } else { true };
            outside.then(|| format!("{reader}\"{literal}\") reads above its folder"))
        })
    });
    parent.into_iter().chain(readers)
}

/// Whether `path` (possibly with `..` in it) stays under `root`, judged lexically.
fn inside(root: &Path, path: &Path) -> bool {
    let mut parts: Vec<std::path::Component> = Vec::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::CurDir => {}
            other => parts.push(other),
        }
    }
    parts.iter().collect::<std::path::PathBuf>().starts_with(root)
}

/// The `code spans` of a Markdown text.
fn backticked(text: &str) -> impl Iterator<Item = &str> {
    text.split('`').skip(1).step_by(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::docs;
    use xtask::project::project_root;

    fn workflow(name: &str) -> std::path::PathBuf {
        project_root().join(".github").join("workflows").join(name)
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
    }

    /// The reference `cargo xtask docs` writes, from today's definitions.
    fn generated_reference(cli: clap::Command) -> String {
        docs::reference(cli, &<xtask::cli::Cli>::command())
    }

    /// docs/commands.md is exactly what `cargo xtask docs` writes (`cargo xtask docs --check`).
    #[test]
    fn command_reference_is_generated_from_the_definitions() {
        let path = project_root().join(docs::REFERENCE);
        if let Err(err) = docs::check(&path, &generated_reference(Cli::command())) {
            panic!("{err:#}");
        }
    }

    /// The check fails on a copy edited by hand and on a definition changed without
    /// regenerating, naming the file and the fix.
    #[test]
    fn command_reference_check_catches_a_stale_copy() {
        let generated = generated_reference(Cli::command());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("commands.md");
        std::fs::write(&path, generated.replacen("`--sign-existing`", "`--sign-all`", 1)).unwrap();
        let err = docs::check(&path, &generated).unwrap_err().to_string();
        assert!(err.contains("commands.md is stale") && err.contains("--sign-all"), "{err}");
        assert!(err.ends_with("run `cargo xtask docs`"), "{err}");
        std::fs::write(&path, &generated).unwrap();
        docs::check(&path, &generated).unwrap();
        let changed = Cli::command().mut_subcommand("serve", |serve| serve.long_about("Elsewhere"));
        let err = docs::check(&path, &generated_reference(changed)).unwrap_err().to_string();
        assert!(err.contains("Elsewhere") && err.contains("run `cargo xtask docs`"), "{err}");
    }

    /// Every command has its section in docs/commands.md and every flag `--help` lists
    /// appears in it (true by construction; cheap to keep true).
    #[test]
    fn command_reference_documents_every_command_and_flag() {
        let reference = read(&project_root().join(docs::REFERENCE));
        let mut missing = Vec::new();
        for command in Cli::command().get_subcommands() {
            let name = command.get_name();
            let heading = format!("\n### `cargo xtask {name}`\n");
            let Some(start) = reference.find(&heading) else {
                missing.push(format!("a section on `cargo xtask {name}`"));
                continue;
            };
            let rest = &reference[start + heading.len()..];
            let section =
                &rest[..rest.find("\n## ").into_iter().chain(rest.find("\n### ")).min().unwrap_or(rest.len())];
            for arg in command.get_arguments().filter(|arg| !arg.is_hide_set()) {
                if let Some(long) = arg.get_long()
                    && !section.contains(&format!("`--{long}"))
                {
                    missing.push(format!("{name} --{long}"));
                }
            }
        }
        assert!(missing.is_empty(), "{} lacks: {missing:?}", docs::REFERENCE);
    }

    /// No terminal width and no colour reaches the reference.
    #[test]
    fn command_reference_does_not_depend_on_the_terminal() {
        let narrow = generated_reference(Cli::command().term_width(20));
        let wide = generated_reference(Cli::command().term_width(400).max_term_width(400));
        assert_eq!(narrow, wide);
        assert!(!narrow.contains('\x1b'), "ANSI escapes in the reference");
    }

    /// A Markdown section: from its heading line to the next heading of the same or a
    /// higher level (lines in fenced code blocks are not headings).
    fn markdown_section<'a>(text: &'a str, heading: &str) -> Option<&'a str> {
        let level = heading.chars().take_while(|&c| c == '#').count();
        let (mut offset, mut start, mut fenced) = (0, None, false);
        for line in text.split_inclusive('\n') {
            let bare = line.trim_end();
            fenced ^= bare.starts_with("```");
            let hashes = bare.chars().take_while(|&c| c == '#').count();
            let is_heading = !fenced && hashes > 0 && bare[hashes..].starts_with(' ');
            match start {
                None if bare == heading => start = Some(offset),
                Some(from) if is_heading && hashes <= level => return Some(&text[from..offset]),
                _ => {}
            }
            offset += line.len();
        }
        start.map(|from| &text[from..])
    }

    /// GitHub's anchor of a Markdown heading: lower case, code and punctuation marks
    /// dropped, spaces as hyphens.
    fn anchor(heading: &str) -> String {
        heading
            .trim_start_matches('#')
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
            .map(|c| if c == ' ' { '-' } else { c })
            .collect()
    }

    /// The README tells the story and links to the generated reference instead of keeping
    /// a copy: no `cargo xtask NAME` section of its own, and every link into
    /// docs/commands.md (from README.md or ARCHITECTURE.md) lands on a heading there.
    #[test]
    fn readme_links_to_the_generated_reference_instead_of_copying_it() {
        let readme = read(&project_root().join("README.md"));
        let copies: Vec<&str> = readme.lines().filter(|line| line.starts_with("### `cargo xtask")).collect();
        assert!(copies.is_empty(), "README.md keeps its own command reference: {copies:?}");
        assert!(readme.contains(&format!("]({})", docs::REFERENCE)), "README.md does not link to {}", docs::REFERENCE);
        let reference = read(&project_root().join(docs::REFERENCE));
        let anchors: Vec<String> = reference.lines().filter(|line| line.starts_with('#')).map(anchor).collect();
        let mut broken = Vec::new();
        for doc in ["README.md", "ARCHITECTURE.md"] {
            let text = read(&project_root().join(doc));
            for (at, link) in text.match_indices(&format!("{}#", docs::REFERENCE)) {
                let rest = &text[at + link.len()..];
                let target: String =
                    rest.chars().take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_').collect();
                if !anchors.contains(&target) {
                    broken.push(format!("{doc}: {}#{target}", docs::REFERENCE));
                }
            }
        }
        assert!(broken.is_empty(), "links to headings that do not exist: {broken:?}");
        assert!(anchors.iter().any(|anchor| anchor == "cargo-xtask-release-chart"), "{anchors:?}");
    }

    #[test]
    fn readme_states_the_real_requirements() {
        let readme = read(&project_root().join("README.md"));
        let manifest: toml::Table = read(&project_root().join("Cargo.toml")).parse().unwrap();
        let package = &manifest["workspace"]["package"];
        let rust = package["rust-version"].as_str().unwrap();
        let edition = package["edition"].as_str().unwrap();
        let quick_start = markdown_section(&readme, "## Quick start").expect("README.md has a quick start");
        for needed in [format!("Rust {rust}"), format!("edition {edition}"), "rustup".into(), "GB".into()] {
            assert!(quick_start.contains(&needed), "the quick start's requirements do not say {needed:?}");
        }
        for tool in ["Python 3", "venv", "Node.js", "npm"] {
            assert!(quick_start.contains(tool), "the quick start's requirements do not name {tool}");
        }
    }

    fn long_help(name: &str) -> String {
        let mut cli = Cli::command();
        cli.build();
        cli.find_subcommand_mut(name).unwrap_or_else(|| panic!("no command {name}")).render_long_help().to_string()
    }

    #[test]
    fn help_texts_say_what_the_commands_do() {
        let test = long_help("test");
        assert!(test.contains("actionlint") && test.contains("KUBE9_ACTIONLINT"), "{test}");
        let iam = long_help("iam-policy");
        assert!(iam.contains("deploy, plan and release"), "{iam}");
        let bench = long_help("bench-index");
        assert!(bench.contains("[default: 1000,10000,15000]"), "the default as it is typed:\n{bench}");
        let sync = long_help("sync-version");
        assert!(sync.contains("rewritten") && !sync.contains("Chart.yaml to compare"), "{sync}");
        let package = long_help("package-chart");
        assert!(package.contains("100 MiB"), "{package}");
        // The long help replaces the summary instead of repeating it under another wording.
        for command in Cli::command().get_subcommands() {
            assert!(command.get_before_long_help().is_none(), "{}: use long_about", command.get_name());
            let help = long_help(command.get_name());
            if let Some(about) = command.get_about().map(std::string::ToString::to_string) {
                assert!(help.matches(about.as_str()).count() <= 1, "{}: summary repeated:\n{help}", command.get_name());
            }
        }
    }

    #[test]
    fn version_and_the_help_subcommand_work_as_in_other_clap_tools() {
        use clap::Parser;
        let version = Cli::try_parse_from(["cargo xtask", "--version"]).unwrap_err();
        assert_eq!(version.kind(), clap::error::ErrorKind::DisplayVersion);
        assert!(version.to_string().contains(env!("CARGO_PKG_VERSION")), "{version}");
        let help = Cli::try_parse_from(["cargo xtask", "help", "serve"]).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
        assert!(help.to_string().contains("--addr"), "{help}");
    }

    /// One reporter: results, progress, warnings and errors reach the user only through
    /// `xtask/src/logging.rs` (the operator, a service with its own JSON logs, aside).
    #[test]
    fn nothing_prints_outside_the_reporter() {
        let found = printing_outside_the_reporter(&project_root()).unwrap();
        assert!(
            found.is_empty(),
            "print through xtask::logging (outln!, out!, tracing, Spinner):\n{}",
            found.join("\n")
        );
        let dir = tempfile::tempdir().unwrap();
        for sub in ["operator/src", "xtask-dev/src"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("xtask/src")).unwrap();
        std::fs::write(
            dir.path().join("xtask/src/a.rs"),
            "fn a() {\n    eprintln!(\"x\");\n    // println!(\"in a comment\")\n    crate::outln!(\"fine\");\n}\n\
             fn b() { let _ = std::io::stdout(); }\n#[cfg(test)]\nmod tests { fn t() { println!(\"tests may\"); } }\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("xtask/src/logging.rs"), "fn p() { println!(\"the reporter may\"); }\n")
            .unwrap();
        assert_eq!(
            printing_outside_the_reporter(dir.path()).unwrap(),
            ["xtask/src/a.rs:2: eprintln!(", "xtask/src/a.rs:6: io::stdout()"]
        );
    }

    #[test]
    fn no_source_file_is_over_600_lines_before_its_tests() {
        let found = oversized_files(&project_root()).unwrap();
        assert!(found.is_empty(), "split these rooms by purpose:\n{}", found.join("\n"));
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("xtask/src")).unwrap();
        for other in ["operator/src", "xtask-dev/src"] {
            std::fs::create_dir_all(dir.path().join(other)).unwrap();
        }
        let long = "fn f() {}\n".repeat(MAX_LINES_BEFORE_TESTS + 1);
        std::fs::write(dir.path().join("xtask/src/long.rs"), &long).unwrap();
        std::fs::write(dir.path().join("xtask/src/tested.rs"), format!("fn f() {{}}\n#[cfg(test)]\n{long}")).unwrap();
        assert_eq!(
            oversized_files(dir.path()).unwrap(),
            ["xtask/src/long.rs: 601 lines before its tests (at most 600)"]
        );
    }

    #[test]
    fn architecture_names_every_source_file_and_only_files_that_exist() {
        let root = project_root();
        let problems = architecture_problems(&root, &read(&root.join("ARCHITECTURE.md"))).unwrap();
        assert!(problems.is_empty(), "ARCHITECTURE.md's code map is out of date:\n{}", problems.join("\n"));
    }

    #[test]
    fn architecture_check_catches_a_missing_and_an_invented_file() {
        let root = project_root();
        let doc = read(&root.join("ARCHITECTURE.md"));
        let without_fast = doc.replace("`fast.rs`", "the fast parser");
        let problems = architecture_problems(&root, &without_fast).unwrap();
        assert_eq!(problems, ["ARCHITECTURE.md does not name xtask/src/index/fast.rs"]);
        let invented = doc.replace("`fast.rs`", "`fast.rs`, `faster.rs`, `xtask/src/nowhere.rs`");
        let problems = architecture_problems(&root, &invented).unwrap();
        assert_eq!(
            problems,
            [
                "ARCHITECTURE.md names faster.rs under xtask/src/index/, which has no such file",
                "ARCHITECTURE.md names xtask/src/nowhere.rs, which does not exist"
            ]
        );
    }

    /// Nothing the code, the tests, the benchmarks or CI read lies outside the repository.
    #[test]
    fn no_path_climbs_out_of_the_repository() {
        let problems = climbing_paths(&project_root()).unwrap();
        assert!(problems.is_empty(), "paths that leave the repository:\n{}", problems.join("\n"));
    }

    #[test]
    fn climbing_path_check_catches_each_way_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join("crate/src/data")).unwrap();
        std::fs::create_dir_all(root.join(".ci")).unwrap();
        std::fs::write(
            root.join("crate/src/lib.rs"),
            format!(
                "const A: &str = include_str!(\"data/a.txt\");\n\
                 const B: &str = include_str!(\"../../../elsewhere.txt\");\n\
                 fn f() {{ project_root().join(\"..\").join(\"shared\"); }}\n\
                 fn g() {{ std::fs::read_to_string(\"../x\"); let _ = {PARENT_OF_ROOT}; }}\n\
                 // project_root().join(\"..\") in a comment is no read\n\
                 fn h() {{ assert!(clean(\"../x\").is_err()); }}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            root.join("crate/Cargo.toml"),
            "[dependencies]\nmine = { path = \"../mine\" }\nfar = { path = \"../../far\" }\n",
        )
        .unwrap();
        std::fs::write(root.join(".ci/run"), "cd \"$(dirname \"$0\")/..\"\ncp -r ../elsewhere/data .\n").unwrap();
        let problems = climbing_paths(&root).unwrap();
        assert_eq!(
            problems,
            [
                ".ci/run:2: `../` climbs out of the folder",
                "crate/Cargo.toml:3: path = \"../../far\" is outside the repository",
                "crate/src/lib.rs:2: include_str!(\"../../../elsewhere.txt\") reads above its folder",
                "crate/src/lib.rs:3: join(\"..\") reads above its folder",
                "crate/src/lib.rs:4: read_to_string(\"../x\") reads above its folder",
                "crate/src/lib.rs:4: the parent of the project root",
            ]
        );
    }

    /// The command-line definitions import the commands, never the other way round.
    #[test]
    fn no_command_imports_the_command_line() {
        let mut offenders = Vec::new();
        for dir in ["xtask/src/commands", "xtask-dev/src/commands"] {
            for entry in std::fs::read_dir(project_root().join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if read(&path).lines().any(|line| line.contains("cli::") && !line.trim_start().starts_with("//")) {
                    offenders.push(path.display().to_string());
                }
            }
        }
        assert!(offenders.is_empty(), "commands that import cli.rs (take what they need from ctx.rs): {offenders:?}");
    }

    #[test]
    fn workflows_parse_pin_actions_and_call_real_commands() {
        let dir = project_root().join(".github").join("workflows");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "yml" || ext == "yaml") {
                seen += 1;
                let problems = check_workflow(&path).unwrap();
                assert!(problems.is_empty(), "{}: {problems:#?}", path.display());
            }
        }
        assert_eq!(seen, 4, "expected ci.yml, release-chart.yml, deploy-infra.yml and watch-repo.yml");
    }

    #[test]
    fn workflow_check_catches_problems() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.yml");
        std::fs::write(
            &path,
            "on: push\njobs:\n  a:\n    steps:\n      - uses: actions/checkout\n      - uses: x/y@main\n      - run: cargo xtask relase-chart\n      - run: echo ${{ inputs.tag }}\n      - run: target/debug/xtask test\n",
        )
        .unwrap();
        let problems = check_workflow(&path).unwrap();
        assert_eq!(problems.len(), 5, "{problems:#?}");
        assert!(problems[4].contains("shipped `target/debug/xtask` has no `test`"), "{problems:#?}");
    }

    #[test]
    fn release_workflow_publishes_and_never_deploys() {
        let text = read(&workflow("release-chart.yml"));
        let doc: Value = serde_yaml::from_str(&text).unwrap();
        assert!(!text.contains("deploy-infra"), "release-chart.yml must not run deploy-infra");
        let steps = format!("{:?}", doc["jobs"]);
        for needed in ["xtask release-chart", "xtask verify-repo", "aws-actions/configure-aws-credentials@"] {
            assert!(steps.contains(needed), "release-chart.yml lacks {needed}");
        }
        assert!(!text.contains("aws-access-key-id"), "release must use OIDC, not long-lived keys");
        assert_eq!(doc["jobs"]["publish"]["permissions"]["id-token"].as_str(), Some("write"));
        assert_eq!(doc["concurrency"]["cancel-in-progress"].as_bool(), Some(false));
        let on = &doc["on"];
        assert!(on["release"]["types"].as_sequence().unwrap().iter().any(|t| t.as_str() == Some("published")));
        assert!(on["workflow_dispatch"]["inputs"]["tag"].is_mapping());
    }

    #[test]
    fn deploy_workflow_plans_on_pull_requests_and_applies_on_main() {
        let text = read(&workflow("deploy-infra.yml"));
        let doc: Value = serde_yaml::from_str(&text).unwrap();
        assert!(text.contains("target/debug/xtask deploy-infra --dry-run"));
        // Plan and apply never share a concurrency group; apply is never cancelled mid-run.
        let (plan, apply) = (&doc["jobs"]["plan"]["concurrency"], &doc["jobs"]["apply"]["concurrency"]);
        assert!(plan["group"].as_str().is_some() && apply["group"].as_str().is_some());
        assert_ne!(plan["group"], apply["group"]);
        assert_eq!(apply["cancel-in-progress"].as_bool(), Some(false));
        for job in ["plan", "apply"] {
            assert_eq!(doc["jobs"][job]["permissions"]["id-token"].as_str(), Some("write"), "{job}");
        }
        assert!(
            doc["on"]["push"]["paths"]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|p| p.as_str() == Some("charts/repository.toml"))
        );
        assert!(!text.contains("aws-access-key-id"));
    }

    #[test]
    fn trust_policies_readme_and_workflows_agree() {
        let workflows = project_root().join(".github").join("workflows");
        let subjects = xtask::infra::trust::subjects(&workflows, xtask::infra::trust::GITHUB_REPOSITORY).unwrap();
        let readme = read(&project_root().join("README.md"));
        for (role, sub) in &subjects {
            assert!(readme.contains(&format!("`{sub}`")), "README does not name the {role} role's OIDC sub `{sub}`");
        }
        assert_eq!(subjects.iter().map(|(role, _)| *role).collect::<Vec<_>>(), ["release", "deploy", "plan"]);
        assert!(subjects[0].1.ends_with(":environment:charts-release"), "{subjects:?}");
        assert!(subjects[1].1.ends_with(":environment:charts-infra"), "{subjects:?}");
        // The plan job runs on pull requests and has no environment (its sub is `…:pull_request`).
        let deploy: Value = serde_yaml::from_str(&read(&workflow("deploy-infra.yml"))).unwrap();
        assert!(deploy["jobs"]["plan"].get("environment").is_none());
        assert_eq!(deploy["jobs"]["plan"]["if"].as_str(), Some("github.event_name == 'pull_request'"));
        let policy = xtask::infra::trust::trust_policy("123456789012", &subjects[0].1);
        let condition = &policy["Statement"][0]["Condition"]["StringEquals"];
        assert_eq!(condition["token.actions.githubusercontent.com:aud"], "sts.amazonaws.com");
        assert_eq!(condition["token.actions.githubusercontent.com:sub"], subjects[0].1.as_str());
    }

    #[test]
    fn every_action_is_pinned_to_a_commit_and_dependabot_updates_them() {
        assert!(is_commit_sha("11d5960a326750d5838078e36cf38b85af677262"));
        assert!(!is_commit_sha("v4") && !is_commit_sha("11d5960a"));
        let dependabot = read(&project_root().join(".github").join("dependabot.yml"));
        assert!(dependabot.contains("package-ecosystem: github-actions"), "{dependabot}");
        for entry in std::fs::read_dir(project_root().join(".github").join("workflows")).unwrap() {
            let text = read(&entry.unwrap().path());
            for line in
                text.lines().filter(|l| l.trim_start().starts_with("- uses:") || l.trim_start().starts_with("uses:"))
            {
                assert!(line.contains(" # v") || line.contains(" # stable"), "no tag comment on `{line}`");
            }
        }
    }

    /// A job that holds a role (`id-token: write`), an environment's secrets, any secret or
    /// a token with any write permission builds from the locked sources alone: it restores
    /// no cache another job could have written. No workflow grants `id-token: write` to all
    /// its jobs.
    #[test]
    fn no_job_that_holds_a_role_or_a_secret_restores_a_cache() {
        let mut privileged = 0;
        for entry in std::fs::read_dir(project_root().join(".github").join("workflows")).unwrap() {
            let path = entry.unwrap().path();
            let text = read(&path);
            let doc: Value = serde_yaml::from_str(&text).unwrap();
            assert!(doc["permissions"].get("id-token").is_none(), "{}: id-token: write for every job", path.display());
            for (name, job) in doc["jobs"].as_mapping().unwrap() {
                let writes = job["permissions"]
                    .as_mapping()
                    .is_some_and(|permissions| permissions.values().any(|level| level.as_str() == Some("write")));
                let holds = job["permissions"].get("id-token").is_some()
                    || writes
                    || job.get("environment").is_some()
                    || serde_yaml::to_string(job).unwrap().contains("secrets.");
                if !holds {
                    continue;
                }
                privileged += 1;
                for step in job["steps"].as_sequence().unwrap() {
                    let uses = step["uses"].as_str().unwrap_or("");
                    assert!(
                        !uses.contains("cache"),
                        "{}: job {name:?} holds a role or a secret and restores a cache ({uses})",
                        path.display()
                    );
                }
            }
        }
        assert_eq!(
            privileged, 5,
            "release-chart's publish and watch, deploy-infra's plan and apply, watch-repo's verify"
        );
    }

    /// The watch (watch-repo.yml): verify-repo daily and after every release, one issue kept
    /// by the script the test in `xtask/tests/workflows.rs` drives; the token reads the code
    /// and writes issues, nothing else; no AWS. The release starts it by a workflow_dispatch
    /// from a job that holds that right alone.
    #[test]
    fn watch_workflow_verifies_daily_and_after_each_release_with_issues_write_only() {
        let text = read(&workflow("watch-repo.yml"));
        let doc: Value = serde_yaml::from_str(&text).unwrap();
        let on = &doc["on"];
        let cron = on["schedule"][0]["cron"].as_str().expect("a schedule");
        let fields: Vec<&str> = cron.split_whitespace().collect();
        assert!(fields.len() == 5 && fields[2..] == ["*", "*", "*"], "daily: {cron}");
        assert!(on.get("workflow_dispatch").is_some(), "the release starts it by a workflow_dispatch");
        for dangerous in ["workflow_run", "pull_request_target", "pull_request", "push"] {
            assert!(on.get(dangerous).is_none(), "watch-repo.yml runs on {dangerous}");
        }
        let read_only: Value = serde_yaml::from_str("contents: read").unwrap();
        assert_eq!(doc["permissions"], read_only);
        let issues: Value = serde_yaml::from_str("contents: read\nissues: write").unwrap();
        let jobs = doc["jobs"].as_mapping().unwrap();
        for (name, job) in jobs {
            assert_eq!(job["permissions"], issues, "job {name:?}: contents: read and issues: write only");
        }
        let definition = serde_yaml::to_string(&doc).unwrap(); // without the comments
        for credential in ["aws", "AWS", "secrets.", "id-token", "environment:"] {
            assert!(!definition.contains(credential), "watch-repo.yml names {credential}: verify-repo is anonymous");
        }
        let steps = format!("{:?}", doc["jobs"]);
        for needed in ["target/debug/xtask verify-repo", ".github/scripts/watch-issue.sh", "GH_TOKEN", "GH_REPO"] {
            assert!(steps.contains(needed), "watch-repo.yml lacks {needed}");
        }
        let script = project_root().join(".github").join("scripts").join("watch-issue.sh");
        let mode = std::fs::metadata(&script).unwrap().permissions();
        assert!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o111 != 0, "{} is not executable", script.display());

        let release: Value = serde_yaml::from_str(&read(&workflow("release-chart.yml"))).unwrap();
        let watch = &release["jobs"]["watch"];
        assert_eq!(watch["needs"].as_str(), Some("publish"));
        assert!(watch["if"].as_str().is_some_and(|c| c.contains("!cancelled()")), "also after a failed publish");
        assert_eq!(watch["permissions"], serde_yaml::from_str::<Value>("actions: write").unwrap());
        let run = watch["steps"][0]["run"].as_str().unwrap();
        assert!(run.starts_with("gh workflow run watch-repo.yml "), "{run}");
        assert_eq!(watch["steps"].as_sequence().unwrap().len(), 1, "the dispatch alone: no checkout, no build");
    }

    /// The release pushes to one OCI repository, and the watch checks that one.
    #[test]
    fn the_release_and_the_watch_name_one_oci_repository() {
        let oci = |file: &str, job: &str| {
            let doc: Value = serde_yaml::from_str(&read(&workflow(file))).unwrap();
            let repository = doc["jobs"][job]["env"]["OCI_REPOSITORY"].as_str().map(str::to_string);
            let repository = repository.unwrap_or_else(|| panic!("{file}: job {job} has no OCI_REPOSITORY"));
            xtask::layout::OciRepository::parse(&repository).unwrap_or_else(|err| panic!("{file}: {err}"));
            let steps = doc["jobs"][job]["steps"].as_sequence().unwrap();
            let passes = steps
                .iter()
                .filter_map(|step| step["run"].as_str())
                .any(|run| run.contains("target/debug/xtask ") && run.contains("--oci \"$OCI_REPOSITORY\""));
            assert!(passes, "{file}: no xtask step passes --oci \"$OCI_REPOSITORY\"");
            repository
        };
        assert_eq!(oci("release-chart.yml", "publish"), oci("watch-repo.yml", "verify"));
        let release = read(&workflow("release-chart.yml"));
        assert!(release.contains("packages: write"), "the release job pushes to ghcr.io with GITHUB_TOKEN");
    }

    #[test]
    fn ci_workflow_runs_the_readme_test_command() {
        let text = read(&workflow("ci.yml"));
        for needed in ["cargo fmt --all -- --check", "cargo clippy --all-targets -- -D warnings", "cargo xtask test"] {
            assert!(text.contains(needed), "ci.yml lacks `{needed}`");
        }
        let ci_run = read(&project_root().join(".ci").join("run"));
        assert!(ci_run.contains("cargo xtask test"), ".ci/run must run the README's test command");
    }

    #[test]
    fn release_workflow_signs_with_a_secret_and_attests_each_package() {
        let text = read(&workflow("release-chart.yml"));
        let doc: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(doc["jobs"]["publish"]["permissions"]["attestations"].as_str(), Some("write"));
        let steps = doc["jobs"]["publish"]["steps"].as_sequence().unwrap();
        let release = steps
            .iter()
            .find(|s| s["run"].as_str().is_some_and(|run| run.contains("xtask release-chart")))
            .expect("a step runs release-chart");
        assert_eq!(release["env"]["KUBE9_SIGNING_KEY"].as_str(), Some("${{ secrets.KUBE9_SIGNING_KEY }}"));
        let attest = steps
            .iter()
            .filter_map(|s| s["uses"].as_str())
            .find(|u| u.starts_with("actions/attest-build-provenance@"))
            .expect("release-chart.yml attests the packages");
        let sha = attest.split_once('@').unwrap().1;
        assert!(sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()), "pin {attest} by commit SHA");
    }

    /// The chart's Artifact Hub `signKey` and the configured signing key agree; both absent
    /// means signing is not configured yet (README: "Signed releases").
    #[test]
    fn chart_sign_key_annotation_agrees_with_the_configured_key() {
        let config = xtask::config::RepoConfig::load(&xtask::project::default_config_path()).unwrap();
        let chart_yaml = std::fs::read(xtask::project::operator_chart_dir().join("Chart.yaml")).unwrap();
        let chart = xtask::chart::ChartMetadata::from_chart_yaml(&chart_yaml).unwrap();
        let annotation = xtask::provenance::sign_key_annotation(&chart).unwrap();
        match (&config.signing, &annotation) {
            (None, None) => {}
            (Some(signing), Some(annotation)) => {
                let configured = xtask::layout::normalize_fingerprint(&signing.fingerprint);
                assert_eq!(annotation.fingerprint, configured, "Chart.yaml signKey and [signing] fingerprint differ");
                assert_eq!(annotation.url, signing.key_url, "Chart.yaml signKey url and [signing] key_url differ");
            }
            (Some(_), None) => {
                panic!("[signing] is configured but Chart.yaml lacks the artifacthub.io/signKey annotation")
            }
            (None, Some(_)) => panic!("Chart.yaml names a signKey but charts/repository.toml has no [signing] section"),
        }
    }
}
