//! Identifiers in SQL text that rehearse writes.

/// Quotes an identifier (always, so reserved words such as `order` and mixed case are safe).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_are_doubled() {
        assert_eq!(super::quote_ident("order"), "\"order\"");
        assert_eq!(super::quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
