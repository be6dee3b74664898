//! Pure unit tests of the store module. The backend contract (the same tests on the
//! local folder and on S3 against moto) is an integration test, `xtask/tests/store.rs`,
//! because it needs the moto server `cargo xtask test` provisions.

use super::*;

#[test]
fn local_keys_are_plain_file_names() {
    let store = LocalStore::new("/tmp/x");
    for key in ["../etc/passwd", "a/b", ".kube9-store.lock", "", ".hidden"] {
        assert!(store.path(key).is_err(), "{key:?} accepted");
    }
    assert!(store.path("index.yaml").is_ok());
}
