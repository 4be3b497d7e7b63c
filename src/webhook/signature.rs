//! HMAC-SHA256 webhook signatures, checked over the raw body bytes in constant time.
//!
//! GitHub sends `X-Hub-Signature-256: sha256=<hex>`; Linear sends `Linear-Signature: <hex>` with no
//! prefix. Both are the same MAC, so one function verifies and one signs (for `orion replay` and
//! tests); only the header framing differs.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was refused. Every variant answers 401: the caller is not who it claims to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the {0} header is missing")]
    Missing(&'static str),
    #[error("the {0} header is not of the form {1}")]
    Malformed(&'static str, &'static str),
    #[error("the signature does not match the body for any configured secret")]
    Mismatch,
}

/// The lowercase hex HMAC-SHA256 of `body` under `secret`.
pub fn sign_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// True when `mac` is the HMAC of `body` under one of `secrets`. `verify_slice` compares in
/// constant time, so the time taken reveals nothing about how much of a forged MAC was right.
fn matches_any(secrets: &[Secret], body: &[u8], mac: &[u8]) -> bool {
    // Every secret is tried even after a match, so timing does not reveal which one matched.
    secrets.iter().fold(false, |found, secret| {
        let mut m = HmacSha256::new_from_slice(secret.expose().as_bytes())
            .expect("HMAC takes any key length");
        m.update(body);
        m.verify_slice(mac).is_ok() | found
    })
}

fn decode_mac(
    hex_text: &str,
    header: &'static str,
    form: &'static str,
) -> Result<Vec<u8>, SignatureError> {
    match hex::decode(hex_text) {
        Ok(bytes) if bytes.len() == 32 => Ok(bytes),
        _ => Err(SignatureError::Malformed(header, form)),
    }
}

pub const GITHUB_SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
pub const LINEAR_SIGNATURE_HEADER: &str = "Linear-Signature";

/// Verifies GitHub's `X-Hub-Signature-256`, accepting any of the configured secrets (rotation).
pub fn verify_github(
    secrets: &[Secret],
    header: Option<&str>,
    body: &[u8],
) -> Result<(), SignatureError> {
    const FORM: &str = "sha256=<64 hex digits>";
    let header = header.ok_or(SignatureError::Missing(GITHUB_SIGNATURE_HEADER))?;
    let hex_text = header
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed(GITHUB_SIGNATURE_HEADER, FORM))?;
    let mac = decode_mac(hex_text, GITHUB_SIGNATURE_HEADER, FORM)?;
    if matches_any(secrets, body, &mac) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Verifies Linear's `Linear-Signature` (lowercase hex, no prefix).
pub fn verify_linear(
    secret: &Secret,
    header: Option<&str>,
    body: &[u8],
) -> Result<(), SignatureError> {
    const FORM: &str = "<64 lowercase hex digits>";
    let header = header.ok_or(SignatureError::Missing(LINEAR_SIGNATURE_HEADER))?;
    let mac = decode_mac(header.trim(), LINEAR_SIGNATURE_HEADER, FORM)?;
    if matches_any(std::slice::from_ref(secret), body, &mac) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The `X-Hub-Signature-256` header value GitHub would send for `body`.
pub fn github_header(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", sign_hex(secret, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Vector {
        secret: String,
        payload: String,
        signature_256: String,
    }

    fn vector() -> Vector {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/github-signature-vector.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).expect("corpus present")).unwrap()
    }

    fn flip_bit(s: &str, index: usize) -> Vec<u8> {
        let mut b = s.as_bytes().to_vec();
        b[index] ^= 1;
        b
    }

    #[test]
    fn githubs_documented_vector_verifies() {
        let v = vector();
        assert_eq!(
            github_header(&v.secret, v.payload.as_bytes()),
            v.signature_256
        );
        let secrets = [Secret::new(v.secret.clone())];
        assert_eq!(
            verify_github(&secrets, Some(&v.signature_256), v.payload.as_bytes()),
            Ok(())
        );
    }

    #[test]
    fn one_bit_in_body_or_signature_fails() {
        let v = vector();
        let secrets = [Secret::new(v.secret.clone())];
        for i in 0..v.payload.len() {
            let body = flip_bit(&v.payload, i);
            assert_eq!(
                verify_github(&secrets, Some(&v.signature_256), &body),
                Err(SignatureError::Mismatch)
            );
        }
        // Flip one bit of the MAC itself (in its decoded bytes), every byte position.
        let mac = hex::decode(&v.signature_256["sha256=".len()..]).unwrap();
        for i in 0..mac.len() {
            let mut m = mac.clone();
            m[i] ^= 0x01;
            let header = format!("sha256={}", hex::encode(m));
            assert_eq!(
                verify_github(&secrets, Some(&header), v.payload.as_bytes()),
                Err(SignatureError::Mismatch)
            );
        }
    }

    #[test]
    fn prefix_and_shape_are_checked() {
        let v = vector();
        let secrets = [Secret::new(v.secret.clone())];
        let hex_only = &v.signature_256["sha256=".len()..];
        for bad in [
            hex_only.to_owned(),
            format!("sha1={hex_only}"),
            format!("SHA256={hex_only}"),
            "sha256=zz".to_owned(),
            format!("sha256={}", &hex_only[..62]),
        ] {
            assert!(
                matches!(
                    verify_github(&secrets, Some(&bad), v.payload.as_bytes()),
                    Err(SignatureError::Malformed(..))
                ),
                "{bad}"
            );
        }
        assert_eq!(
            verify_github(&secrets, None, b"x"),
            Err(SignatureError::Missing(GITHUB_SIGNATURE_HEADER))
        );
    }

    #[test]
    fn rotation_accepts_any_configured_secret() {
        let v = vector();
        let secrets = [Secret::new("the-new-secret"), Secret::new(v.secret.clone())];
        assert_eq!(
            verify_github(&secrets, Some(&v.signature_256), v.payload.as_bytes()),
            Ok(())
        );
        let only_new = [Secret::new("the-new-secret")];
        assert_eq!(
            verify_github(&only_new, Some(&v.signature_256), v.payload.as_bytes()),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_github(&[], Some(&v.signature_256), v.payload.as_bytes()),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn linear_signature_is_bare_hex() {
        let secret = Secret::new("SECRET");
        let body = br#"{"action":"create"}"#;
        let sig = sign_hex("SECRET", body);
        assert_eq!(verify_linear(&secret, Some(&sig), body), Ok(()));
        assert!(matches!(
            verify_linear(&secret, Some(&format!("sha256={sig}")), body),
            Err(SignatureError::Malformed(..))
        ));
        assert_eq!(
            verify_linear(&secret, Some(&sig), br#"{"action":"update"}"#),
            Err(SignatureError::Mismatch)
        );
    }
}
