//! Finding the binaries under test: `addressbook-server`, and the command-line client
//! `addressbook`. `cargo test` builds only this package's own targets, so unless an environment
//! variable names a prebuilt binary, each is built once per test process into the same target
//! directory as the tests themselves.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The environment variable naming a prebuilt server binary; when set, nothing is built.
pub const SERVER_BIN_ENV: &str = "ADDRESSBOOK_SERVER_BIN";
/// The environment variable naming a prebuilt command-line client; when set, nothing is built.
pub const CLI_BIN_ENV: &str = "ADDRESSBOOK_CLI_BIN";

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
    BINARY.get_or_init(|| {
        prebuilt_or_built(SERVER_BIN_ENV, "addressbook-server", "addressbook-server")
    })
}

/// The command-line client `addressbook`, built on first use unless `ADDRESSBOOK_CLI_BIN` is set.
pub fn cli_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| prebuilt_or_built(CLI_BIN_ENV, "addressbook-cli", "addressbook"))
}

fn prebuilt_or_built(variable: &str, package: &str, bin: &str) -> PathBuf {
    match std::env::var_os(variable) {
        Some(path) if !path.is_empty() => {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "{variable}={} does not name a file",
                path.display()
            );
            path
        }
        _ => build(variable, package, bin),
    }
}

/// `cargo build -p <package> --bin <bin>` with the profile and target directory the running
/// test binary was built with, so the two never disagree about which build they mean.
fn build(variable: &str, package: &str, bin: &str) -> PathBuf {
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
        .args(["build", "--quiet", "-p", package, "--bin", bin])
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
            "cannot run {} to build {bin}: {err}",
            Path::new(&cargo).display()
        )
    });
    assert!(
        output.status.success(),
        "building {bin} failed ({}); set {variable} to use a prebuilt binary.\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let binary = profile_dir.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "cargo built {bin} but {} does not exist",
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
