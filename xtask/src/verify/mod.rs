//! Checks of a served repository as an anonymous Helm user sees it (verify-repo issue).
