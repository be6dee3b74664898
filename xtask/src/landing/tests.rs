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
    let html = render(&Contents::of(&sample()), &site());
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
    let html = render(&Contents::of(&sample()), &site());
    assert!(!html.contains("<script"), "a description became markup");
    assert!(html.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; operator"));
    assert!(!html.contains("href=\"javascript:"), "a javascript: source became a link");
    assert!(html.contains("href=\"https://github.com/kube9/kube9-operator\""));
}

#[test]
fn the_page_is_static_and_allows_only_its_own_stylesheet() {
    let html = render(&Contents::of(&sample()), &site());
    assert_eq!(html, render(&Contents::of(&sample()), &site()), "the page must be a function of the index");
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
    let html = render(&Contents::of(&index), &site());
    assert_eq!(listed_versions(&html), index_versions(&index));
    assert!(listed_versions("<p>no table</p>").is_empty());
}

#[test]
fn an_empty_repository_says_so() {
    let html = render(&Contents::of(&RepoIndex::new()), &site());
    assert!(html.contains("No chart is published yet."));
    assert!(listed_versions(&html).is_empty());
}

#[test]
fn yanked_versions_are_listed_apart_with_reason_and_date() {
    use crate::yanked::YankRecord;
    let mut index = sample();
    let taken = index.remove("kube9-operator", "0.2.0").unwrap();
    let mut yanks = crate::yanked::YankLog::default();
    let when = chrono::Utc.with_ymd_and_hms(2026, 5, 6, 7, 8, 9).unwrap();
    yanks.append(YankRecord::yank(&taken, "breaks <upgrades> & more", None, when)).unwrap();
    let other = index.remove("other", "1.0.0").unwrap();
    yanks.append(YankRecord::yank(&other, "gone", None, when)).unwrap();
    yanks.append(YankRecord::undo(yanks.active_yank("other", "1.0.0").unwrap(), None, when)).unwrap();
    let contents = Contents { index: &index, yanks: &yanks, signing_keys: &[] };
    let html = render(&contents, &site());
    assert_eq!(listed_versions(&html), index_versions(&index), "a yanked version is not among the charts' rows");
    assert_eq!(yanked_versions(&html), yanked_in(&yanks));
    assert_eq!(yanked_versions(&html).into_iter().collect::<Vec<_>>(), [("kube9-operator".into(), "0.2.0".into())]);
    let section = &html[html.find("<h2 id=\"yanked\">").expect("a yanked section")..];
    assert!(section.contains("breaks &lt;upgrades&gt; &amp; more"), "the reason, escaped: {section}");
    assert!(section.contains("<time datetime=\"2026-05-06T07:08:09Z\">2026-05-06</time>"), "{section}");
    assert!(section.contains(&taken.digest), "{section}");
    assert!(!html.contains("data-yanked-chart=\"other\""), "an undone yank is not listed");
    assert!(html.contains("(1 yanked)"), "the footer counts it");
    // Nothing yanked: no section.
    assert!(!render(&Contents::of(&sample()), &site()).contains("Yanked versions"));
}

#[test]
fn a_signed_repository_shows_the_key_and_the_verify_command() {
    let unsigned = render(&Contents::of(&sample()), &site());
    assert!(!unsigned.contains("--verify") && !unsigned.contains("pubkey.gpg"), "not signed: nothing to verify");
    let (old, new) = ("A".repeat(40), "B".repeat(40));
    let keys = [old.clone(), new.clone()];
    let index = sample();
    let contents = Contents { signing_keys: &keys, ..Contents::of(&index) };
    let html = render(&contents, &site());
    assert!(html.contains(&format!("<pre class=\"fingerprint\"><code data-fingerprint=\"{new}\">{new}</code></pre>")));
    assert!(html.contains(&format!("older releases still verify: <code data-fingerprint=\"{old}\">")), "{html}");
    assert!(html.contains("<a href=\"pubkey.asc\">") && html.contains("<a href=\"pubkey.gpg\">"), "{html}");
    assert!(
        html.contains(
            "curl -fsSLo kube9-pubkey.gpg https://charts.kube9.io/pubkey.gpg\n\
             helm install kube9-operator kube9/kube9-operator --verify --keyring kube9-pubkey.gpg"
        ),
        "{html}"
    );
}
