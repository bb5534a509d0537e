//! File systems that fail on demand, for the storage fault tests: a small tmpfs that fills up,
//! and an ext4 image on a loop device that turns read-only the moment a test says so (ext4's own
//! `trigger_fs_error`, as a failing disk would make it). Both need root, which CI has; elsewhere
//! the tests that need them are skipped with a notice, and in CI they must run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

use tempfile::TempDir;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

/// Runs a command that must succeed; its output on failure.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|err| format!("cannot run {program}: {err}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "{program} {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// `None` (with a notice) where mounting is not possible outside CI; a panic in CI.
fn unavailable<T>(what: &str, reason: &str) -> Option<T> {
    assert!(
        !in_ci(),
        "the storage fault tests must run in CI, but cannot mount {what}: {reason}"
    );
    static NOTICE: Once = Once::new();
    NOTICE.call_once(|| {
        crate::notice(&format!(
            "SKIPPED: storage fault tests that mount file systems ({reason}); run them as root."
        ))
    });
    None
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A tmpfs of a fixed size, unmounted when dropped.
pub struct Tmpfs {
    dir: TempDir,
}

impl Tmpfs {
    pub fn mount(size: &str) -> Option<Self> {
        if !is_root() {
            return unavailable("a tmpfs", "not root");
        }
        let dir = tempfile::Builder::new()
            .prefix("addressbook-tmpfs-")
            .tempdir()
            .expect("a temporary directory");
        let target = dir.path().to_str().expect("a UTF-8 path");
        match run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                target,
            ],
        ) {
            Ok(_) => Some(Self { dir }),
            Err(reason) => unavailable("a tmpfs", &reason),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills every byte left with a file, which [`Tmpfs::free`] deletes again.
    pub fn fill(&self) {
        use std::io::Write as _;
        let mut filler = std::fs::File::create(self.filler()).expect("the filler file");
        let chunk = vec![0xa5_u8; 64 * 1024];
        loop {
            if filler.write_all(&chunk).is_err() {
                break;
            }
        }
        // Whatever part of a chunk still fits.
        for _ in 0..64 * 1024 {
            if filler.write_all(&[0xa5]).is_err() {
                break;
            }
        }
        let _ = filler.sync_all();
    }

    pub fn free(&self) {
        std::fs::remove_file(self.filler()).expect("the filler file is removable");
    }

    fn filler(&self) -> PathBuf {
        self.path().join("filler")
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if let Some(target) = self.path().to_str() {
            let _ = run("umount", &["-l", target]);
        }
    }
}

/// An ext4 file system in an image on a loop device, mounted with `errors=remount-ro`.
pub struct Ext4 {
    /// Holds the image file for as long as the file system is mounted.
    _image: TempDir,
    mount_point: TempDir,
    device: String,
}

impl Ext4 {
    pub fn mount(megabytes: u32) -> Option<Self> {
        if !is_root() {
            return unavailable("an ext4 image", "not root");
        }
        let image = tempfile::Builder::new()
            .prefix("addressbook-ext4-image-")
            .tempdir()
            .expect("a temporary directory");
        let mount_point = tempfile::Builder::new()
            .prefix("addressbook-ext4-")
            .tempdir()
            .expect("a temporary directory");
        let file = image.path().join("fs.img");
        let file = file.to_str().expect("a UTF-8 path");
        let made = run("truncate", &["-s", &format!("{megabytes}M"), file])
            .and_then(|_| run("mkfs.ext4", &["-q", "-F", file]))
            .and_then(|_| run("losetup", &["-f", "--show", file]));
        let device = match made {
            Ok(device) => device,
            Err(reason) => return unavailable("an ext4 image", &reason),
        };
        let ext4 = Self {
            _image: image,
            mount_point,
            device,
        };
        match ext4.mount_again() {
            Ok(()) => Some(ext4),
            Err(reason) => unavailable("an ext4 image", &reason),
        }
    }

    pub fn path(&self) -> &Path {
        self.mount_point.path()
    }

    fn target(&self) -> &str {
        self.path().to_str().expect("a UTF-8 path")
    }

    fn mount_again(&self) -> Result<(), String> {
        run(
            "mount",
            &["-o", "errors=remount-ro", &self.device, self.target()],
        )
        .map(|_| ())
    }

    /// The file system turns read-only now, as ext4 makes it on a disk error: every write from
    /// here on fails, through file descriptors already open too.
    pub fn fail(&self) {
        let name = Path::new(&self.device)
            .file_name()
            .and_then(|name| name.to_str())
            .expect("a device name");
        std::fs::write(
            format!("/sys/fs/ext4/{name}/trigger_fs_error"),
            "injected by the storage fault tests",
        )
        .expect("ext4 takes an injected error");
    }

    /// Unmounts (every file on it must be closed) and mounts it again, as after a reboot: what
    /// was durable is there.
    pub fn remount(&self) {
        run("umount", &[self.target()]).expect("the file system unmounts");
        self.mount_again().expect("the file system mounts again");
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        let _ = run("umount", &["-l", self.target()]);
        let _ = run("losetup", &["-d", &self.device]);
    }
}
