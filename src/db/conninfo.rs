//! Connection targets as shown to people: never with a password.

use tokio_postgres::Config;
use tokio_postgres::config::Host;

/// `postgresql://user@host:port/dbname`, with no password, whatever the config holds.
pub fn redacted(config: &Config) -> String {
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("");
    format!("postgresql://{user}{host}:{port}/{db}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        for url in [
            "postgresql://alice:s3cret@db.example:6543/app",
            "host=db.example port=6543 user=alice password=s3cret dbname=app",
        ] {
            let config: Config = url.parse().unwrap();
            let shown = redacted(&config);
            assert_eq!(shown, "postgresql://alice@db.example:6543/app");
            assert!(!shown.contains("s3cret"));
        }
    }
}
