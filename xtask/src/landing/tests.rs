use chrono::TimeZone as _;

use super::*;
use crate::chart::ChartMetadata;

fn entry(name: &str, version: &str, description: &str) -> IndexEntry {
    IndexEntry {
        metadata: ChartMetadata {
            name: name.into(),
            version: version.into(),
            app_version: Some(format!("app-{version}")),
            description: Some(description.into()),
            sources: vec!["https://github.com/kube9/kube9-operator".into(), "javascript:alert(1)".into()],
            ..ChartMetadata::default()
        },
        urls: vec![format!("https://charts.kube9.io/{name}-{version}.tgz")],
        created: Some(chrono::Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap()),
        digest: "ab".repeat(32),
        ..IndexEntry::default()
    }
}

fn site() -> Site {
    Site::new("https://charts.kube9.io/", "kube9.io")
}

fn sample() -> RepoIndex {
    let mut index = RepoIndex::new();
    for version in ["0.1.0", "0.10.0", "0.2.0-rc.1", "0.2.0"] {
        index.add(entry("kube9-operator", version, "The <script>alert('x')</script> & operator"), false).unwrap();
    }
    index.add(entry("other", "1.0.0", "Another chart"), false).unwrap();
    index
}

#[test]
fn the_page_lists_every_version_newest_first() {
    let html = render(&sample(), &site());
    assert_eq!(listed_versions(&html), index_versions(&sample()));
    let positions: Vec<usize> = ["0.10.0", "0.2.0", "0.2.0-rc.1", "0.1.0"]
        .iter()
        .map(|v| html.find(&format!("data-version=\"{v}\"")).unwrap_or_else(|| panic!("{v} missing")))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "not newest first: {positions:?}");
    assert!(html.contains("app-0.10.0") && html.contains("2026-03-04") && html.contains(&"ab".repeat(32)));
    assert!(html.contains("helm repo add kube9 https://charts.kube9.io\n"), "copy-paste command");
    assert!(html.contains("https://artifacthub.io/packages/helm/kube9/kube9-operator"));
    assert!(html.contains("<th scope=\"col\">Version</th>"), "table headers");
}

#[test]
fn chart_text_is_escaped_and_only_web_links_are_links() {
    let html = render(&sample(), &site());
    assert!(!html.contains("<script"), "a description became markup");
    assert!(html.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; operator"));
    assert!(!html.contains("href=\"javascript:"), "a javascript: source became a link");
    assert!(html.contains("href=\"https://github.com/kube9/kube9-operator\""));
}

#[test]
fn the_page_is_static_and_allows_only_its_own_stylesheet() {
    let html = render(&sample(), &site());
    assert_eq!(html, render(&sample(), &site()), "the page must be a function of the index");
    let hash = aws_smithy_types::base64::encode(Sha256::digest(STYLE.as_bytes()));
    assert!(html.contains(&format!("default-src 'none'; style-src 'sha256-{hash}'")), "CSP with the style's hash");
    assert!(html.contains(&format!("<style>{STYLE}</style>")), "the hashed style is the one inlined");
    for external in ["<script", "src=\"http", "rel=\"stylesheet\"", "@import", "url("] {
        assert!(!html.contains(external), "{external} in a static page");
    }
}

#[test]
fn listed_versions_unescape_attributes() {
    let mut index = RepoIndex::new();
    index.add(entry("a&b", "1.0.0+build\"x", "d"), false).unwrap();
    let html = render(&index, &site());
    assert_eq!(listed_versions(&html), index_versions(&index));
    assert!(listed_versions("<p>no table</p>").is_empty());
}

#[test]
fn an_empty_repository_says_so() {
    let html = render(&RepoIndex::new(), &site());
    assert!(html.contains("No chart is published yet."));
    assert!(listed_versions(&html).is_empty());
}
