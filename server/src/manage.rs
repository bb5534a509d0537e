//! The management subcommands: `migrate`, `seed`, `reset` and `keys`. They print a report for a
//! person on stdout and fail with a one-line error.

use std::path::Path;

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::config::{Engine, Settings};
use crate::domain::{ApiKey, Caller, EntryContent, Filter, PageRequest, Scope, Sort, Tenant};
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

/// What `keys` does.
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Make an API key and print it, once: only the SHA-256 of its secret is kept.
    Create {
        /// The tenant the key acts for.
        #[arg(long)]
        tenant: String,
        /// A scope the key grants (read, write, admin); repeat for several.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// What the key is for, for people.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Revoke a key by its id: it fails from then on (within 30 s on running servers).
    Revoke { id: String },
    /// List the keys, without their secrets.
    List,
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

/// Loads every `*.json` file in `dir` (sorted by name) through the API's own validation, except
/// those whose entry the book already holds word for word: seeding twice stores each once.
/// Fails, after loading the valid ones, if any file was rejected.
pub async fn seed(settings: &Settings, dir: &Path, tenant: &str) -> anyhow::Result<()> {
    let tenant = Tenant::parse(tenant).context("--tenant")?;
    let caller = Caller::new(tenant, [Scope::Read, Scope::Write], "seed".to_owned());
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

    let mut held = held_entries(&book, &caller).await?;
    let (mut loaded, mut kept, mut rejected) = (0, 0, 0);
    for file in &files {
        match load_one(&book, &caller, file, &mut held).await {
            Ok(Seeded::Loaded(id)) => {
                loaded += 1;
                println!("loaded   {} as {id}", file.display());
            }
            Ok(Seeded::AlreadyHeld(id)) => {
                kept += 1;
                println!("kept     {} (already in the book as {id})", file.display());
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
        "{engine}: loaded {loaded}, kept {kept} already there, rejected {rejected}, from {}",
        dir.display()
    );
    if rejected > 0 {
        bail!("{rejected} file(s) in {} were rejected", dir.display());
    }
    Ok(())
}

enum Seeded {
    Loaded(uuid::Uuid),
    AlreadyHeld(uuid::Uuid),
}

/// The content of every entry of the caller's book, with its id.
async fn held_entries(
    book: &AddressBook,
    caller: &Caller,
) -> anyhow::Result<Vec<(EntryContent, uuid::Uuid)>> {
    let mut held = Vec::new();
    let mut after = None;
    loop {
        let page = book
            .list(
                caller,
                PageRequest {
                    limit: 100,
                    filter: Filter::default(),
                    sort: Sort::default(),
                    after,
                },
            )
            .await
            .context("cannot read the book")?;
        for document in &page.items {
            let entry = document.entry().context("a stored entry does not read")?;
            held.push((entry.content, entry.id));
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(held),
        }
    }
}

async fn load_one(
    book: &AddressBook,
    caller: &Caller,
    file: &Path,
    held: &mut Vec<(EntryContent, uuid::Uuid)>,
) -> Result<Seeded, Vec<String>> {
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
    if let Some((_, id)) = held.iter().find(|(existing, _)| *existing == content) {
        return Ok(Seeded::AlreadyHeld(*id));
    }
    let entry = book
        .create(caller, content.clone())
        .await
        .map_err(|e| vec![format!("cannot store: {e}")])?;
    held.push((content, entry.id));
    Ok(Seeded::Loaded(entry.id))
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

pub async fn keys(settings: &Settings, action: KeysAction) -> anyhow::Result<()> {
    let (opened, engine) = open_with_schema(settings).await?;
    schema(&opened)
        .up()
        .await
        .context("cannot apply migrations")?;
    let book = AddressBook::new(opened.storage, Policy::default());
    match action {
        KeysAction::Create {
            tenant,
            scopes,
            name,
        } => {
            let tenant = Tenant::parse(&tenant).context("--tenant")?;
            let scopes = scopes
                .iter()
                .map(|name| {
                    Scope::named(name).with_context(|| {
                        format!("--scope {name:?}: the scopes are read, write and admin")
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let (key, secret) = crate::auth::new_api_key(tenant, scopes, name);
            book.add_api_key(&key)
                .await
                .context("cannot keep the key")?;
            println!(
                "{engine}: made key {} for tenant {} ({})",
                key.id,
                key.tenant,
                ApiKey::scope_names(&key.scopes)
            );
            println!("{secret}");
            println!("Send it as X-API-Key (or Authorization: Bearer). It is shown this once.");
        }
        KeysAction::Revoke { id } => {
            if !book
                .revoke_api_key(&id)
                .await
                .context("cannot revoke the key")?
            {
                bail!("no key that is not revoked has the id {id:?}");
            }
            println!("{engine}: revoked key {id}");
        }
        KeysAction::List => {
            for key in book.api_keys().await.context("cannot list the keys")? {
                let state = match key.revoked_at {
                    Some(at) => format!("revoked {}", at.to_rfc3339()),
                    None => "active".to_owned(),
                };
                println!(
                    "{engine}: {} tenant={} scopes={} {state} made {} {}",
                    key.id,
                    key.tenant,
                    ApiKey::scope_names(&key.scopes),
                    key.created_at.to_rfc3339(),
                    key.name
                );
            }
        }
    }
    Ok(())
}
