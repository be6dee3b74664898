//! A resource's settings as `name → value` text, so desired and actual state compare
//! the same way and a plan can say exactly what differs.

use serde::Serialize;

/// Named settings of one resource, in a stable order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings(Vec<(&'static str, String)>);

impl Settings {
    pub fn new() -> Settings {
        Settings(Vec::new())
    }

    pub fn set(&mut self, name: &'static str, value: impl Into<String>) -> &mut Settings {
        let value = value.into();
        match self.0.iter_mut().find(|(key, _)| *key == name) {
            Some(entry) => entry.1 = value,
            None => self.0.push((name, value)),
        }
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| *key == name).map(|(_, value)| value.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.iter().map(|(key, value)| (*key, value.as_str()))
    }

    /// Every desired setting as a change from nothing (what a create sets).
    pub fn as_creation(&self) -> Vec<Change> {
        self.iter()
            .map(|(name, value)| Change { setting: name.to_string(), from: None, to: value.to_string() })
            .collect()
    }

    /// The settings of `self` (desired) that `actual` lacks or holds with another value.
    pub fn diff(&self, actual: &Settings) -> Vec<Change> {
        self.iter()
            .filter(|(name, value)| actual.get(name) != Some(*value))
            .map(|(name, value)| Change {
                setting: name.to_string(),
                from: Some(actual.get(name).unwrap_or("(none)").to_string()),
                to: value.to_string(),
            })
            .collect()
    }
}

/// One setting that a step sets or changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub setting: String,
    /// `None` when the resource is created.
    pub from: Option<String>,
    pub to: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.from {
            Some(from) => write!(f, "{}: {} → {}", self.setting, from, self.to),
            None => write!(f, "{}: {}", self.setting, self.to),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_lists_only_what_differs() {
        let mut desired = Settings::new();
        desired.set("viewer_protocol_policy", "redirect-to-https").set("compress", "true").set("ipv6", "true");
        let mut actual = Settings::new();
        actual.set("viewer_protocol_policy", "allow-all").set("compress", "true");
        let changes = desired.diff(&actual);
        let shown: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["viewer_protocol_policy: allow-all → redirect-to-https", "ipv6: (none) → true"]);
        assert!(desired.diff(&desired).is_empty());
    }

    #[test]
    fn set_replaces_in_place() {
        let mut settings = Settings::new();
        settings.set("a", "1").set("b", "2").set("a", "3");
        assert_eq!(settings.iter().collect::<Vec<_>>(), [("a", "3"), ("b", "2")]);
        assert_eq!(settings.as_creation()[0].to_string(), "a: 3");
    }
}
