//! The demo as a web page: `web/build.sh --quick` builds it for WebGPU, and `web/test/page.mjs` loads
//! it in headless Chromium (Debian's `chromium`) from a server on the loopback.

use std::path::Path;
use std::process::Command;

use crate::node::run_node;

#[test]
fn the_web_demo_draws_the_sphere_trains_and_takes_an_image_in_a_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The page's code in the cheaper profile: half the build time (web/profile.toml).
    let built = Command::new(root.join("web/build.sh"))
        .arg("--quick")
        .status()
        .expect("web/build.sh runs");
    assert!(built.success(), "web/build.sh failed");
    let page = run_node(
        "web/test/page.mjs",
        &[
            &root.join("web/dist"),
            &root.join("assets/images/earth.jpg"),
        ],
    );
    print!("{}", String::from_utf8_lossy(&page.stdout));
    assert!(
        page.status.success(),
        "{}",
        String::from_utf8_lossy(&page.stderr)
    );
}
