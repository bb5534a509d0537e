//! Schema migrations, embedded in the binary: applied at start-up (unless
//! `storage.migrate_on_start` is off) and by `addressbook-server migrate up|down|status`. One
//! implementation serves both SQL engines; each engine brings its own migration files.

use sqlx::migrate::{Migrate, MigrationType, Migrator};
use sqlx::{Database, Pool};

/// The table sqlx keeps its bookkeeping in.
const TABLE: &str = "_sqlx_migrations";

/// One migration and whether the database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub version: i64,
    pub description: String,
    pub applied: bool,
}

pub struct Migrations<DB: Database> {
    pool: Pool<DB>,
    migrator: &'static Migrator,
}

impl<DB> Migrations<DB>
where
    DB: Database,
    DB::Connection: Migrate,
{
    pub fn new(pool: Pool<DB>, migrator: &'static Migrator) -> Self {
        Self { pool, migrator }
    }

    /// Every migration this binary knows, oldest first.
    fn known(&self) -> impl Iterator<Item = (i64, String)> + '_ {
        self.migrator
            .iter()
            .filter(|m| m.migration_type != MigrationType::ReversibleDown)
            .map(|m| (m.version, m.description.to_string()))
    }

    async fn applied(&self) -> Result<Vec<i64>, sqlx::migrate::MigrateError> {
        let mut conn = self.pool.acquire().await?;
        // Under the migration lock, like sqlx's own runs: two servers starting at once on a fresh
        // database would otherwise race to create the bookkeeping table, and one would fail.
        conn.lock().await?;
        let listed = async {
            conn.ensure_migrations_table(TABLE).await?;
            conn.list_applied_migrations(TABLE).await
        }
        .await;
        conn.unlock().await?;
        let mut versions: Vec<i64> = listed?.into_iter().map(|m| m.version).collect();
        versions.sort_unstable();
        Ok(versions)
    }

    pub async fn status(&self) -> anyhow::Result<Vec<MigrationStatus>> {
        let applied = self.applied().await?;
        Ok(self
            .known()
            .map(|(version, description)| MigrationStatus {
                version,
                description,
                applied: applied.contains(&version),
            })
            .collect())
    }

    /// Applies every pending migration; returns the versions applied.
    pub async fn up(&self) -> anyhow::Result<Vec<i64>> {
        let before = self.applied().await?;
        self.migrator.run(&self.pool).await?;
        let after = self.applied().await?;
        Ok(after.into_iter().filter(|v| !before.contains(v)).collect())
    }

    /// Applies pending migrations up to and including `version`.
    pub async fn up_to(&self, version: i64) -> anyhow::Result<()> {
        self.migrator.run_to(version, &self.pool).await?;
        Ok(())
    }

    /// Reverts the newest `steps` applied migrations; returns the versions reverted.
    pub async fn down(&self, steps: usize) -> anyhow::Result<Vec<i64>> {
        let applied = self.applied().await?;
        let keep = applied.len().saturating_sub(steps);
        let target = if keep == 0 { 0 } else { applied[keep - 1] };
        self.migrator.undo(&self.pool, target).await?;
        Ok(applied[keep..].iter().rev().copied().collect())
    }

    /// Reverts every migration, then applies them all: an empty database with the current schema.
    pub async fn reset(&self) -> anyhow::Result<()> {
        self.migrator.undo(&self.pool, 0).await?;
        self.migrator.run(&self.pool).await?;
        Ok(())
    }
}
