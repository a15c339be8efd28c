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
