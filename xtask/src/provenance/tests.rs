use std::sync::OnceLock;

use super::*;
use xtask_dev::harness::{TestKey, generate_rsa_key};

/// RSA key generation takes a moment: one key (and one foreign key) per test process.
fn key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| generate_rsa_key("kube9 test <test@kube9.invalid>", None).unwrap())
}

fn foreign_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| generate_rsa_key("someone else <else@example.invalid>", None).unwrap())
}

fn metadata() -> ChartMetadata {
    ChartMetadata {
        api_version: Some("v2".into()),
        app_version: Some("1.2.3".into()),
        description: Some("A chart".into()),
        name: "demo".into(),
        sources: vec!["https://charts.example.com".into()],
        version: "1.2.3".into(),
        annotations: [("example.com/notes".to_string(), "line one  \n- line two\n".to_string())].into(),
        ..ChartMetadata::default()
    }
}

fn package() -> ChartPackage {
    let bytes = b"not really a tgz, but hashed all the same".to_vec();
    ChartPackage { metadata: metadata(), file_name: "demo-1.2.3.tgz".into(), digest: sha256_hex(&bytes), bytes }
}

#[test]
fn the_message_block_is_helms_metadata_then_dots_then_files() {
    let p = package();
    let block = message_block(&p.metadata, &p.file_name, &p.digest);
    let expected = format!(
        "annotations:\n  example.com/notes: |\n    line one\n    - line two\napiVersion: v2\nappVersion: 1.2.3\n\
         description: A chart\nname: demo\nsources:\n- https://charts.example.com\nversion: 1.2.3\n\n...\nfiles:\n  \
         demo-1.2.3.tgz: sha256:{}\n",
        p.digest
    );
    assert_eq!(block, expected);
}

#[test]
fn a_signed_package_verifies_and_the_text_is_dash_escaped_clear_signed_sha512() {
    let signer = Signer::from_key(key().armored_secret.as_bytes(), None).unwrap();
    assert_eq!(signer.fingerprint(), key().fingerprint);
    let p = package();
    let prov = signer.sign_package(&p).unwrap();
    assert!(prov.starts_with("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nannotations:\n"), "{prov}");
    // Lines starting with `-` are escaped in the text, as RFC 9580 and Go's clearsign do.
    assert!(prov.contains("\n- - https://charts.example.com\n"), "{prov}");
    // The last signed line ends with "\n", then the line ending before the armor (not signed).
    assert!(prov.contains(&format!("demo-1.2.3.tgz: sha256:{}\n\n-----BEGIN PGP SIGNATURE-----\n", p.digest)));
    let keyring = Keyring::new(vec![key().public.clone()]);
    let verified = keyring.verify(prov.as_bytes(), &p.file_name, &p.bytes).unwrap();
    assert_eq!(verified, Verified { signer: key().fingerprint.clone(), file_name: p.file_name, sha256: p.digest });
}

#[test]
fn tampered_foreign_renamed_or_other_bytes_are_refused_naming_the_cause() {
    let signer = Signer::from_key(key().armored_secret.as_bytes(), None).unwrap();
    let p = package();
    let prov = signer.sign_package(&p).unwrap();
    let keyring = Keyring::new(vec![key().public.clone()]);
    let err = |result: Result<Verified>| format!("{:#}", result.unwrap_err());

    let tampered = prov.replace("description: A chart", "description: A chart!");
    assert!(err(keyring.verify(tampered.as_bytes(), &p.file_name, &p.bytes)).contains("does not verify"));
    let foreign = Keyring::new(vec![foreign_key().public.clone()]);
    let message = err(foreign.verify(prov.as_bytes(), &p.file_name, &p.bytes));
    assert!(message.contains("does not verify") && message.contains(&key().fingerprint), "{message}");
    assert!(err(keyring.verify(prov.as_bytes(), "demo-9.9.9.tgz", &p.bytes)).contains("named \"demo-9.9.9.tgz\""));
    assert!(err(keyring.verify(prov.as_bytes(), &p.file_name, b"other bytes")).contains("sha256 sum does not match"));
    assert!(err(keyring.verify(b"just text", &p.file_name, &p.bytes)).contains("signature block not found"));
}

