//! The file each fuzz input is written to.

use std::path::PathBuf;

/// A file of this process (so that `-jobs` and `-fork` runs do not share one), in memory where
/// the system has `/dev/shm`.
pub fn scratch_file(extension: &str) -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    let dir = if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    };
    dir.join(format!(
        "neural-sphere-fuzz-{}.{extension}",
        std::process::id()
    ))
}
