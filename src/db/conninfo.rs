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

/// `DATABASE_URL` and the `PG*` variables libpq tools read, for `dbname` on the server of
/// `config`. They hold the password: never print them.
pub fn libpq_env(config: &Config, dbname: &str) -> Vec<(String, String)> {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres").to_owned();
    let password = config
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let mut url = ::url::Url::parse("postgresql://localhost").expect("valid base");
    let _ = url.set_host(Some(&host));
    let _ = url.set_port(Some(port));
    let _ = url.set_username(&user);
    let _ = url.set_password(password.as_deref());
    url.set_path(dbname);
    let mut env = vec![
        ("DATABASE_URL".to_owned(), url.to_string()),
        ("PGHOST".to_owned(), host),
        ("PGPORT".to_owned(), port.to_string()),
        ("PGUSER".to_owned(), user),
        ("PGDATABASE".to_owned(), dbname.to_owned()),
    ];
    if let Some(p) = password {
        env.push(("PGPASSWORD".to_owned(), p));
    }
    env
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
