//! The management subcommands: `migrate`, `seed` and `reset`. They print a report for a person
//! on stdout and fail with a one-line error.

use std::path::Path;

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::config::{Engine, Settings};
use crate::domain::EntryContent;
use crate::service::{AddressBook, Policy};
use crate::storage::{self, Opened, Schema};

/// What `migrate` does.
#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Revert the newest applied migrations.
    Down {
        /// How many migrations to revert.
        #[arg(long, default_value_t = 1)]
        steps: usize,
    },
    /// List the migrations and whether each is applied.
    Status,
}

async fn open_with_schema(settings: &Settings) -> anyhow::Result<(Opened, &'static str)> {
    let opened = storage::open(&settings.storage).await?;
    let name = match settings.storage.engine {
        Engine::Memory => bail!(
            "the memory engine keeps nothing between runs; choose sqlite or postgres \
             (storage.engine or ADDRESSBOOK_STORAGE__ENGINE)"
        ),
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    };
    Ok((opened, name))
}

fn schema(opened: &Opened) -> &dyn Schema {
    opened
        .schema
        .as_deref()
        .expect("durable engines have a schema")
}

pub async fn migrate(settings: &Settings, action: MigrateAction) -> anyhow::Result<()> {
    let (opened, engine) = open_with_schema(settings).await?;
    let schema = schema(&opened);
    match action {
        MigrateAction::Up => {
            let applied = schema.up().await.context("cannot apply migrations")?;
            println!(
                "{engine}: applied {} migration(s) {applied:?}",
                applied.len()
            );
        }
        MigrateAction::Down { steps } => {
            let reverted = schema
                .down(steps)
                .await
                .context("cannot revert migrations")?;
            println!(
                "{engine}: reverted {} migration(s) {reverted:?}",
                reverted.len()
            );
        }
        MigrateAction::Status => {
            for m in schema
                .status()
                .await
                .context("cannot read migration status")?
            {
                let state = if m.applied { "applied" } else { "pending" };
                println!("{engine}: {} {state:<8} {}", m.version, m.description);
            }
        }
    }
    Ok(())
}

/// Loads every `*.json` file in `dir` (sorted by name) through the API's own validation.
/// Fails, after loading the valid ones, if any file was rejected.
pub async fn seed(settings: &Settings, dir: &Path) -> anyhow::Result<()> {
    let (opened, engine) = open_with_schema(settings).await?;
    schema(&opened)
        .up()
        .await
        .context("cannot apply migrations")?;
    let book = AddressBook::new(opened.storage, Policy::default());

    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();

    let (mut loaded, mut rejected) = (0, 0);
    for file in &files {
        match load_one(&book, file).await {
            Ok(id) => {
                loaded += 1;
                println!("loaded   {} as {id}", file.display());
            }
            Err(reasons) => {
                rejected += 1;
                println!("rejected {}", file.display());
                for reason in reasons {
                    println!("         {reason}");
                }
            }
        }
    }
    println!(
        "{engine}: loaded {loaded}, rejected {rejected}, from {}",
        dir.display()
    );
    if rejected > 0 {
        bail!("{rejected} file(s) in {} were rejected", dir.display());
    }
    Ok(())
}

async fn load_one(book: &AddressBook, file: &Path) -> Result<uuid::Uuid, Vec<String>> {
    let text = std::fs::read_to_string(file).map_err(|e| vec![format!("cannot read: {e}")])?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| vec![format!("not JSON: {e}")])?;
    let content = EntryContent::from_json(&value).map_err(|errors| {
        errors
            .0
            .into_iter()
            .map(|e| format!("{}: {}", e.pointer, e.reason))
            .collect::<Vec<_>>()
    })?;
    let entry = book
        .create(content)
        .await
        .map_err(|e| vec![format!("cannot store: {e}")])?;
    Ok(entry.id)
}

pub async fn reset(settings: &Settings, confirmed: bool) -> anyhow::Result<()> {
    if !confirmed {
        bail!("reset deletes every entry; run it again with --yes to confirm");
    }
    let (opened, engine) = open_with_schema(settings).await?;
    schema(&opened)
        .reset()
        .await
        .context("cannot reset the schema")?;
    println!("{engine}: schema recreated; the address book is empty");
    Ok(())
}
