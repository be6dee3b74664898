use std::path::Path;

use super::*;
use crate::layout::{MAX_FILE_SIZE, sha256_hex};

const CHART_YAML: &str =
    "apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: \"1.2.3\"\ndescription: A demo chart\n";

/// A small chart folder with the usual files, a hidden template, an ignored file and a subchart.
fn write_chart(dir: &Path) {
    let files: &[(&str, &str)] = &[
        ("Chart.yaml", CHART_YAML),
        ("values.yaml", "replicas: 1\n"),
        ("values.schema.json", "{\"type\": \"object\"}\n"),
        (".helmignore", "# comment\n*.bak\nci/\n"),
        ("README.md", "# demo\n"),
        ("templates/deployment.yaml", "kind: Deployment\n"),
        ("templates/_helpers.tpl", "{{- define \"x\" -}}{{- end -}}\n"),
        ("templates/.hidden", "ignored by Helm's default rule\n"),
        ("templates/NOTES.txt", "thanks\n"),
        ("old.bak", "ignored\n"),
        ("ci/values-test.yaml", "ignored: true\n"),
        ("charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 0.1.0\n"),
        ("charts/sub/templates/cm.yaml", "kind: ConfigMap\n"),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn entry_names(bytes: &[u8]) -> Vec<String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect()
}

#[test]
fn package_layout_matches_helm_package() {
    let dir = tempfile::tempdir().unwrap();
    write_chart(dir.path());
    let package = package_chart(dir.path()).unwrap();
    assert_eq!(package.file_name, "demo-1.2.3.tgz");
    assert_eq!(package.digest, sha256_hex(&package.bytes));
    assert_eq!(
        entry_names(&package.bytes),
        [
            "demo/Chart.yaml",
            "demo/values.yaml",
            "demo/values.schema.json",
            "demo/templates/NOTES.txt",
            "demo/templates/_helpers.tpl",
            "demo/templates/deployment.yaml",
            "demo/.helmignore",
            "demo/README.md",
            "demo/charts/sub/Chart.yaml",
            "demo/charts/sub/templates/cm.yaml",
        ]
    );
}

#[test]
fn package_headers_are_fixed() {
    let dir = tempfile::tempdir().unwrap();
    write_chart(dir.path());
    let package = package_chart(dir.path()).unwrap();
    // gzip: no file name flag, mtime 0, OS 255.
    assert_eq!(&package.bytes[..4], &[0x1f, 0x8b, 8, 0]);
    assert_eq!(&package.bytes[4..8], &[0, 0, 0, 0]);
    assert_eq!(package.bytes[9], 255);
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&package.bytes[..]));
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let header = entry.header();
        assert_eq!(header.entry_type(), tar::EntryType::Regular);
        assert_eq!(header.mode().unwrap(), 0o644);
        assert_eq!((header.uid().unwrap(), header.gid().unwrap()), (0, 0));
        assert_eq!(header.mtime().unwrap(), PACKAGE_MTIME);
        assert_eq!(header.username().unwrap(), Some(""));
    }
}

#[test]
fn package_is_reproducible_across_copies_and_mtimes() {
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    write_chart(one.path());
    write_chart(two.path());
    // Different mtimes and permissions in the second copy must not matter.
    let file = std::fs::File::options().write(true).open(two.path().join("values.yaml")).unwrap();
    file.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(12345)).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(two.path().join("README.md"), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let a = package_chart(one.path()).unwrap();
    let b = package_chart(one.path()).unwrap();
    let c = package_chart(two.path()).unwrap();
    assert_eq!(a.bytes, b.bytes);
    assert_eq!(a.bytes, c.bytes);
}

#[test]
fn read_package_round_trips_metadata() {
    let dir = tempfile::tempdir().unwrap();
    write_chart(dir.path());
    let package = package_chart(dir.path()).unwrap();
    let metadata = read_package(&package.bytes).unwrap();
    assert_eq!(metadata, package.metadata);
    assert_eq!(metadata.app_version.as_deref(), Some("1.2.3"));
    let chart = load::load_archive(&package.bytes).unwrap();
    assert_eq!(chart.dependencies.len(), 1);
    assert_eq!(chart.dependencies[0].metadata.name, "sub");
}

