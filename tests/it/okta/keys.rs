//! Private keys in every PEM and JWK form the client reads, and the public JWKs it derives for
//! registration in Okta (or the simulator).

use okta_remedy::okta::oauth::ClientKey;
use okta_remedy::okta::Secret;

fn fixture(name: &str) -> Secret {
    Secret::new(
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/okta/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
}

#[test]
fn every_pem_form_parses_to_the_right_algorithm() {
    for (file, alg, kty) in [
        ("test-rsa-pkcs8.pem", "RS256", "RSA"),
        ("test-rsa-pkcs1.pem", "RS256", "RSA"),
        ("test-ec-pkcs8.pem", "ES256", "EC"),
        ("test-ec-sec1.pem", "ES256", "EC"),
    ] {
        let k = ClientKey::parse(&fixture(file), Some("kid-9")).unwrap();
        assert_eq!(k.algorithm(), alg, "{file}");
        assert_eq!(k.public_jwk()["kty"], kty, "{file}");
        assert_eq!(k.public_jwk()["kid"], "kid-9", "{file}");
        assert!(
            k.public_jwk().get("d").is_none(),
            "{file}: private part in the public JWK"
        );
        assert!(!format!("{k:?}").contains("BEGIN"), "{file}: key in Debug");
    }
    // Both PEM forms of one key give the same public key.
    let a = ClientKey::parse(&fixture("test-rsa-pkcs8.pem"), None).unwrap();
    let b = ClientKey::parse(&fixture("test-rsa-pkcs1.pem"), None).unwrap();
    assert_eq!(a.public_jwk(), b.public_jwk());
}

#[test]
fn private_jwks_parse_like_their_pem() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};

    let pem = fixture("test-rsa-pkcs8.pem");
    let k = rsa::RsaPrivateKey::from_pkcs8_pem(pem.expose()).unwrap();
    let b = |n: &rsa::BigUint| URL_SAFE_NO_PAD.encode(n.to_bytes_be());
    let jwk = serde_json::json!({
        "kty": "RSA", "n": b(k.n()), "e": b(k.e()), "d": b(k.d()),
        "p": b(&k.primes()[0]), "q": b(&k.primes()[1]),
    });
    let from_jwk = ClientKey::parse(&Secret::new(jwk.to_string()), None).unwrap();
    let from_pem = ClientKey::parse(&pem, None).unwrap();
    assert_eq!(from_jwk.algorithm(), "RS256");
    assert_eq!(from_jwk.public_jwk(), from_pem.public_jwk());

    let ec = p256::SecretKey::from_pkcs8_pem(fixture("test-ec-pkcs8.pem").expose()).unwrap();
    let from_jwk = ClientKey::parse(&Secret::new(ec.to_jwk_string().to_string()), None).unwrap();
    let from_pem = ClientKey::parse(&fixture("test-ec-sec1.pem"), None).unwrap();
    assert_eq!(from_jwk.public_jwk(), from_pem.public_jwk());

    // Keys the client cannot sign with are refused with a reason.
    let e = ClientKey::parse(
        &Secret::new(r#"{"kty":"OKP","crv":"Ed25519","d":"x","x":"y"}"#),
        None,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the key is a `OKP` key; use an RSA (RS256) or P-256 (ES256) key"
    );
}

#[test]
fn a_private_jwk_brings_its_own_kid_unless_configuration_overrides_it() {
    let ec = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let mut jwk: serde_json::Value = serde_json::from_str(&ec.to_jwk_string()).unwrap();
    jwk["kid"] = serde_json::json!("from-jwk");
    let k = ClientKey::parse(&Secret::new(jwk.to_string()), None).unwrap();
    assert_eq!(k.kid(), Some("from-jwk"));
    let k = ClientKey::parse(&Secret::new(jwk.to_string()), Some("from-config")).unwrap();
    assert_eq!(k.kid(), Some("from-config"));
    assert_eq!(
        ClientKey::parse(&fixture("test-ec-sec1.pem"), None)
            .unwrap()
            .kid(),
        None
    );
}
