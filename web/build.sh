#!/usr/bin/env bash
# Builds the demo as a web page in web/dist: index.html, demo.js and demo_bg.wasm. Serve it with
# any static server, e.g. `python3 -m http.server -d web/dist`, and open it in a browser with
# WebGPU. Installs what it lacks: the wasm32 target and the wasm-bindgen-cli that matches
# Cargo.lock (under ~/.cache/bevy_neural_sphere). `--quick` builds the same page with
# web/profile.toml's cheaper profile, as the suite's web test does.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target list --installed | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown

version=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
tools="$HOME/.cache/bevy_neural_sphere/wasm-bindgen-$version"
if [[ "$("$tools/bin/wasm-bindgen" --version 2>/dev/null)" != "wasm-bindgen $version" ]]; then
    # Not --locked: its lock file names a webpki-roots release that crates.io no longer serves.
    # Without default features: no TLS stack (ring, rustls) for the test runner's downloads,
    # which `wasm-bindgen` itself never makes.
    cargo install --quiet --no-default-features --root "$tools" wasm-bindgen-cli --version "$version"
fi

profile=release
config=()
if [[ "${1:-}" == --quick ]]; then
    profile=web-quick
    config=(--config web/profile.toml)
fi
cargo build --profile "$profile" "${config[@]}" --target wasm32-unknown-unknown --example demo
target_dir=${CARGO_TARGET_DIR:-target}
dist=web/dist
rm -rf "$dist"
mkdir -p "$dist"
# Without the name section: 61 MB, 13.2 MB gzipped. No wasm-opt: binaryen 132's `-Oz` makes it 45 MB
# but 13.6 MB gzipped, in 15 minutes (and Debian 12's binaryen 108 breaks the externref table this
# wasm-bindgen emits); the README says what `opt-level = "z"` costs.
"$tools/bin/wasm-bindgen" --target web --no-typescript --remove-name-section \
    --remove-producers-section --out-dir "$dist" --out-name demo \
    "$target_dir/wasm32-unknown-unknown/$profile/examples/demo.wasm"
cp web/index.html "$dist/"
raw=$(stat -c %s "$dist/demo_bg.wasm")
gzipped=$(gzip -9 -c "$dist/demo_bg.wasm" | wc -c)
echo "built $dist: demo_bg.wasm $((raw / 1000000)) MB, $((gzipped / 1000000)) MB gzipped"