#[test]
fn helm_made_packages_are_read() {
    let dir = crate::project::real_world_fixtures().join("mozilla-it-charts");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let metadata = read_package(&std::fs::read(&path).unwrap()).unwrap_or_else(|e| panic!("{path:?}: {e:#}"));
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(file, format!("{}-{}.tgz", metadata.name, metadata.version));
        count += 1;
    }
    assert!(count >= 20);
}

#[test]
fn subchart_archives_are_expanded_like_helm() {
    let sub = tempfile::tempdir().unwrap();
    std::fs::write(sub.path().join("Chart.yaml"), "apiVersion: v2\nname: lib\nversion: 2.0.0\n").unwrap();
    let lib = package_chart(sub.path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Chart.yaml"), CHART_YAML).unwrap();
    std::fs::create_dir(dir.path().join("charts")).unwrap();
    std::fs::write(dir.path().join("charts/lib-2.0.0.tgz"), &lib.bytes).unwrap();
    let package = package_chart(dir.path()).unwrap();
    assert_eq!(entry_names(&package.bytes), ["demo/Chart.yaml", "demo/charts/lib/Chart.yaml"]);
}

fn refusal(dir: &Path) -> String {
    format!("{:#}", package_chart(dir).expect_err("packaging must be refused"))
}

/// The refusal of a chart that is only this Chart.yaml.
fn refusal_of_chart_yaml(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Chart.yaml"), text).unwrap();
    refusal(dir.path())
}

#[test]
fn refuses_missing_or_unparsable_chart_yaml() {
    let dir = tempfile::tempdir().unwrap();
    assert!(refusal(dir.path()).contains("Chart.yaml"));
    assert!(refusal_of_chart_yaml("name: [unclosed\n").contains("Chart.yaml"));
}

#[test]
fn refuses_missing_name_or_version() {
    assert!(refusal_of_chart_yaml("apiVersion: v2\nversion: 1.0.0\n").contains("`name`"));
    assert!(refusal_of_chart_yaml("apiVersion: v2\nname: demo\n").contains("`version`"));
}

#[test]
fn refuses_versions_that_are_not_semver2() {
    for version in ["v1.0.0", "1.0", "1.0.0.0", "latest", "01.0.0"] {
        let text = format!("apiVersion: v2\nname: demo\nversion: \"{version}\"\n");
        assert!(refusal_of_chart_yaml(&text).contains("SemVer 2"), "{version} was accepted");
    }
}

#[test]
fn refuses_unknown_api_versions() {
    assert!(refusal_of_chart_yaml("apiVersion: v3\nname: demo\nversion: 1.0.0\n").contains("apiVersion"));
}

#[cfg(unix)]
#[test]
fn refuses_symlinks_leaving_the_chart() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_chart(dir.path());
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), dir.path().join("templates/link.yaml")).unwrap();
    assert!(refusal(dir.path()).contains("outside the chart"));
    std::fs::remove_file(dir.path().join("templates/link.yaml")).unwrap();
    std::os::unix::fs::symlink("../../", dir.path().join("templates/up")).unwrap();
    assert!(refusal(dir.path()).contains("outside the chart"));
}

#[cfg(unix)]
#[test]
fn symlinks_inside_the_chart_are_followed_like_helm() {
    let dir = tempfile::tempdir().unwrap();
    write_chart(dir.path());
    std::os::unix::fs::symlink("../README.md", dir.path().join("templates/readme.txt")).unwrap();
    let package = package_chart(dir.path()).unwrap();
    assert!(entry_names(&package.bytes).contains(&"demo/templates/readme.txt".to_string()));
}

#[test]
fn refuses_files_over_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    write_chart(dir.path());
    std::fs::write(dir.path().join("big.bin"), vec![0u8; MAX_FILE_SIZE as usize + 1]).unwrap();
    assert!(refusal(dir.path()).contains("larger than"));
}

