//! Device signatures over findings (固定证据: evidence that cannot be argued
//! away).
//!
//! Each device makes an Ed25519 key pair when it enrolls; the secret key
//! stays in the device store, the public key is registered with the server.
//! A finding is signed over its canonical encoding (which includes the
//! SHA-256 of every photo), so the server — and anyone auditing later — can
//! show that the record and its photos are exactly what the device captured.
//!
//! The signed message is a fixed context string followed by
//! [`FindingContent::canonical_json`]; changing either invalidates every
//! existing signature, so version the context if it must ever change.

use crate::domain::FindingContent;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// Domain separation: a signature over a finding can never be replayed as a
/// signature over anything else.
pub const SIGNATURE_CONTEXT: &[u8] = b"anfang finding v1\n";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error("the device public key is not a valid Ed25519 key (64 hex characters)")]
    BadPublicKey,
    #[error("the signature is not 128 hex characters")]
    BadSignatureEncoding,
    #[error("the signature does not match the finding's content and this device's key")]
    SignatureMismatch,
    #[error("the stored device key is damaged")]
    BadSecretKey,
}

/// A device's signing key.
pub struct DeviceKey(SigningKey);

impl DeviceKey {
    /// A fresh key from the platform's secure random source.
    pub fn generate() -> Self {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the platform random source works");
        Self(SigningKey::from_bytes(&secret))
    }

    pub fn from_secret_hex(hex_secret: &str) -> Result<Self, EvidenceError> {
        let bytes: [u8; 32] =
            hex::decode(hex_secret).ok().and_then(|b| b.try_into().ok()).ok_or(EvidenceError::BadSecretKey)?;
        Ok(Self(SigningKey::from_bytes(&bytes)))
    }

    /// For the device store only.
    pub fn secret_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    pub fn public_key_hex(&self) -> String {
        hex::encode(self.0.verifying_key().to_bytes())
    }

    /// Signs a finding; the signature is 128 lowercase hex characters.
    pub fn sign(&self, content: &FindingContent) -> String {
        hex::encode(self.0.sign(&message(content)).to_bytes())
    }
}

fn message(content: &FindingContent) -> Vec<u8> {
    let mut m = SIGNATURE_CONTEXT.to_vec();
    m.extend_from_slice(content.canonical_json().as_bytes());
    m
}

/// Checks a public key's encoding.
pub fn parse_public_key(public_key_hex: &str) -> Result<VerifyingKey, EvidenceError> {
    let bytes: [u8; 32] =
        hex::decode(public_key_hex).ok().and_then(|b| b.try_into().ok()).ok_or(EvidenceError::BadPublicKey)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| EvidenceError::BadPublicKey)
}

/// Verifies a finding's signature against a device's public key.
pub fn verify(public_key_hex: &str, content: &FindingContent, signature_hex: &str) -> Result<(), EvidenceError> {
    let key = parse_public_key(public_key_hex)?;
    let bytes: [u8; 64] =
        hex::decode(signature_hex).ok().and_then(|b| b.try_into().ok()).ok_or(EvidenceError::BadSignatureEncoding)?;
    key.verify_strict(&message(content), &Signature::from_bytes(&bytes)).map_err(|_| EvidenceError::SignatureMismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Card;

    fn finding() -> FindingContent {
        FindingContent {
            id: uuid::Uuid::now_v7(),
            point_id: "P001".into(),
            unit_id: "U01".into(),
            category: "parking".into(),
            card: Card::Yellow,
            note: None,
            observed_at: "2026-11-27T08:00:00Z".parse().unwrap(),
            location: None,
            photos: vec![crate::domain::sha256_hex(b"photo")],
            assignment_id: None,
            recheck: None,
        }
    }

    #[test]
    fn a_signature_verifies_only_for_the_same_content_and_key() {
        let key = DeviceKey::generate();
        let f = finding();
        let sig = key.sign(&f);
        verify(&key.public_key_hex(), &f, &sig).unwrap();

        let mut changed = f.clone();
        changed.photos[0] = crate::domain::sha256_hex(b"another photo");
        assert_eq!(verify(&key.public_key_hex(), &changed, &sig), Err(EvidenceError::SignatureMismatch));
        let other = DeviceKey::generate();
        assert_eq!(verify(&other.public_key_hex(), &f, &sig), Err(EvidenceError::SignatureMismatch));
        assert_eq!(verify(&key.public_key_hex(), &f, "00"), Err(EvidenceError::BadSignatureEncoding));
        assert_eq!(verify("zz", &f, &sig), Err(EvidenceError::BadPublicKey));
    }

    #[test]
    fn a_key_survives_its_stored_form() {
        let key = DeviceKey::generate();
        let again = DeviceKey::from_secret_hex(&key.secret_hex()).unwrap();
        assert_eq!(key.public_key_hex(), again.public_key_hex());
    }
}
