//! Running the binary to its end rather than as a service: the management subcommands
//! (`migrate`, `seed`, `reset`), and starts that must fail.
//!
//! ```no_run
//! # async fn example(store: contract_tests::Store) {
//! let status = store.run_subcommand(&["migrate", "status"]).await;
//! assert!(status.stdout.contains("pending"), "{status:?}");
//! # }
//! ```

use std::fmt;
use std::process::ExitStatus;
use std::time::Duration;

use crate::server::ServerOptions;
use crate::store::Store;

/// How long one run may take before it is killed and the test fails: a subcommand opens the
/// store, perhaps migrates it, and loads a few files.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// A run of the binary that has ended, with everything it printed.
pub struct Finished {
    /// The binary's name, for messages.
    pub program: String,
    /// The command line after the binary, for messages.
    pub args: Vec<String>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// Asserts exit status 0; returns stdout.
    pub fn expect_success(&self) -> &str {
        assert!(self.status.success(), "{self:?}: expected success");
        self.assert_no_panic();
        &self.stdout
    }

    /// Asserts a non-zero exit (not a signal, not a panic) and returns stderr.
    pub fn expect_failure(&self) -> &str {
        assert!(
            self.status.code().is_some_and(|code| code != 0),
            "{self:?}: expected a non-zero exit status"
        );
        self.assert_no_panic();
        &self.stderr
    }

    /// The non-empty lines of stderr.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|line| !line.trim().is_empty())
            .collect()
    }

    fn assert_no_panic(&self) {
        assert!(
            !self.stderr.contains("panicked") && !self.stdout.contains("panicked"),
            "{self:?}: the binary panicked"
        );
    }
}

impl fmt::Debug for Finished {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} → {}\n--- stdout ---\n{}--- stderr ---\n{}--- end ---",
            self.program,
            self.args.join(" "),
            self.status,
            self.stdout,
            self.stderr
        )
    }
}

impl ServerOptions {
    /// Runs the binary with these options until it exits, within [`RUN_TIMEOUT`]; panics (after
    /// killing it) if it is still running then.
    pub async fn run_to_exit(self) -> Finished {
        let mut command = self.command();
        let args: Vec<String> = command
            .as_std()
            .get_args()
            .map(|arg| arg.to_string_lossy().into_owned())
            .collect();
        // `kill_on_drop` (set by `command`) ends the process if the timeout drops the future.
        let output = tokio::time::timeout(RUN_TIMEOUT, command.output())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "addressbook-server {} did not exit within {RUN_TIMEOUT:?}",
                    args.join(" ")
                )
            })
            .unwrap_or_else(|err| panic!("cannot run addressbook-server: {err}"));
        Finished {
            program: "addressbook-server".to_owned(),
            args,
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Store {
    /// Runs `addressbook-server <args>` on this store (its environment, the local configuration)
    /// until it exits, e.g. `["migrate", "up"]` or `["seed", "/path/to/dir"]`.
    pub async fn run_subcommand(&self, args: &[&str]) -> Finished {
        let mut options = self.server();
        for arg in args {
            options = options.arg(arg);
        }
        options.run_to_exit().await
    }
}