#[test]
fn refuses_archives_escaping_their_folder() {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    let mut header = tar::Header::new_gnu();
    let body = b"apiVersion: v2\nname: x\nversion: 1.0.0\n";
    header.set_size(body.len() as u64);
    header.set_mode(0o644);
    // Bypass the tar crate's own path check to build a hostile archive.
    header.as_gnu_mut().unwrap().name[..16].copy_from_slice(b"x/../../evil.txt");
    header.set_cksum();
    builder.append(&header, &body[..]).unwrap();
    let bytes = builder.into_inner().unwrap().finish().unwrap();
    assert!(format!("{:#}", read_package(&bytes).unwrap_err()).contains("parent directory"));
}

#[test]
fn chart_yaml_numbers_are_read_as_strings() {
    let metadata = ChartMetadata::from_chart_yaml(b"name: x\nversion: 1.0.0\nappVersion: 1.10\n").unwrap();
    assert_eq!(metadata.app_version.as_deref(), Some("1.10"));
}

#[test]
fn package_all_checks_every_chart_before_building_anything() {
    let root = tempfile::tempdir().unwrap();
    let (demo, other) = (root.path().join("demo"), root.path().join("other"));
    write_chart(&demo);
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("Chart.yaml"), "apiVersion: v2\nname: other\nversion: 9.9.9\n").unwrap();
    let refuse_other = |metadata: &ChartMetadata, dir: &Path| {
        anyhow::ensure!(metadata.name != "other", "{} is refused", dir.display());
        Ok(())
    };
    let progress = std::cell::RefCell::new(Vec::new());
    let err = package_all(&[demo.clone(), other.clone()], refuse_other, |line| progress.borrow_mut().push(line));
    let err = format!("{:#}", err.unwrap_err());
    assert!(err.contains(&format!("{} is refused", other.display())) && err.contains("nothing was built"), "{err}");
    assert!(progress.borrow().is_empty(), "a chart was built before the refusal: {:?}", progress.borrow());
    // Two folders building the same NAME-VERSION.tgz are refused too.
    let err = package_all(&[demo.clone(), demo], |_, _| Ok(()), |_| {}).unwrap_err();
    assert!(format!("{err:#}").contains("demo-1.2.3.tgz is given twice"), "{err:#}");
}

#[test]
fn values_must_be_a_mapping_as_helm_loads_them() {
    for empty in ["", "# comment only\n", "null\n", "~\n", "---\n", "\n\n"] {
        load::check_values(empty.as_bytes()).unwrap_or_else(|err| panic!("{empty:?}: {err:#}"));
    }
    load::check_values(b"a: 1\nb:\n  c: [1, 2]\n").unwrap();
    // Go's yaml.Unmarshal takes a repeated key (the last wins): so does Helm, so do we.
    load::check_values(b"a: 1\na: 2\n").unwrap();
    // Like Go's yaml.Unmarshal, only the first document counts.
    load::check_values(b"a: 1\n---\n- x\n").unwrap();
    for (bad, expected) in [
        ("- a\n", "is a list"),
        ("text\n", "is a string"),
        ("42\n", "is a number"),
        ("true\n", "is a boolean"),
        ("a: [1\n", "does not parse as YAML"),
        ("a: b: c\n", "does not parse as YAML"),
    ] {
        let err = load::check_values(bad.as_bytes()).unwrap_err();
        assert!(format!("{err:#}").contains(expected), "{bad:?}: {err:#}");
    }
}

#[test]
fn a_chart_or_subchart_with_unloadable_values_is_not_packaged() {
    let dir = tempfile::tempdir().unwrap();
    write_chart(dir.path());
    std::fs::write(dir.path().join("charts/sub/values.yaml"), "- not\n- a mapping\n").unwrap();
    let err = package_chart(dir.path()).unwrap_err();
    assert!(format!("{err:#}").contains("subchart charts/sub: values.yaml is a list"), "{err:#}");
    std::fs::remove_file(dir.path().join("charts/sub/values.yaml")).unwrap();
    std::fs::write(dir.path().join("values.schema.json"), "{not json").unwrap();
    let err = package_chart(dir.path()).unwrap_err();
    assert!(format!("{err:#}").contains("values.schema.json is not valid JSON"), "{err:#}");
}