#[test]
fn a_keyring_round_trips_binary_and_armored_and_trusts_every_key_in_it() {
    let mut keyring = Keyring::new(vec![foreign_key().public.clone()]);
    assert!(keyring.add(key().public.clone()));
    assert!(!keyring.add(key().public.clone()), "a key already there is not added twice");
    let binary = keyring.to_binary().unwrap();
    assert_ne!(binary.first(), Some(&b'-'), "binary, not armored");
    let from_binary = Keyring::parse(&binary).unwrap();
    assert_eq!(from_binary.fingerprints(), vec![foreign_key().fingerprint.clone(), key().fingerprint.clone()]);
    let armored = keyring.to_armored().unwrap();
    assert_eq!(armored.matches("-----BEGIN PGP PUBLIC KEY BLOCK-----").count(), 1, "{armored}");
    let from_armor = Keyring::parse(armored.as_bytes()).unwrap();
    assert_eq!(from_armor.fingerprints(), from_binary.fingerprints());
    // Blocks exported one by one and concatenated (`cat a.asc b.asc`) read the same.
    let concatenated = Keyring::new(vec![foreign_key().public.clone()]).to_armored().unwrap()
        + &Keyring::new(vec![key().public.clone()]).to_armored().unwrap();
    assert_eq!(Keyring::parse(concatenated.as_bytes()).unwrap().fingerprints(), from_binary.fingerprints());

    let p = package();
    let prov = Signer::from_key(key().armored_secret.as_bytes(), None).unwrap().sign_package(&p).unwrap();
    assert_eq!(from_binary.verify(prov.as_bytes(), &p.file_name, &p.bytes).unwrap().signer, key().fingerprint);
    assert!(Keyring::parse(b"").is_err());
    assert!(Keyring::parse(b"garbage").is_err());
}

#[test]
fn a_passphrase_protected_key_needs_its_passphrase_and_is_never_shown() {
    let protected = generate_rsa_key("protected <p@kube9.invalid>", Some("correct horse")).unwrap();
    let missing = format!("{:#}", Signer::from_key(protected.armored_secret.as_bytes(), None).unwrap_err());
    assert!(missing.contains(SIGNING_PASSPHRASE_ENV), "{missing}");
    let wrong = format!("{:#}", Signer::from_key(protected.armored_secret.as_bytes(), Some("wrong")).unwrap_err());
    assert!(wrong.contains("check the passphrase"), "{wrong}");
    let signer = Signer::from_key(protected.armored_secret.as_bytes(), Some("correct horse")).unwrap();
    let shown = format!("{signer:?}");
    assert!(shown.contains(&protected.fingerprint) && !shown.contains("correct horse"), "{shown}");
    for message in [missing, wrong, shown] {
        for line in protected.armored_secret.lines().filter(|l| l.len() > 20) {
            assert!(!message.contains(line), "the secret key leaked into {message}");
        }
    }
    let not_a_key = format!("{:#}", Signer::from_key(b"hello", None).unwrap_err());
    assert!(not_a_key.contains("not an OpenPGP secret key"), "{not_a_key}");
}

#[test]
fn fingerprint_annotation_and_config_disagreements_are_warned_about() {
    let signer = key().fingerprint.as_str();
    let mut chart = metadata();
    assert!(fingerprint_warnings(signer, None, &[&chart]).is_empty());
    assert!(fingerprint_warnings(signer, Some(&signer.to_lowercase()), &[&chart]).is_empty());
    let other = foreign_key().fingerprint.as_str();
    assert!(fingerprint_warnings(signer, Some(other), &[&chart])[0].contains("charts/repository.toml"));
    chart.annotations.insert(
        SIGN_KEY_ANNOTATION.into(),
        format!("fingerprint: {other}\nurl: https://charts.example.com/pubkey.asc\n"),
    );
    let warnings = fingerprint_warnings(signer, None, &[&chart]);
    assert!(warnings.len() == 1 && warnings[0].contains(SIGN_KEY_ANNOTATION), "{warnings:?}");
    let annotation = sign_key_annotation(&chart).unwrap().unwrap();
    assert_eq!(annotation.url, "https://charts.example.com/pubkey.asc");
    chart.annotations.insert(SIGN_KEY_ANNOTATION.into(), "fingerprint: 1234\nurl: x\n".into());
    assert!(sign_key_annotation(&chart).is_err());
}

