//! The benchmarks' inputs: large, realistic indexes generated from real-world entries
//! (`bench-index`, `bench-client`) and the one new package merged into them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::{TimeZone as _, Utc};
use xtask::chart;
use xtask::index::{IndexEntry, RepoIndex};

/// Where the generated entries' packages live.
pub const BENCH_URL: &str = "https://charts.example.com/stable";

/// The real-world indexes in `testdata/real-world/` the generated entries are taken from.
pub fn default_fixtures() -> Vec<PathBuf> {
    let dir = xtask::project::real_world_fixtures();
    ["mozilla-it-index.yaml", "prometheus-community-fork-index.yaml"].iter().map(|f| dir.join(f)).collect()
}

/// Every entry of the real-world indexes, as templates for generated versions.
pub fn load_templates(fixtures: &[PathBuf]) -> Result<Vec<IndexEntry>> {
    let mut templates = Vec::new();
    for path in fixtures {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading fixture {}: pass `--fixture FILE` with a real index", path.display()))?;
        let index = RepoIndex::parse(&bytes).with_context(|| format!("parsing fixture {}", path.display()))?;
        templates.extend(index.entries.into_values().flatten());
    }
    if templates.is_empty() {
        bail!("the fixture indexes have no entries to generate from");
    }
    Ok(templates)
}

/// An index of `size` versions: ~100 versions per chart, each version a real-world entry
/// with its own name, version, URL, digest and `created`.
pub fn generate_index(templates: &[IndexEntry], size: usize) -> RepoIndex {
    const PER_CHART: usize = 100;
    let mut rng = fastrand::Rng::with_seed(size as u64);
    let mut index = RepoIndex::new();
    let base = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
    for i in 0..size {
        let chart_no = i / PER_CHART;
        let template = &templates[(chart_no * 7 + i) % templates.len()];
        let name = format!("{}-{chart_no}", template.metadata.name);
        let n = i % PER_CHART;
        let version = if n % 10 == 9 {
            format!("{}.{}.0-rc.{}", n / 20, n % 20, n % 3)
        } else {
            format!("{}.{}.{}", n / 20, n % 20, n % 7)
        };
        let mut entry = template.clone();
        bitnami_annotations(&mut entry, &name, n);
        entry.metadata.name.clone_from(&name);
        entry.metadata.version.clone_from(&version);
        entry.urls = vec![format!("{BENCH_URL}/{name}-{version}.tgz")];
        entry.digest = (0..64).map(|_| char::from(b"0123456789abcdef"[rng.usize(..16)])).collect();
        entry.created = Some(
            base + chrono::Duration::seconds(i as i64 * 3600)
                + chrono::Duration::nanoseconds(rng.i64(0..1_000_000_000)),
        );
        // Distinct (name, version) pairs only: a duplicate would be a merge conflict.
        if index.get(&name, &version).is_none() {
            index.entries.entry(name).or_default().push(entry);
        }
    }
    // Top up to exactly `size` with patch releases of the last chart.
    let mut extra = 0;
    while index.version_count() < size {
        let mut entry = templates[0].clone();
        entry.metadata.name = "bench-extra".into();
        entry.metadata.version = format!("9.9.{extra}");
        entry.urls = vec![format!("{BENCH_URL}/bench-extra-9.9.{extra}.tgz")];
        entry.digest = format!("{extra:064x}");
        index.entries.entry("bench-extra".into()).or_default().push(entry);
        extra += 1;
    }
    index.sort_entries();
    index
}

/// The annotations Bitnami's charts carry on every version (images list, license,
/// category), which make their index entries ~1.7 kB.
fn bitnami_annotations(entry: &mut IndexEntry, name: &str, n: usize) {
    let app = entry.metadata.app_version.clone().unwrap_or_else(|| "1.0.0".into());
    let a = &mut entry.metadata.annotations;
    a.insert("category".into(), "Infrastructure".into());
    a.insert("licenses".into(), "Apache-2.0".into());
    a.insert(
        "images".into(),
        format!(
            "- name: {name}\n  image: docker.io/bitnami/{name}:{app}-debian-12-r{n}\n\
             - name: {name}-exporter\n  image: docker.io/bitnami/{name}-exporter:0.{n}.1-debian-12-r{n}\n\
             - name: os-shell\n  image: docker.io/bitnami/os-shell:12-debian-12-r{n}\n"
        ),
    );
    if entry.metadata.keywords.len() < 4 {
        entry.metadata.keywords.extend(["kubernetes", "bitnami", "database", "cache"].map(String::from));
    }
    if entry.metadata.dependencies.is_empty() {
        entry.metadata.dependencies.push(xtask::chart::Dependency {
            name: "common".into(),
            repository: "oci://registry-1.docker.io/bitnamicharts".into(),
            tags: vec!["bitnami-common".into()],
            version: Some("2.x.x".into()),
            ..Default::default()
        });
    }
    if entry.metadata.maintainers.is_empty() {
        entry.metadata.maintainers.push(xtask::chart::Maintainer {
            name: Some("Broadcom, Inc. All Rights Reserved.".into()),
            url: Some("https://github.com/bitnami/charts".into()),
            email: None,
        });
    }
    if entry.metadata.sources.is_empty() {
        entry.metadata.sources.push(format!("https://github.com/bitnami/charts/tree/main/bitnami/{name}"));
    }
}

/// A small new chart package (`bench-new-1.0.0.tgz`) that no generated index contains.
pub fn write_new_package(work: &Path) -> Result<PathBuf> {
    let chart_dir = work.join("chart");
    std::fs::create_dir_all(chart_dir.join("templates"))?;
    std::fs::write(
        chart_dir.join("Chart.yaml"),
        "apiVersion: v2\nname: bench-new\nversion: 1.0.0\nappVersion: \"1.0.0\"\ndescription: The package merged by the benchmark\n",
    )?;
    std::fs::write(chart_dir.join("values.yaml"), "replicas: 1\n")?;
    std::fs::write(chart_dir.join("templates/cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")?;
    let package = chart::package_chart(&chart_dir)?;
    let path = work.join("package.tgz");
    std::fs::write(&path, &package.bytes)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_indexes_have_exactly_the_requested_versions() {
        let templates = load_templates(&default_fixtures()).unwrap();
        for size in [1, 150, 1_000] {
            let index = generate_index(&templates, size);
            assert_eq!(index.version_count(), size);
            let reparsed = RepoIndex::parse(&index.to_yaml().unwrap()).unwrap();
            assert_eq!(reparsed.version_count(), size);
        }
    }
}
