//! The landing page, `index.html` at the repository root: what a person sees who opens
//! the repository URL in a browser.
//!
//! Derived from what the repository stores and nothing else ([`render`] is a pure function
//! of the [`Contents`]: the index, `yanked.json` and the published signing keys; and the
//! [`Site`]), so the same repository always gives the same bytes and a release that
//! changes nothing rewrites nothing. Static HTML and CSS only: no script, no external
//! asset; the page carries its own Content-Security-Policy (`default-src 'none'`, the
//! stylesheet allowed by its sha256), so it works offline and under any stricter policy.
//! Every value from the index is escaped by the template engine (maud), so a description
//! holding `<script>` is shown as text.
//!
//! Every version row carries `data-chart` and `data-version`; [`listed_versions`] reads
//! them back, which is how `verify-repo` checks that the page lists exactly the index. The
//! yanked versions are listed apart, in rows of their own (`data-yanked-chart`,
//! `data-yanked-version`, read back by [`yanked_versions`]), with the reason and the date.
//! When releases are signed (a published `pubkey.gpg`), the page shows the signing key's
//! fingerprint, links both public key files and gives the `helm install --verify` command.

use std::collections::BTreeSet;

use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest, Sha256};

use crate::index::{IndexEntry, RepoIndex, format_time, version};
use crate::layout::{PUBKEY_ASC_KEY, PUBKEY_GPG_KEY};
use crate::yanked::{YankLog, YankRecord};

/// What the page shows: what the repository stores.
#[derive(Debug, Clone, Copy)]
pub struct Contents<'a> {
    pub index: &'a RepoIndex,
    /// `yanked.json` (empty when there is none): its yanks in force are listed apart.
    pub yanks: &'a YankLog,
    /// The fingerprints of the keys in the published `pubkey.gpg`, oldest first; the last
    /// one signs now. Empty: releases are not signed.
    pub signing_keys: &'a [String],
}

impl<'a> Contents<'a> {
    /// An index alone: nothing yanked, nothing signed.
    pub fn of(index: &'a RepoIndex) -> Contents<'a> {
        static NO_YANKS: YankLog = YankLog { records: Vec::new() };
        Contents { index, yanks: &NO_YANKS, signing_keys: &[] }
    }
}

/// What the page says about the repository besides the index.
#[derive(Debug, Clone)]
pub struct Site {
    /// The URL users add, e.g. `https://charts.kube9.io`.
    pub repo_url: String,
    /// The local name in the commands shown, e.g. `kube9` (`helm repo add kube9 …`).
    pub repo_name: String,
}

impl Site {
    /// The page for the repository `config` describes: its public URL, and the first
    /// label of its hosted zone as the repository name (`kube9.io` → `kube9`).
    pub fn for_config(config: &crate::config::RepoConfig) -> Site {
        Site::new(&config.repo_url(), &config.hosted_zone)
    }

    /// `repo_url` with the name taken from the first label of `zone`.
    pub fn new(repo_url: &str, zone: &str) -> Site {
        let name = zone.split('.').next().filter(|l| !l.is_empty()).unwrap_or("charts");
        Site { repo_url: repo_url.trim_end_matches('/').to_string(), repo_name: name.to_string() }
    }
}

const STYLE: &str = include_str!("style.css");

/// The page for `contents`.
pub fn render(contents: &Contents, site: &Site) -> String {
    let index = contents.index;
    let yanked = contents.yanks.active();
    let style_hash = aws_smithy_types::base64::encode(Sha256::digest(STYLE.as_bytes()));
    let csp = format!(
        "default-src 'none'; style-src 'sha256-{style_hash}'; img-src data:; base-uri 'none'; form-action 'none'"
    );
    let name = &site.repo_name;
    let url = &site.repo_url;
    let first_chart = index.entries.keys().next().map_or("CHART", String::as_str);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(csp);
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (name) " Helm chart repository" }
                meta name="description" content={ "Helm charts of " (name) ", served from " (url) };
                // No favicon request (it would be a 404 in the browser console).
                link rel="icon" href="data:,";
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { (name) " Helm chart repository" }
                    p {
                        "The official Helm charts of " (name) ". This page lists every published chart version; "
                        "Helm reads the same list from " a href="index.yaml" { code { "index.yaml" } } "."
                    }
                }
                main {
                    section aria-labelledby="use" {
                        h2 id="use" { "Use it" }
                        p { "Add the repository, then search and install:" }
                        pre { code {
                            "helm repo add " (name) " " (url) "\n"
                            "helm repo update\n"
                            "helm search repo " (name) " --versions\n"
                            "helm install " (first_chart) " " (name) "/" (first_chart)
                        } }
                        @if let Some(verify) = verify_section(contents.signing_keys, first_chart, site) { (verify) }
                    }
                    section aria-labelledby="charts" {
                        h2 id="charts" { "Charts" }
                        @if index.entries.is_empty() {
                            p { "No chart is published yet." }
                        }
                        @for (chart, versions) in &index.entries {
                            (chart_section(chart, versions, site))
                        }
                    }
                    @if !yanked.is_empty() { (yanked_section(&yanked)) }
                }
                footer {
                    p {
                        (count(index.version_count(), "version")) " of " (count(index.entries.len(), "chart"))
                        @if !yanked.is_empty() { " (" (yanked.len()) " yanked)" }
                        @if let Some(generated) = &index.generated { ", index generated " (format_time(generated)) }
                        ". Machine-readable: " a href="index.yaml" { "index.yaml" } "."
                    }
                }
            }
        }
    };
    page.into_string()
}

