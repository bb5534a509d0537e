//! Finding the `addressbook-server` binary. `cargo test` builds only this package's own targets,
//! so unless `ADDRESSBOOK_SERVER_BIN` names a binary, the server is built once per test process
//! into the same target directory as the tests themselves.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The environment variable naming a prebuilt server binary; when set, nothing is built.
pub const SERVER_BIN_ENV: &str = "ADDRESSBOOK_SERVER_BIN";

/// The workspace root: the directory holding `openapi/`, `configs/`, `server/` and this crate.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("contract-tests lives inside the workspace")
}

/// The server binary, built on first use unless `ADDRESSBOOK_SERVER_BIN` is set. Panics with the
/// build's output when the build fails: no test can run without the server.
pub fn server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| match std::env::var_os(SERVER_BIN_ENV) {
        Some(path) if !path.is_empty() => {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "{SERVER_BIN_ENV}={} does not name a file",
                path.display()
            );
            path
        }
        _ => build_server(),
    })
}

/// `cargo build -p addressbook-server` with the profile and target directory the running test
/// binary was built with, so the two never disagree about which server they mean.
fn build_server() -> PathBuf {
    let profile_dir = profile_dir();
    let target_dir = profile_dir
        .parent()
        .expect("a profile directory sits inside the target directory");
    let profile = profile_dir
        .file_name()
        .and_then(|name| name.to_str())
        .expect("the profile directory has a UTF-8 name");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(&cargo);
    command
        .current_dir(workspace_root())
        .args(["build", "--quiet", "-p", "addressbook-server"])
        .args(["--bin", "addressbook-server"])
        .arg("--target-dir")
        .arg(target_dir);
    match profile {
        "debug" => {}
        "release" => {
            command.arg("--release");
        }
        other => {
            command.args(["--profile", other]);
        }
    }
    let output = command.output().unwrap_or_else(|err| {
        panic!(
            "cannot run {} to build addressbook-server: {err}",
            Path::new(&cargo).display()
        )
    });
    assert!(
        output.status.success(),
        "building addressbook-server failed ({}); set {SERVER_BIN_ENV} to use a prebuilt binary.\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let binary = profile_dir.join(format!(
        "addressbook-server{}",
        std::env::consts::EXE_SUFFIX
    ));
    assert!(
        binary.is_file(),
        "cargo built addressbook-server but {} does not exist",
        binary.display()
    );
    binary
}

/// `target/<profile>` of the running test binary, which lives in `target/<profile>/deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its own path");
    let deps = exe.parent().expect("the test binary is in a directory");
    let dir = if deps.file_name().is_some_and(|name| name == "deps") {
        deps.parent().expect("deps/ has a parent")
    } else {
        deps
    };
    dir.to_path_buf()
}
