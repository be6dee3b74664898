//! The cargo this binary runs for `test` and the benchmarks' builds.

/// `cargo` (the one that runs us: rustup's proxy resolves to the same toolchain) without
/// the variables `cargo run` set for this process. Passed on, they reach build scripts
/// that watch them (ring's `CARGO_MANIFEST_DIR`), and every run would rebuild those
/// crates and everything above them twice.
pub fn cargo() -> std::process::Command {
    let mut command = std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_run) {
            command.env_remove(name);
        }
    }
    command
}

/// The variables `cargo run` sets for the program it runs.
fn set_by_cargo_run(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || matches!(
            name,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
        )
}

#[cfg(test)]
mod tests {
    use super::set_by_cargo_run;

    #[test]
    fn only_what_cargo_run_sets_is_dropped() {
        for set in ["CARGO_MANIFEST_DIR", "CARGO_PKG_VERSION", "CARGO_PKG_NAME", "CARGO_CRATE_NAME"] {
            assert!(set_by_cargo_run(set), "{set}");
        }
        for kept in ["CARGO", "CARGO_HOME", "CARGO_TARGET_DIR", "CARGO_TERM_COLOR", "CARGO_INCREMENTAL", "PATH"] {
            assert!(!set_by_cargo_run(kept), "{kept}");
        }
    }
}