/// How to verify what you install, when releases are signed: the signing key's
/// fingerprint (the newest key of the keyring; earlier ones stay for older releases),
/// both public key files, and the `helm install --verify` command.
fn verify_section(keys: &[String], chart: &str, site: &Site) -> Option<Markup> {
    let (current, earlier) = keys.split_last()?;
    let (name, url) = (&site.repo_name, &site.repo_url);
    let keyring = format!("{name}-{PUBKEY_GPG_KEY}");
    Some(html! {
        h3 id="verify" { "Verify what you install" }
        p {
            "Releases are signed: each package has a Helm provenance file ("
            code { "NAME-VERSION.tgz.prov" } "). The signing key's fingerprint is"
        }
        pre.fingerprint { code data-fingerprint=(current) { (current) } }
        @if !earlier.is_empty() {
            p {
                "Earlier signing keys, kept in the keyring so older releases still verify: "
                @for (i, key) in earlier.iter().enumerate() {
                    @if i > 0 { ", " }
                    code data-fingerprint=(key) { (key) }
                }
                "."
            }
        }
        p {
            "Public keys: " a href=(PUBKEY_ASC_KEY) { code { (PUBKEY_ASC_KEY) } } " (armored) and "
            a href=(PUBKEY_GPG_KEY) { code { (PUBKEY_GPG_KEY) } } " (the binary keyring "
            code { "helm --keyring" } " reads). Fetch the keyring once, then install with "
            code { "--verify" } ":"
        }
        pre { code {
            "curl -fsSLo " (keyring) " " (url) "/" (PUBKEY_GPG_KEY) "\n"
            "helm install " (chart) " " (name) "/" (chart) " --verify --keyring " (keyring)
        } }
    })
}

