//! Any bytes given to `read_image_file` give a square image or an error, never a panic, within
//! the crate's size limits.
#![no_main]

use bevy_neural_sphere::{
    ImageFit,
    learn::{MAX_TEXTURE_SIDE, read_image_file},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let path = scratch_file("png");
    std::fs::write(&path, bytes).unwrap();
    // Both fits, without decoding every input twice.
    let fit = [ImageFit::Letterbox, ImageFit::Crop][bytes.len() % 2];
    if let Ok(image) = read_image_file(&path, fit) {
        assert_eq!(image.width(), image.height());
        assert!((1..=MAX_TEXTURE_SIDE).contains(&image.width()));
    }
});

#[path = "scratch.rs"]
mod scratch;
use scratch::scratch_file;
