//! Any bytes given to `Checkpoint::load` give a checkpoint or an error, never a panic.
#![no_main]

use bevy_neural_sphere::learn::Checkpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    // The loader reads files, so each input is written to one (in memory where /dev/shm is).
    let path = scratch_file("mpk");
    std::fs::write(&path, bytes).unwrap();
    let _ = Checkpoint::load(&path);
});

#[path = "scratch.rs"]
mod scratch;
use scratch::scratch_file;
