//! Request ids as the services take them from a request's `X-Request-Id`: which are well formed.

/// The header NGINX sets on every request it passes on and the booking service answers with.
pub const HEADER: &str = "x-request-id";

/// Whether `id` is one a service keeps: 1 to `max_len` ASCII letters, digits, `.`, `_`, `:` or
/// `-`. Anything else (spaces, quotes, control characters, a megabyte) could forge or break log
/// lines, and is replaced by an id of the service's own.
pub fn is_well_formed(id: &str, max_len: usize) -> bool {
    !id.is_empty()
        && id.len() <= max_len
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_short_ids_are_kept_and_anything_else_is_not() {
        assert!(is_well_formed("3f2a9c0d1e", 64));
        assert!(is_well_formed("edge-1-c42.7", 64));
        assert!(is_well_formed("a:b_c.d-e", 64));
        assert!(is_well_formed(&"x".repeat(64), 64));
        assert!(!is_well_formed(&"x".repeat(65), 64));
        assert!(!is_well_formed("", 64));
        assert!(!is_well_formed("two words", 64));
        assert!(!is_well_formed("id\" forged=1", 64));
        assert!(!is_well_formed("é", 64));
    }
}
