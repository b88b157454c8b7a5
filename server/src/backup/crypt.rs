//! Encryption of a backup folder, in the age format.
//!
//! A passphrase goes through scrypt, which is slow on purpose (about a
//! second); doing that for each of a year's photos would take hours. So an
//! encrypted backup folder holds one X25519 key of its own, `key.age`,
//! encrypted with the passphrase; every file in the folder is encrypted to
//! that key's public half. The passphrase is asked once per run, and a
//! backup can be opened without Anfang:
//!
//! ```text
//! age -d key.age > key.txt            # asks for the passphrase
//! age -d -i key.txt snapshots/…/anfang.sqlite3.age > anfang.sqlite3
//! ```

use age::secrecy::{ExposeSecret, SecretString};
use std::io::{Read, Write};
use std::str::FromStr;

/// The folder's key, opened with the passphrase.
pub struct FolderKey {
    identity: age::x25519::Identity,
}

#[derive(Debug, thiserror::Error)]
pub enum CryptError {
    #[error("the passphrase does not open this backup folder's key (key.age); check the passphrase file")]
    WrongPassphrase,
    #[error("key.age is not an age file encrypted with a passphrase: {0}")]
    BadKeyFile(String),
    #[error("cannot decrypt {0}: {1} (is it from this backup folder, and complete?)")]
    Decrypt(String, String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl FolderKey {
    /// A new key for a new encrypted folder; returns it and `key.age`'s bytes.
    pub fn generate(passphrase: &SecretString) -> Result<(Self, Vec<u8>), CryptError> {
        let identity = age::x25519::Identity::generate();
        let encryptor = age::Encryptor::with_user_passphrase(passphrase.clone());
        let mut out = Vec::new();
        let mut w = encryptor.wrap_output(&mut out)?;
        w.write_all(identity.to_string().expose_secret().as_bytes())?;
        w.finish()?;
        Ok((Self { identity }, out))
    }

    /// Opens `key.age` with the passphrase.
    pub fn open(key_file: &[u8], passphrase: &SecretString) -> Result<Self, CryptError> {
        let decryptor = age::Decryptor::new_buffered(key_file).map_err(|e| CryptError::BadKeyFile(e.to_string()))?;
        if !decryptor.is_scrypt() {
            return Err(CryptError::BadKeyFile("it is encrypted to a key, not a passphrase".into()));
        }
        let mut scrypt = age::scrypt::Identity::new(passphrase.clone());
        // age's own ceiling (2^22 is ~4 GiB of scrypt memory at most).
        scrypt.set_max_work_factor(22);
        let mut reader = match decryptor.decrypt(std::iter::once(&scrypt as &dyn age::Identity)) {
            Ok(r) => r,
            Err(age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys) => {
                return Err(CryptError::WrongPassphrase);
            }
            Err(e) => return Err(CryptError::BadKeyFile(e.to_string())),
        };
        let mut text = String::new();
        reader.read_to_string(&mut text).map_err(|e| CryptError::BadKeyFile(e.to_string()))?;
        let identity =
            age::x25519::Identity::from_str(text.trim()).map_err(|e| CryptError::BadKeyFile(e.to_string()))?;
        Ok(Self { identity })
    }

    /// The public half, as the folder's marker records it.
    pub fn recipient(&self) -> String {
        self.identity.to_public().to_string()
    }

    /// Encrypts `plain` into `out`.
    pub fn encrypt(&self, plain: &mut dyn Read, out: &mut dyn Write) -> Result<(), CryptError> {
        let recipient = self.identity.to_public();
        let encryptor = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .map_err(|e| CryptError::Io(std::io::Error::other(e.to_string())))?;
        let mut w = encryptor.wrap_output(out)?;
        std::io::copy(plain, &mut w)?;
        w.finish()?;
        Ok(())
    }

    /// A reader of the plaintext of the encrypted `input`; `name` is for errors.
    pub fn decrypt<'a, R: Read + 'a>(&self, input: R, name: &str) -> Result<Box<dyn Read + 'a>, CryptError> {
        let decryptor = age::Decryptor::new(input).map_err(|e| CryptError::Decrypt(name.into(), e.to_string()))?;
        let reader = decryptor
            .decrypt(std::iter::once(&self.identity as &dyn age::Identity))
            .map_err(|e| CryptError::Decrypt(name.into(), e.to_string()))?;
        Ok(Box::new(reader))
    }
}

/// Reads a passphrase from a file (or standard input for `-`): the first
/// line, without its line ending. Never from the command line, where other
/// users of the machine could read it.
pub fn read_passphrase(path: &std::path::Path) -> Result<SecretString, String> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("reading the passphrase from standard input: {e}"))?;
    } else {
        text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading the passphrase file {}: {e}", path.display()))?;
    }
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r').to_owned();
    if line.chars().count() < 8 {
        return Err(format!(
            "the passphrase in {} is shorter than 8 characters; backups leave the office, use a long one",
            if path.as_os_str() == "-" { "standard input".into() } else { path.display().to_string() }
        ));
    }
    Ok(SecretString::from(line))
}
