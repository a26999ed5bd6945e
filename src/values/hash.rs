//! A stable hash: the same on every build and machine, so RNG streams per table, seed cache keys
//! and resource names never change under a user's feet.

/// FNV-1a of `text`.
pub(crate) fn fnv1a(text: &str) -> u64 {
    fnv1a_from(0xcbf2_9ce4_8422_2325, text)
}

/// FNV-1a of `text` from another offset basis (a second, independent pass).
pub(crate) fn fnv1a_from(offset: u64, text: &str) -> u64 {
    text.bytes().fold(offset, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_values() {
        // The published FNV-1a 64-bit test vectors.
        assert_eq!(super::fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(super::fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
