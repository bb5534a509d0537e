//! What must not outlive the harness (server processes, scratch databases, the scratch
//! directory), kept where a SIGINT or SIGTERM handler can find it. Normal and error paths clean
//! up through guards' `Drop`; a signal ends the process without running those, so this does it.

use std::path::PathBuf;
use std::sync::Mutex;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

struct Registry {
    pids: Vec<u32>,
    /// (admin URL, database name)
    databases: Vec<(String, String)>,
    dirs: Vec<PathBuf>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    pids: Vec::new(),
    databases: Vec::new(),
    dirs: Vec::new(),
});

fn with<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    // A panic while holding the lock leaves plain data behind; it is still usable.
    let mut registry = REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    f(&mut registry)
}

pub fn add_process(pid: u32) {
    with(|r| r.pids.push(pid));
}

pub fn remove_process(pid: u32) {
    with(|r| r.pids.retain(|p| *p != pid));
}

pub fn add_database(admin: &str, name: &str) {
    with(|r| r.databases.push((admin.to_owned(), name.to_owned())));
}

pub fn remove_database(name: &str) {
    with(|r| r.databases.retain(|(_, n)| n != name));
}

pub fn add_dir(dir: PathBuf) {
    with(|r| r.dirs.push(dir));
}

/// On the first SIGINT or SIGTERM: kill the registered processes, drop the databases, remove
/// the directories, and exit as the signal would have.
pub fn on_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Registered here, before the thread starts, so that no early signal is missed.
    let (mut interrupt, mut terminate) = runtime.block_on(async {
        anyhow::Ok((
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        ))
    })?;
    std::thread::spawn(move || {
        let code = runtime.block_on(async {
            tokio::select! {
                _ = interrupt.recv() => 130,
                _ = terminate.recv() => 143,
            }
        });
        eprintln!("throughput: interrupted; stopping servers and dropping scratch databases");
        let (pids, databases, dirs) = with(|r| {
            (
                std::mem::take(&mut r.pids),
                std::mem::take(&mut r.databases),
                std::mem::take(&mut r.dirs),
            )
        });
        for pid in pids {
            if let Ok(pid) = i32::try_from(pid) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        for (admin, name) in databases {
            let _ = crate::pg::psql(
                &admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
        for dir in dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
        std::process::exit(code);
    });
    Ok(())
}