/// The yanked versions, apart from the charts: what, when, why, and the digest a pinned
/// download still has.
fn yanked_section(yanked: &[&YankRecord]) -> Markup {
    let mut rows = yanked.to_vec();
    rows.sort_by(|a, b| a.chart.cmp(&b.chart).then_with(|| version::newest_first(&a.version, &b.version)));
    html! {
        section aria-labelledby="yanked" {
            h2 id="yanked" { "Yanked versions" }
            p {
                "Taken back by the maintainers: Helm no longer offers these versions ("
                code { "helm search" } " and " code { "helm install --version" } " do not find them). "
                "Their packages stay where they were, so a download pinned by URL or digest keeps working."
            }
            div.scroll role="region" aria-label="yanked versions" tabindex="0" {
                table {
                    caption { (count(rows.len(), "yanked version")) }
                    thead { tr {
                        th scope="col" { "Chart" }
                        th scope="col" { "Version" }
                        th scope="col" { "Yanked" }
                        th scope="col" { "Reason" }
                        th scope="col" { "Digest (sha256)" }
                    } }
                    tbody {
                        @for yank in &rows {
                            tr data-yanked-chart=(yank.chart) data-yanked-version=(yank.version) {
                                td { (yank.chart) }
                                th scope="row" { (yank.version) }
                                td { time datetime=(format_time(&yank.time)) { (yank.time.format("%Y-%m-%d")) } }
                                td { (yank.reason.as_deref().unwrap_or("")) }
                                td { code.digest { (yank.digest) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn chart_section(chart: &str, versions: &[IndexEntry], site: &Site) -> Markup {
    let latest = versions.iter().find(|e| !is_prerelease(e.version())).or(versions.first());
    let anchor = format!("chart-{chart}");
    let artifacthub = format!("https://artifacthub.io/packages/helm/{}/{chart}", site.repo_name);
    html! {
        article aria-labelledby=(anchor) {
            h3 id=(anchor) { (chart) }
            @if let Some(latest) = latest {
                @if let Some(description) = latest.metadata.description.as_deref().filter(|d| !d.is_empty()) {
                    p.description { (description) }
                }
                @if latest.metadata.deprecated { p.deprecated { strong { "Deprecated." } } }
                pre { code { "helm install " (chart) " " (site.repo_name) "/" (chart) } }
                ul.links {
                    @if let Some(home) = latest.metadata.home.as_deref().filter(|h| is_web_link(h)) {
                        li { a href=(home) { "Home" } }
                    }
                    @for source in latest.metadata.sources.iter().filter(|s| is_web_link(s)) {
                        li { a href=(source) { "Source: " (source) } }
                    }
                    li { a href=(artifacthub) { "Artifact Hub" } }
                }
            }
            div.scroll role="region" aria-label={ (chart) " versions" } tabindex="0" {
                table {
                    caption { (count(versions.len(), "version")) " of " (chart) ", newest first" }
                    thead { tr {
                        th scope="col" { "Version" }
                        th scope="col" { "App version" }
                        th scope="col" { "Released" }
                        th scope="col" { "Digest (sha256)" }
                    } }
                    tbody {
                        @for entry in versions {
                            tr data-chart=(chart) data-version=(entry.version()) {
                                th scope="row" {
                                    @if let Some(url) = entry.urls.first().filter(|u| is_package_link(u)) {
                                        a href=(url) { (entry.version()) }
                                    } @else {
                                        (entry.version())
                                    }
                                }
                                td { (entry.metadata.app_version.as_deref().unwrap_or("")) }
                                td {
                                    @if let Some(created) = &entry.created {
                                        time datetime=(format_time(created)) { (created.format("%Y-%m-%d")) }
                                    }
                                }
                                td { code.digest { (entry.digest) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `1 version`, `2 versions`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

fn is_prerelease(version: &str) -> bool {
    version.trim_start_matches('v').split_once('+').map_or(version, |(v, _)| v).contains('-')
}

/// Only http(s) links become `href`s (a `javascript:` URL in Chart.yaml stays text).
fn is_web_link(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// A package URL: absolute http(s), or relative to the repository (Helm's relative URLs).
fn is_package_link(url: &str) -> bool {
    is_web_link(url) || (!url.contains(':') && !url.starts_with('/'))
}

/// The `(chart, version)` pairs a rendered page lists (its `data-chart` / `data-version`
/// rows), attribute values unescaped.
pub fn listed_versions(html: &str) -> BTreeSet<(String, String)> {
    rows(html, "data-chart", "data-version")
}

/// The `(chart, version)` pairs a rendered page lists as yanked (its `data-yanked-chart` /
/// `data-yanked-version` rows), attribute values unescaped.
pub fn yanked_versions(html: &str) -> BTreeSet<(String, String)> {
    rows(html, "data-yanked-chart", "data-yanked-version")
}

/// The `(chart, version)` pairs of the rows `<tr CHART="…" VERSION="…">`.
fn rows(html: &str, chart_attribute: &str, version_attribute: &str) -> BTreeSet<(String, String)> {
    let (open, between) = (format!("<tr {chart_attribute}=\""), format!("\" {version_attribute}=\""));
    let mut out = BTreeSet::new();
    let mut rest = html;
    while let Some(pos) = rest.find(&open) {
        rest = &rest[pos + open.len()..];
        let Some(end) = rest.find('"') else { break };
        let chart = unescape(&rest[..end]);
        rest = &rest[end..];
        let Some(v) = rest.strip_prefix(between.as_str()) else { continue };
        let Some(end) = v.find('"') else { break };
        out.insert((chart, unescape(&v[..end])));
        rest = &v[end..];
    }
    out
}

/// The `(chart, version)` pairs `yanks` holds in force, to compare with [`yanked_versions`].
pub fn yanked_in(yanks: &YankLog) -> BTreeSet<(String, String)> {
    yanks.active().into_iter().map(|yank| (yank.chart.clone(), yank.version.clone())).collect()
}

/// The `(chart, version)` pairs of an index, to compare with [`listed_versions`].
pub fn index_versions(index: &RepoIndex) -> BTreeSet<(String, String)> {
    index
        .entries
        .iter()
        .flat_map(|(chart, versions)| versions.iter().map(move |e| (chart.clone(), e.version().to_string())))
        .collect()
}

/// Undo maud's attribute escaping (`&amp;`, `&lt;`, `&gt;`, `&quot;`).
fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

#[cfg(test)]
mod tests;
