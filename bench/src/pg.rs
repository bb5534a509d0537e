//! PostgreSQL through its own client tools: a scratch database per use, dropped when its guard
//! goes, so a failed run leaves no database behind.

use std::process::Command;

use anyhow::{Context, bail};

/// The admin URL: `TEST_DATABASE_URL` when set, else the local server's `postgres` database.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` with its database name replaced by `database` (query parameters kept).
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// Runs one SQL statement with psql, failing with psql's message.
pub fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    let output = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-tA",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .context("cannot run psql")?;
    if !output.status.success() {
        bail!(
            "psql: {}: {}",
            sql,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Whether PostgreSQL answers at the admin URL; starts the local cluster first when it is the
/// default URL and nothing answers. `Err` says why it is unreachable.
pub fn reachable(admin: &str) -> anyhow::Result<()> {
    if psql(admin, "SELECT 1").is_ok() {
        return Ok(());
    }
    if std::env::var_os("TEST_DATABASE_URL").is_none() {
        // The local cluster may simply not be running (containers start without it).
        if let Some(version) = std::fs::read_dir("/etc/postgresql").ok().and_then(|dir| {
            let mut versions: Vec<_> = dir
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            versions.sort();
            versions.into_iter().next()
        }) {
            let _ = Command::new("pg_ctlcluster")
                .args(["--skip-systemctl-redirect", &version, "main", "start"])
                .output();
        }
    }
    psql(admin, "SELECT 1").map(drop)
}

/// A database that exists while this guard lives.
pub struct ScratchDatabase {
    admin: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Creates `{prefix}_{random}` on the admin URL's server.
    pub fn create(admin: &str, prefix: &str) -> anyhow::Result<Self> {
        let name = format!(
            "{prefix}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        psql(admin, &format!("CREATE DATABASE {name}"))?;
        crate::cleanup::add_database(admin, &name);
        Ok(Self {
            admin: admin.to_owned(),
            url: with_database(admin, &name),
            name,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        // FORCE: a server killed on a failure path may still hold connections.
        if let Err(err) = psql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        ) {
            eprintln!("warning: could not drop {}: {err:#}", self.name);
        }
        crate::cleanup::remove_database(&self.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "ab_bench_1"),
            "postgres://postgres@127.0.0.1:5432/ab_bench_1"
        );
        assert_eq!(
            with_database("postgres://u:p@db:5432/app?sslmode=disable", "x"),
            "postgres://u:p@db:5432/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://db", "x"), "postgres://db/x");
    }
}