#[test]
fn a_secret_key_is_taken_armored_binary_or_as_base64_of_binary() {
    use base64::Engine as _;
    let armored = key().armored_secret.as_bytes();
    let binary = parse_secret_key(armored).unwrap().to_bytes().unwrap();
    assert!(binary[0] & 0x80 != 0);
    let encoded = base64::engine::general_purpose::STANDARD.encode(&binary);
    let wrapped =
        encoded.as_bytes().chunks(64).map(|line| std::str::from_utf8(line).unwrap()).collect::<Vec<_>>().join("\n");
    for (form, bytes) in
        [("armored", armored), ("binary", &binary[..]), ("base64", encoded.as_bytes()), ("wrapped", wrapped.as_bytes())]
    {
        let signer = Signer::from_key(bytes, None).unwrap_or_else(|err| panic!("{form}: {err:#}"));
        assert_eq!(signer.fingerprint(), key().fingerprint, "{form}");
    }
    let public = Keyring::new(vec![key().public.clone()]);
    let err = format!("{:#}", Signer::from_key(public.to_armored().unwrap().as_bytes(), None).unwrap_err());
    assert!(err.contains("this is a public key"), "{err}");
    let err = format!("{:#}", Signer::from_key(&public.to_binary().unwrap(), None).unwrap_err());
    assert!(err.contains("no secret key") || err.contains("does not parse"), "{err}");
    let mut two = binary.clone();
    two.extend(parse_secret_key(foreign_key().armored_secret.as_bytes()).unwrap().to_bytes().unwrap());
    let err = format!("{:#}", Signer::from_key(&two, None).unwrap_err());
    assert!(err.contains("2 secret keys"), "{err}");
    for garbage in [&b""[..], b"   \n", b"aGVsbG8=", b"\xff\x00garbage"] {
        assert!(Signer::from_key(garbage, None).is_err(), "{garbage:?}");
    }
}

#[test]
fn a_protected_binary_key_needs_its_passphrase_and_is_never_shown() {
    let protected = generate_rsa_key("protected <p@kube9.invalid>", Some("correct horse")).unwrap();
    let binary = parse_secret_key(protected.armored_secret.as_bytes()).unwrap().to_bytes().unwrap();
    let wrong = format!("{:#}", Signer::from_key(&binary, Some("wrong-pass-91x")).unwrap_err());
    assert!(wrong.contains("check the passphrase") && !wrong.contains("wrong-pass-91x"), "{wrong}");
    Signer::from_key(&binary, Some("correct horse")).unwrap();
}

/// Regression: a binary key is never trimmed. Its last byte is part of a signature and
/// may well be an ASCII space or newline (about 2 % of keys); trimming it broke the key.
#[test]
fn a_binary_key_ending_in_a_whitespace_byte_still_parses() {
    let ends_in_whitespace = (0..5_000)
        .map(|i| {
            let key =
                xtask_dev::harness::generate_key(pgp::composed::KeyType::Ed25519, &format!("k{i} <k@x.invalid>"), None)
                    .unwrap();
            parse_secret_key(key.armored_secret.as_bytes()).unwrap().to_bytes().unwrap()
        })
        .find(|binary| binary.last().is_some_and(u8::is_ascii_whitespace))
        .expect("one key in 5,000 ends in a whitespace byte");
    let parsed = parse_secret_key(&ends_in_whitespace).unwrap();
    assert_eq!(parsed.to_bytes().unwrap(), ends_in_whitespace);
}
