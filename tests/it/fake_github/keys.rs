//! The App's RSA key pair, made by the `openssl` CLI once per test process.
//!
//! Why a CLI and not a crate: none of the allowed dependencies generates RSA keys, and GitHub
//! hands App owners exactly what `openssl genrsa -traditional` prints (a PKCS#1
//! `BEGIN RSA PRIVATE KEY` PEM), so production code is exercised with the format it meets for
//! real. Why once: 2048-bit generation costs ~100 ms, and every fake in a test process can share
//! one identity. No key is ever written to the repository.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// A PEM private key (what the App owner downloads) and its public half (what GitHub keeps).
pub struct KeyPair {
    /// PKCS#1 PEM, as GitHub's "Generate a private key" button delivers it.
    pub private_pem: String,
    /// SPKI PEM, used by the fake to verify App JWTs.
    pub public_pem: String,
}

/// The process-wide App key pair.
pub fn app_keys() -> &'static KeyPair {
    static KEYS: OnceLock<KeyPair> = OnceLock::new();
    KEYS.get_or_init(generate)
}

/// A fresh key pair, for tests that need a key GitHub does not know (a wrong or rotated key).
pub fn generate() -> KeyPair {
    let private_pem = openssl(&["genrsa", "-traditional", "2048"], None);
    let public_pem = openssl(&["rsa", "-pubout"], Some(private_pem.as_bytes()));
    KeyPair {
        private_pem,
        public_pem,
    }
}

fn openssl(args: &[&str], stdin: Option<&[u8]>) -> String {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the fake GitHub needs the `openssl` CLI to make its App key");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    if let Some(input) = stdin {
        pipe.write_all(input).expect("openssl reads the key");
    }
    drop(pipe);
    let out = child.wait_with_output().expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("PEM is ASCII")
}
