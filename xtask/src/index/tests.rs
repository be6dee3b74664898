use std::path::PathBuf;

use chrono::TimeZone as _;

use super::*;
use crate::chart::{ChartMetadata, ChartPackage, Dependency};

fn fixture(name: &str) -> Vec<u8> {
    let path: PathBuf = crate::project::real_world_fixtures().join(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("reading fixture {}: {err}", path.display()))
}

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).unwrap()
}

fn entry(name: &str, version: &str, digest: &str) -> IndexEntry {
    IndexEntry {
        metadata: ChartMetadata {
            name: name.to_string(),
            version: version.to_string(),
            api_version: Some("v2".to_string()),
            app_version: Some(version.to_string()),
            ..ChartMetadata::default()
        },
        urls: vec![format!("https://charts.example/{name}-{version}.tgz")],
        created: Some(at(1_700_000_000)),
        digest: digest.to_string(),
        ..IndexEntry::default()
    }
}

/// The fixture as a generic YAML tree: entry lists become maps keyed by version so the
/// comparison does not depend on order; `generated` is dropped (we always rewrite it).
fn generic(bytes: &[u8]) -> serde_yaml::Value {
    let mut value: serde_yaml::Value = serde_yaml::from_slice(bytes).unwrap();
    let map = value.as_mapping_mut().unwrap();
    map.remove("generated");
    let entries = map.get_mut("entries").unwrap().as_mapping_mut().unwrap();
    for (_, versions) in entries.iter_mut() {
        let mut by_version = serde_yaml::Mapping::new();
        for version in versions.as_sequence().unwrap() {
            let key = version.get("version").unwrap().clone();
            by_version.insert(key, version.clone());
        }
        *versions = serde_yaml::Value::Mapping(by_version);
    }
    value
}

#[test]
fn real_world_indexes_round_trip_without_losing_a_field() {
    for name in ["mozilla-it-index.yaml", "prometheus-community-fork-index.yaml"] {
        let original = fixture(name);
        let index = RepoIndex::parse(&original).unwrap_or_else(|err| panic!("{name}: {err:#}"));
        assert!(index.version_count() > 10, "{name}: parsed {} versions", index.version_count());
        let written = index.to_yaml().unwrap();
        let reparsed = RepoIndex::parse(&written).unwrap();
        assert_eq!(reparsed.entries, index.entries, "{name}: model changed on a round trip");
        assert_eq!(generic(&written), generic(&original), "{name}: a key or value changed on a round trip");
    }
}

#[test]
fn multi_line_annotations_and_dependencies_survive() {
    let index = RepoIndex::parse(&fixture("prometheus-community-fork-index.yaml")).unwrap();
    let newest = &index.entries["kube-prometheus-stack"][0];
    assert!(newest.metadata.annotations["artifacthub.io/links"].contains('\n'));
    assert!(newest.metadata.dependencies.iter().any(|d| d.condition.as_deref() == Some("grafana.enabled")));
    let written = String::from_utf8(index.to_yaml().unwrap()).unwrap();
    assert!(written.contains("artifacthub.io/links: |"), "multi-line strings are written as literal blocks");
}

#[test]
fn versions_are_sorted_newest_first_on_parse() {
    let yaml = b"apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0-rc.1\n    urls: [a-1.0.0-rc.1.tgz]\n  - name: a\n    version: 0.9.0\n    urls: [a.tgz]\n  - name: a\n    version: 1.0.0\n    urls: [a.tgz]\n  - name: a\n    version: 1.0.0-rc.10\n    urls: [a.tgz]\n  - name: a\n    version: 1.0.0-rc.2\n    urls: [a.tgz]\n";
    let index = RepoIndex::parse(yaml).unwrap();
    let versions: Vec<&str> = index.entries["a"].iter().map(IndexEntry::version).collect();
    assert_eq!(versions, ["1.0.0", "1.0.0-rc.10", "1.0.0-rc.2", "1.0.0-rc.1", "0.9.0"]);
}

