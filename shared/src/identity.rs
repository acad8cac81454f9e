//! Client identity: the secret token a client presents and the public user id derived from it.

use sha2::{Digest, Sha256};

/// A validated secret token: 16–128 characters of `[A-Za-z0-9_-]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is missing")]
    Missing,
    #[error("token must be 16 to 128 characters of A-Z, a-z, 0-9, '_' or '-'")]
    Malformed,
}

impl Token {
    pub const MIN_LEN: usize = 16;
    pub const MAX_LEN: usize = 128;

    /// Validates a token presented by a client.
    pub fn parse(raw: &str) -> Result<Token, TokenError> {
        if raw.is_empty() {
            return Err(TokenError::Missing);
        }
        let well_formed = (Self::MIN_LEN..=Self::MAX_LEN).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if well_formed {
            Ok(Token(raw.to_owned()))
        } else {
            Err(TokenError::Malformed)
        }
    }

    /// The public id of the user holding this token: `u-` and 12 hex digits of its SHA-256.
    /// Only this id is ever broadcast; the token itself never leaves its owner's connection.
    pub fn user_id(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
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

    #[test]
    fn accepts_well_formed_tokens_and_derives_a_stable_public_id() {
        let token = Token::parse("abcdefghijklmnop_-0123").unwrap();
        let id = token.user_id();
        assert!(id.starts_with("u-"));
        assert_eq!(id.len(), 14);
        assert_eq!(
            id,
            Token::parse("abcdefghijklmnop_-0123").unwrap().user_id()
        );
        assert_ne!(
            id,
            Token::parse("abcdefghijklmnop_-0124").unwrap().user_id()
        );
    }

    #[test]
    fn refuses_missing_short_long_and_odd_tokens() {
        assert_eq!(Token::parse(""), Err(TokenError::Missing));
        assert_eq!(Token::parse("short"), Err(TokenError::Malformed));
        assert_eq!(Token::parse(&"a".repeat(129)), Err(TokenError::Malformed));
        assert_eq!(
            Token::parse("abcdefghijklmnop q"),
            Err(TokenError::Malformed)
        );
        assert!(Token::parse(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let token = Token::parse("secretsecretsecret").unwrap();
        assert!(!format!("{token:?}").contains("secret"));
    }
}
