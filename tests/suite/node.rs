//! Node.js tools the tests run (the glTF validator, the browser test), each a folder with its
//! own `package.json` and lock file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `script` (a path relative to the repository) with Node.js and these arguments, after
/// installing its folder's packages with `npm ci` the first time.
pub fn run_node(script: &str, args: &[&Path]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script: PathBuf = root.join(script);
    let dir = script.parent().expect("a script in a folder");
    if !dir.join("node_modules").exists() {
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(dir)
            .status()
            .expect("npm runs (Node.js and npm are in the README's system packages)");
        assert!(installed.success(), "npm ci in {} failed", dir.display());
    }
    Command::new("node")
        .arg(&script)
        .args(args)
        .current_dir(root)
        .output()
        .expect("node runs")
}