#[test]
fn every_key_helm_knows_is_kept() {
    let yaml = r#"apiVersion: v1
annotations:
  owner: kube9
publicKeys:
- key1
serverInfo:
  contextPath: /charts
entries:
  full:
  - annotations:
      category: Infra
    apiVersion: v2
    appVersion: "1.0"
    checksum: abc
    condition: full.enabled
    created: "2024-01-02T03:04:05.123456789+02:00"
    dependencies:
    - alias: db
      condition: db.enabled
      enabled: true
      import-values:
      - child: a
        parent: b
      - simple
      name: postgresql
      repository: https://charts.example
      tags: [database]
      version: ~12.0
    deprecated: true
    description: |-
      Line one
      Line two
    digest: 0123
    engine: gotpl
    home: https://example.com
    icon: https://example.com/icon.png
    keywords: [a, b]
    kubeVersion: ">=1.25.0-0"
    maintainers:
    - email: a@example.com
      name: A
      url: https://a.example
    name: full
    removed: true
    sources: [https://github.com/x/y]
    tags: t1,t2
    tillerVersion: ">=2.0"
    type: application
    url: https://old.example/full-1.0.0.tgz
    urls: [https://example.com/full-1.0.0.tgz]
    version: 1.0.0
generated: "2024-01-02T03:04:05Z"
"#;
    let index = RepoIndex::parse(yaml.as_bytes()).unwrap();
    let e = &index.entries["full"][0];
    assert_eq!(
        e.created,
        Some(Utc.with_ymd_and_hms(2024, 1, 2, 1, 4, 5).unwrap() + chrono::Duration::nanoseconds(123_456_789))
    );
    assert!(e.removed && e.metadata.deprecated);
    assert_eq!(e.metadata.dependencies[0].import_values.len(), 2);
    assert_eq!(e.tiller_version.as_deref(), Some(">=2.0"));
    assert_eq!(index.annotations["owner"], "kube9");
    assert_eq!(index.public_keys, ["key1"]);
    let written = index.to_yaml_generated_at(at(0)).unwrap();
    let text = String::from_utf8(written.clone()).unwrap();
    for key in [
        "annotations:",
        "appVersion:",
        "checksum:",
        "condition:",
        "dependencies:",
        "alias: db",
        "enabled: true",
        "import-values:",
        "deprecated: true",
        "engine:",
        "home:",
        "icon:",
        "keywords:",
        "kubeVersion:",
        "maintainers:",
        "removed: true",
        "sources:",
        "tags: t1,t2",
        "tillerVersion:",
        "type: application",
        "url: https://old.example",
        "publicKeys:",
        "serverInfo:",
        "contextPath: /charts",
        "owner: kube9",
    ] {
        assert!(text.contains(key), "missing {key:?} in\n{text}");
    }
    assert!(text.contains("2024-01-02T01:04:05.123456789Z"), "created is written in UTC with nanoseconds");
    assert!(text.contains("generated: \"1970-01-01T00:00:00Z\""), "timestamps are quoted as Helm writes them");
    assert_eq!(RepoIndex::parse(&written).unwrap(), RepoIndex { generated: Some(at(0)), ..index });
}

#[test]
fn unknown_keys_are_refused_like_helm() {
    let yaml = b"apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    surprise: yes\n";
    let err = RepoIndex::parse(yaml).unwrap_err();
    assert!(format!("{err:#}").contains("surprise"), "{err:#}");
    let yaml = b"apiVersion: v1\nentries: {}\nextra: 1\n";
    assert!(format!("{:#}", RepoIndex::parse(yaml).unwrap_err()).contains("extra"));
}

#[test]
fn missing_api_version_and_garbage_are_refused() {
    assert!(RepoIndex::parse(b"entries: {}\n").is_err());
    assert!(RepoIndex::parse(b"").is_err());
    assert!(RepoIndex::parse(b"{{{{").is_err());
    assert!(
        RepoIndex::parse(b"apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    created: yesterday\n")
            .is_err()
    );
}

#[test]
fn json_indexes_parse_too() {
    let json =
        br#"{"apiVersion":"v1","entries":{"a":[{"name":"a","version":"1.0.0","urls":["a-1.0.0.tgz"],"digest":"d"}]}}"#;
    let index = RepoIndex::parse(json).unwrap();
    assert_eq!(index.entries["a"][0].digest, "d");
}

#[test]
fn merge_adds_new_versions_newest_first() {
    let mut index = RepoIndex::new();
    assert_eq!(index.add(entry("a", "1.0.0", "d1"), false).unwrap(), MergeOutcome::Added);
    assert_eq!(index.add(entry("a", "1.1.0", "d2"), false).unwrap(), MergeOutcome::Added);
    assert_eq!(index.add(entry("a", "1.1.0-rc.1", "d3"), false).unwrap(), MergeOutcome::Added);
    assert_eq!(index.add(entry("b", "0.1.0", "d4"), false).unwrap(), MergeOutcome::Added);
    let versions: Vec<&str> = index.entries["a"].iter().map(IndexEntry::version).collect();
    assert_eq!(versions, ["1.1.0", "1.1.0-rc.1", "1.0.0"]);
    assert_eq!(index.version_count(), 4);
}

#[test]
fn merge_same_digest_is_a_no_op_that_keeps_created() {
    let mut index = RepoIndex::new();
    index.add(entry("a", "1.0.0", "d1"), false).unwrap();
    let before = index.clone();
    let mut again = entry("a", "1.0.0", "d1");
    again.created = Some(at(1_800_000_000));
    assert_eq!(index.add(again, false).unwrap(), MergeOutcome::Unchanged);
    assert_eq!(index, before);
}

#[test]
fn merge_different_digest_is_refused_naming_everything() {
    let mut index = RepoIndex::new();
    index.add(entry("kube9-operator", "1.0.0", "aaaa"), false).unwrap();
    let before = index.clone();
    let err = index.add(entry("kube9-operator", "1.0.0", "bbbb"), false).unwrap_err();
    let message = format!("{err:#}");
    for needle in ["kube9-operator", "1.0.0", "aaaa", "bbbb", "--force"] {
        assert!(message.contains(needle), "{needle:?} missing from: {message}");
    }
    assert_eq!(index, before, "a refused merge changes nothing");
}

/// Regression: Helm's merge takes `v1.0.0` and `1.0.0` as one version (`IndexFile.Has`), so
/// the index lists it once, and the entry already listed is the one kept.
#[test]
fn merge_takes_v_prefixed_versions_as_the_same_version_like_helm() {
    let mut index = RepoIndex::new();
    index.add(entry("a", "v1.0.0", "d1"), false).unwrap();
    assert_eq!(index.add(entry("a", "1.0.0", "d1"), false).unwrap(), MergeOutcome::Unchanged);
    assert_eq!(index.entries["a"].iter().map(IndexEntry::version).collect::<Vec<_>>(), ["v1.0.0"]);
    assert_eq!(index.get("a", "1.0.0").unwrap().version(), "v1.0.0");
    let mut incoming = RepoIndex::new();
    incoming.add(entry("a", "1.0.0+build.7", "d1"), false).unwrap();
    assert_eq!(index.merge(incoming, false).unwrap()[0].2, MergeOutcome::Unchanged);

    let err = format!("{:#}", index.add(entry("a", "1.0.0", "d2"), false).unwrap_err());
    assert!(err.contains("version 1.0.0 (listed as v1.0.0) is already published"), "{err}");
    assert_eq!(index.add(entry("a", "1.0.0", "d2"), true).unwrap(), MergeOutcome::Replaced);
    assert_eq!(index.entries["a"].iter().map(IndexEntry::version).collect::<Vec<_>>(), ["1.0.0"]);
    assert_eq!(index.entries["a"][0].created, Some(at(1_700_000_000)), "created is kept");
    // Another pre-release is another version.
    assert_eq!(index.add(entry("a", "1.0.0-rc.1", "d3"), false).unwrap(), MergeOutcome::Added);
}

#[test]
fn forced_replacement_keeps_created() {
    let mut index = RepoIndex::new();
    index.add(entry("a", "1.0.0", "aaaa"), false).unwrap();
    let mut replacement = entry("a", "1.0.0", "bbbb");
    replacement.created = Some(at(1_800_000_000));
    assert_eq!(index.add(replacement, true).unwrap(), MergeOutcome::Replaced);
    let stored = index.get("a", "1.0.0").unwrap();
    assert_eq!(stored.digest, "bbbb");
    assert_eq!(stored.created, Some(at(1_700_000_000)));
}

#[test]
fn merging_indexes_keeps_existing_created() {
    let mut base = RepoIndex::new();
    base.add(entry("a", "1.0.0", "d1"), false).unwrap();
    let mut incoming = RepoIndex::new();
    let mut same = entry("a", "1.0.0", "d1");
    same.created = Some(at(1_900_000_000));
    incoming.add(same, false).unwrap();
    incoming.add(entry("a", "2.0.0", "d2"), false).unwrap();
    let outcomes = base.merge(incoming, false).unwrap();
    assert_eq!(outcomes.len(), 2);
    assert_eq!(base.get("a", "1.0.0").unwrap().created, Some(at(1_700_000_000)));
    assert_eq!(base.entries["a"][0].version(), "2.0.0");
}

#[test]
fn go_rfc3339_nano_formatting() {
    let t = Utc.with_ymd_and_hms(2021, 10, 22, 21, 33, 36).unwrap();
    assert_eq!(format_time(&t), "2021-10-22T21:33:36Z");
    assert_eq!(format_time(&(t + chrono::Duration::nanoseconds(187_185_070))), "2021-10-22T21:33:36.18718507Z");
    assert_eq!(format_time(&(t + chrono::Duration::milliseconds(500))), "2021-10-22T21:33:36.5Z");
}

#[test]
fn package_urls_absolute_and_relative() {
    let package = ChartPackage {
        metadata: ChartMetadata { name: "a".into(), version: "1.0.0".into(), ..Default::default() },
        file_name: "a-1.0.0.tgz".into(),
        bytes: Vec::new(),
        digest: "d".into(),
    };
    assert_eq!(package.index_entry("https://charts.kube9.io/", at(0)).urls, ["https://charts.kube9.io/a-1.0.0.tgz"]);
    assert_eq!(package.index_entry("", at(0)).urls, ["a-1.0.0.tgz"]);
    assert_eq!(package.index_entry("", at(0)).metadata.api_version.as_deref(), Some("v1"));
}

#[test]
fn ambiguous_strings_stay_strings() {
    let mut index = RepoIndex::new();
    let mut e = entry("a", "1.0.0", "d");
    e.metadata.app_version = Some("1.10".into());
    e.metadata.description = Some("yes".into());
    e.metadata.annotations.insert("flag".into(), "true".into());
    e.metadata.annotations.insert("octal".into(), "0755".into());
    e.metadata.annotations.insert("on".into(), "on".into());
    index.add(e, false).unwrap();
    let written = index.to_yaml().unwrap();
    let text = String::from_utf8(written.clone()).unwrap();
    let generic: serde_yaml::Value = serde_yaml::from_slice(&written).unwrap();
    let e = &generic["entries"]["a"][0];
    assert_eq!(e["appVersion"].as_str(), Some("1.10"), "{text}");
    assert_eq!(e["annotations"]["flag"].as_str(), Some("true"), "{text}");
    assert_eq!(e["annotations"]["octal"].as_str(), Some("0755"), "{text}");
    // YAML 1.1 (Go's yaml.v2, used by Helm) reads unquoted yes/on as booleans.
    assert!(text.contains("description: \"yes\""), "{text}");
    assert!(text.contains("\"on\": \"on\""), "{text}");
}

#[test]
fn fast_path_agrees_with_the_full_parser_on_real_world_indexes() {
    for name in ["mozilla-it-index.yaml", "prometheus-community-fork-index.yaml"] {
        let bytes = fixture(name);
        let fast = fast::parse(&bytes).unwrap_or_else(|| panic!("{name}: the fast path should handle Helm's output"));
        assert_eq!(fast, RepoIndex::parse_full(&bytes).unwrap(), "{name}");
        let ours = RepoIndex::parse_full(&bytes).unwrap().to_yaml().unwrap();
        let fast = fast::parse(&ours).expect("the fast path handles our own output");
        assert_eq!(fast, RepoIndex::parse_full(&ours).unwrap(), "{name} (our output)");
    }
}

#[test]
fn fast_path_agrees_or_defers_on_tricky_documents() {
    let docs = [
        "apiVersion: v1\nentries: {}\n",
        "apiVersion: v1\nentries:\n",
        "---\napiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    urls: []\n",
        "apiVersion: v1\nentries:\n  a:\n    - name: a # comment\n      version: \"1.0.0\"\n      urls:\n        - 'x.tgz'\n",
        "apiVersion: v1\nentries:\n  a:\n  - description: a long\n      folded plain\n\n      scalar\n    name: a\n    version: 1.0.0\n",
        "apiVersion: v1\nentries:\n  a:\n  - description: \"a long\n      double \\\n      quoted\\tescaped \\u00e9\"\n    name: a\n    version: 1.0.0\n",
        "apiVersion: v1\nentries:\n  a:\n  - description: 'it''s\n      single'\n    name: a\n    version: 1.0.0\n",
        "apiVersion: v1\nentries:\n  a:\n  - annotations:\n      k: |\n        one\n\n          two\n      k2: |-\n        x\n      k3: |+\n        y\n\n    name: a\n    version: 1.0.0\n",
        "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    deprecated: yes\n",
        "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    description: null\n    home: ~\n    icon:\n",
        "apiVersion: v1\nentries:\n  a:\n  - name: &x a\n    version: *x\n",
        "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    keywords: [a, b]\n",
        "apiVersion: v1\nentries:\n  a:\n  - name: a\n    name: b\n",
        "apiVersion: v1\nentries:\n  a:\n  - name: a\n    unknown: b\n",
        "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    dependencies:\n    - name: d\n      repository: \"\"\n      import-values:\n      - child: a\n        parent: b\n      - plain\n",
        "apiVersion: v1\nentries: {}\nserverInfo:\n  contextPath: /x\n  n: 1\n  b: true\n  list:\n  - 1\n  - two\n",
        "apiVersion: v1\r\nentries:\r\n  a:\r\n  - name: a\r\n    version: 1.0.0\r\n",
        "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    created: 2024-01-01T00:00:00+02:00\n",
        "apiVersion: v2\nentries: {}\n",
        "entries: {}\n",
        "apiVersion: v1\nentries:\n  a:\n  - name: a\n\tversion: 1\n",
    ];
    for doc in docs {
        let full = RepoIndex::parse_full(doc.as_bytes()).map_err(|e| format!("{e:#}"));
        match fast::parse(doc.as_bytes()) {
            Some(fast) => assert_eq!(Ok(fast), full, "fast and full disagree on:\n{doc}"),
            None => assert_eq!(
                RepoIndex::parse(doc.as_bytes()).map_err(|e| format!("{e:#}")),
                full,
                "parse must defer to the full parser on:\n{doc}"
            ),
        }
    }
    // Helm-style documents must take the fast path (otherwise big indexes are slow).
    for i in [0, 2, 3, 4, 5, 6, 7, 9, 14, 15, 16, 17] {
        assert!(fast::parse(docs[i].as_bytes()).is_some(), "expected the fast path for:\n{}", docs[i]);
    }
}

#[test]
fn real_world_indexes_round_trip_through_json() {
    for name in ["mozilla-it-index.yaml", "prometheus-community-fork-index.yaml"] {
        let original = fixture(name);
        let index = RepoIndex::parse(&original).unwrap();
        let json = index.to_bytes(IndexFormat::Json).unwrap();
        assert_eq!(IndexFormat::of(&json), IndexFormat::Json);
        assert_eq!(json.iter().filter(|b| **b == b'\n').count(), 1, "{name}: compact JSON is one line");
        serde_json::from_slice::<serde_json::Value>(&json).expect("valid JSON, so Helm takes its JSON path");
        let reparsed = RepoIndex::parse(&json).unwrap();
        assert_eq!(reparsed.entries, index.entries, "{name}: model changed through JSON");
        // The JSON path and the full YAML parser (JSON is YAML) agree.
        assert_eq!(RepoIndex::parse_full(&json).unwrap(), reparsed, "{name}: the two parsers disagree");
        // Same keys and values as the original, key by key.
        assert_eq!(generic(&json), generic(&original), "{name}: a key or value changed through JSON");
        // And back to YAML, unchanged.
        let yaml = reparsed.to_yaml_generated_at(at(0)).unwrap();
        assert_eq!(yaml, index.to_yaml_generated_at(at(0)).unwrap());
    }
}

#[test]
fn json_uses_helms_json_keys_and_rfc3339_times() {
    let mut index = RepoIndex::new();
    let mut e = entry("demo", "1.0.0", "abc");
    e.created = Some(Utc.timestamp_opt(1_700_000_000, 123_000_000).unwrap());
    e.metadata.dependencies =
        vec![Dependency { name: "sub".into(), repository: String::new(), ..Dependency::default() }];
    index.add(e, false).unwrap();
    let json = index.to_bytes_generated_at(IndexFormat::Json, at(1_700_000_001)).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(value["apiVersion"], "v1");
    assert_eq!(value["generated"], "2023-11-14T22:13:21Z");
    let version = &value["entries"]["demo"][0];
    assert_eq!(version["created"], "2023-11-14T22:13:20.123Z");
    assert_eq!(version["apiVersion"], "v2");
    assert_eq!(version["appVersion"], "1.0.0");
    assert_eq!(version["urls"][0], "https://charts.example/demo-1.0.0.tgz");
    // Helm's `name` and `repository` of a dependency have no omitempty.
    assert_eq!(version["dependencies"][0], serde_json::json!({"name": "sub", "repository": ""}));
    assert!(version.get("deprecated").is_none() && version.get("removed").is_none());
}

#[test]
fn json_that_serde_json_refuses_is_judged_by_the_yaml_parser() {
    // Valid YAML flow mapping, not JSON (Helm's `json.Valid` fails, so it reads it as YAML).
    let flow = b"{apiVersion: v1, entries: {}}";
    assert_eq!(RepoIndex::parse(flow).unwrap(), RepoIndex::parse_full(flow).unwrap());
    // An unknown key is refused on both paths, naming the key.
    let err = RepoIndex::parse(br#"{"apiVersion":"v1","entries":{},"extra":1}"#).unwrap_err();
    assert!(format!("{err:#}").contains("extra"), "{err:#}");
    let err = RepoIndex::parse(br#"{"entries":{}}"#).unwrap_err();
    assert!(format!("{err:#}").contains("apiVersion"), "{err:#}");
}
