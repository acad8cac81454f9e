//! Client identity: tokens only the system issues, verified anywhere without a lookup.
//!
//! A token is `v1.<nonce>.<mac>`: 16 random bytes and the first 16 bytes of
//! HMAC-SHA256(`TOKEN_SECRET`, nonce), both base64url without padding (48 characters in all).
//! From a verified token come two names:
//! - the **authority key** (`owner_key`): SHA-256 of the whole token, 64 hex digits. Locks, hold
//!   counts and queue places belong to it, so acting for a user needs that user's token;
//! - the **public id** (`user_id`): `u-` and 12 hex digits of SHA-256 of the authority key. It is
//!   broadcast in `held_by` and events and is for display only: it never grants anything.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

const VERSION: &str = "v1";
const NONCE_BYTES: usize = 16;
/// 128 bits of MAC: forging one is a 2^128 search.
const MAC_BYTES: usize = 16;

/// The shortest secret a service accepts.
pub const MIN_SECRET_LEN: usize = 16;

/// A token the system issued, checked against `TOKEN_SECRET`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is missing")]
    Missing,
    #[error("token must be 16 to 128 characters of A-Z, a-z, 0-9, '_', '.' or '-'")]
    Malformed,
    #[error("token was not issued by this system")]
    NotIssued,
}

/// Issues and verifies tokens with the shared `TOKEN_SECRET`.
#[derive(Clone)]
pub struct TokenSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(<secret>)")
    }
}

impl TokenSigner {
    /// A signer for `secret`, which must be at least 16 characters.
    pub fn new(secret: &str) -> Result<TokenSigner, String> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(format!(
                "TOKEN_SECRET must be at least {MIN_SECRET_LEN} characters (for example: openssl rand -hex 32)"
            ));
        }
        Ok(TokenSigner {
            key: secret.as_bytes().to_vec(),
        })
    }

    /// A signer for the `TOKEN_SECRET` a service was given: a service without one must not
    /// start, so a missing secret is an error that says how to make one.
    pub fn from_setting(secret: Option<&str>) -> Result<TokenSigner, String> {
        match secret.filter(|s| !s.is_empty()) {
            Some(secret) => TokenSigner::new(secret),
            None => Err(
                "TOKEN_SECRET is not set: every service needs the same secret to issue \
                 and verify tokens (./start.sh generates one per run; by hand: \
                 export TOKEN_SECRET=$(openssl rand -hex 32))"
                    .into(),
            ),
        }
    }

    fn mac(&self, nonce: &[u8]) -> [u8; MAC_BYTES] {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(nonce);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; MAC_BYTES];
        out.copy_from_slice(&full[..MAC_BYTES]);
        out
    }

    /// A new identity.
    pub fn issue(&self) -> Token {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).expect("the operating system's random source works");
        self.sign(&nonce)
    }

    fn sign(&self, nonce: &[u8]) -> Token {
        Token(format!(
            "{VERSION}.{}.{}",
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(self.mac(nonce))
        ))
    }

    /// Checks a token a client presented: well formed, and signed with this secret.
    pub fn verify(&self, raw: &str) -> Result<Token, TokenError> {
        check_shape(raw)?;
        let mut parts = raw.split('.');
        let (Some(VERSION), Some(nonce), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::NotIssued);
        };
        let (Ok(nonce), Ok(mac)) = (URL_SAFE_NO_PAD.decode(nonce), URL_SAFE_NO_PAD.decode(mac))
        else {
            return Err(TokenError::NotIssued);
        };
        if nonce.len() != NONCE_BYTES || mac.len() != MAC_BYTES {
            return Err(TokenError::NotIssued);
        }
        let mut check = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        check.update(&nonce);
        // Constant-time comparison of the truncated MAC.
        check
            .verify_truncated_left(&mac)
            .map_err(|_| TokenError::NotIssued)?;
        Ok(Token(raw.to_owned()))
    }
}

/// The contract's shape: 16–128 characters of `[A-Za-z0-9_.-]`.
fn check_shape(raw: &str) -> Result<(), TokenError> {
    if raw.is_empty() {
        return Err(TokenError::Missing);
    }
    let well_formed = (Token::MIN_LEN..=Token::MAX_LEN).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if well_formed {
        Ok(())
    } else {
        Err(TokenError::Malformed)
    }
}

impl Token {
    pub const MIN_LEN: usize = 16;
    pub const MAX_LEN: usize = 128;

    /// The full-strength key that locks, hold counts and queue places belong to:
    /// SHA-256 of the token, 64 hex digits. Never broadcast.
    pub fn owner_key(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// The public id of the user holding this token: `u-` and 12 hex digits. Display only.
    pub fn user_id(&self) -> String {
        let digest = Sha256::digest(self.owner_key().as_bytes());
        format!("u-{}", &hex::encode(digest)[..12])
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    // Tokens are secrets: keep them out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(secret: &str) -> TokenSigner {
        TokenSigner::new(secret).unwrap()
    }

    #[test]
    fn issued_tokens_verify_and_have_the_contract_shape() {
        let s = signer("a-secret-of-enough-length");
        let token = s.issue();
        let raw = token.as_str();
        assert!((16..=128).contains(&raw.len()), "{raw}");
        assert!(raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)));
        assert_eq!(s.verify(raw).unwrap(), token);
        assert_ne!(s.issue(), token, "every token is new");
    }

    #[test]
    fn made_up_and_foreign_tokens_are_refused() {
        let ours = signer("a-secret-of-enough-length");
        let theirs = signer("another-secret-entirely");
        assert_eq!(
            ours.verify(theirs.issue().as_str()),
            Err(TokenError::NotIssued)
        );
        assert_eq!(
            ours.verify("abcdefghijklmnop_-0123"),
            Err(TokenError::NotIssued)
        );
        // A flipped character in the MAC or in the nonce.
        let token = ours.issue().as_str().to_owned();
        for i in [3, token.len() - 1] {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(bytes).unwrap();
            assert_eq!(ours.verify(&forged), Err(TokenError::NotIssued), "{forged}");
        }
        assert_eq!(ours.verify(""), Err(TokenError::Missing));
        assert_eq!(ours.verify("short"), Err(TokenError::Malformed));
        assert_eq!(ours.verify(&"a".repeat(129)), Err(TokenError::Malformed));
        assert_eq!(
            ours.verify("v1.abc def.ghijklmnop"),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn secrets_must_be_long_enough() {
        assert!(TokenSigner::new("short").is_err());
        assert!(TokenSigner::new(&"x".repeat(MIN_SECRET_LEN)).is_ok());
    }

    #[test]
    fn the_authority_key_is_full_strength_and_the_public_id_short() {
        let s = signer("a-secret-of-enough-length");
        let token = s.issue();
        let key = token.owner_key();
        assert_eq!(key.len(), 64);
        let id = token.user_id();
        assert!(id.starts_with("u-") && id.len() == 14, "{id}");
        assert!(
            !key.contains(&id[2..]),
            "the public id is not a prefix of the key"
        );
        assert_eq!(s.verify(token.as_str()).unwrap().user_id(), id);
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let s = signer("a-secret-of-enough-length");
        let token = s.issue();
        assert!(!format!("{token:?}").contains(&token.as_str()[3..]));
        assert!(!format!("{s:?}").contains("secret-of"));
    }
}
