//! Large images without a held frame: a 4096² image's mip chain and a glb export of it are made
//! on Bevy's task pools, and the frames go on meanwhile. Each test prints the frames' times
//! (`--nocapture`); the closing notes compare them, the tests assert what the frames show.

use std::time::{Duration, Instant};

use bevy::asset::RenderAssetUsages;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use bevy_neural_sphere::{BackendKind, NeuralSphere, SphereCommand, SphereImage};

use crate::app::{mapping, send, sphere_app, state, the_sphere, update_until};

/// Side of the large image, the largest a texture may have.
const SIDE: u32 = 4096;

/// A paused sphere at grid 64, its mapping on the host.
fn app() -> App {
    let sphere = NeuralSphere::default()
        .with_backend(BackendKind::Cpu)
        .with_grid(64)
        .paused();
    let mut app = sphere_app(sphere, ());
    update_until(&mut app, "the first mapping", |app| {
        mapping(app).mapped().len() == 64 * 64
    });
    app
}

/// A 4096² image as the `AssetServer` gives one, a single level: red on the left half, blue on
/// the right.
fn red_and_blue() -> Image {
    let row: Vec<u8> = (0..SIDE)
        .flat_map(|x| match x < SIDE / 2 {
            true => [255, 0, 0, 255],
            false => [0, 0, 255, 255],
        })
        .collect();
    large_image(row.repeat(SIDE as usize))
}

/// A 4096² image of noise, which compresses as badly as a photograph.
fn noise() -> Image {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let pixels = (0..SIDE * SIDE)
        .flat_map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let [r, g, b, ..] = state.to_le_bytes();
            [r, g, b, 255]
        })
        .collect();
    large_image(pixels)
}

/// A single-level 4096² sRGB image of `pixels`.
fn large_image(pixels: Vec<u8>) -> Image {
    Image::new(
        Extent3d {
            width: SIDE,
            height: SIDE,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        pixels,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::MAIN_WORLD | RenderAssetUsages::RENDER_WORLD,
    )
}

/// Frame times, printed as the longest and the median.
#[derive(Default)]
struct Frames(Vec<Duration>);

impl Frames {
    fn update(&mut self, app: &mut App) {
        let started = Instant::now();
        app.update();
        self.0.push(started.elapsed());
    }

    /// Updates the app until `done` holds; the frames going on are what counts as progress.
    fn update_until(&mut self, app: &mut App, what: &str, done: impl Fn(&App) -> bool) {
        let mut waited = crate::wait::Progress::new(what);
        while !done(app) {
            waited.check(self.0.len() / 100);
            self.update(app);
        }
    }

    fn print(mut self, what: &str) {
        self.0.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{what}: {} frames, longest {:.1} ms, median {:.1} ms",
            self.0.len(),
            ms(self.0[self.0.len() - 1]),
            ms(self.0[self.0.len() / 2]),
        );
    }
}

/// Mip levels of the image `handle`.
fn mip_levels(app: &App, handle: &Handle<Image>) -> u32 {
    let images = app.world().resource::<Assets<Image>>();
    levels(images.get(handle).unwrap())
}

/// Mip levels of an image.
fn levels(image: &Image) -> u32 {
    image.texture_descriptor.mip_level_count
}

#[test]
fn a_large_image_set_while_the_app_runs_gets_its_mips_while_frames_go_on() {
    let mut app = app();
    let handle = app
        .world_mut()
        .resource_mut::<Assets<Image>>()
        .add(red_and_blue());
    let sphere = the_sphere(&app);
    app.world_mut()
        .trigger(SphereCommand::SetImage(handle.clone()).to(sphere));
    let mut frames = Frames::default();
    frames.update(&mut app);
    assert_eq!(
        app.world().get::<SphereImage>(sphere).unwrap().0,
        handle,
        "the sphere takes the image at once"
    );
    // The next frame sees the new image and starts its chain on the task pool, and returns
    // without waiting for it: the chain is put in place in a later frame.
    frames.update(&mut app);
    assert_eq!(
        mip_levels(&app, &handle),
        1,
        "the frame that saw the image made its mips itself"
    );
    frames.update_until(&mut app, "the mip chain", |app| {
        mip_levels(app, &handle) > 1
    });
    frames.print("a 4096² image's mips");

    let images = app.world().resource::<Assets<Image>>();
    let image = images.get(&handle).unwrap();
    assert_eq!(levels(image), 13, "4096 down to 1");
    // The last level is the mean of red and blue in linear light, as sRGB.
    let data = image.data.as_ref().unwrap();
    let last = &data[data.len() - 4..];
    let half = Color::linear_rgb(0.5, 0.0, 0.5).to_srgba().to_u8_array();
    assert!(
        last.iter().zip(half).all(|(&a, b)| a.abs_diff(b) <= 1),
        "1×1 level {last:?}, expected {half:?}"
    );
    assert_eq!(state(&app).error(), None);
}

#[test]
fn a_glb_export_with_a_large_texture_is_written_while_frames_go_on() {
    let dir = std::env::temp_dir().join(format!("neural-sphere-loading-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("large.glb");
    let _ = std::fs::remove_file(&path);
    let mut app = app();
    let handle = app.world_mut().resource_mut::<Assets<Image>>().add(noise());
    send(&mut app, SphereCommand::SetImage(handle.clone()));
    // Its mips made and uploaded first, so that the frames below show the export alone.
    Frames::default().update_until(&mut app, "the mip chain", |app| {
        mip_levels(app, &handle) > 1
    });
    app.update();
    app.update();

    let mut frames = Frames::default();
    let sphere = the_sphere(&app);
    app.world_mut()
        .trigger(SphereCommand::Export(path.clone()).to(sphere));
    let notice = |app: &App| state(app).notice().map(str::to_owned).unwrap_or_default();
    frames.update_until(&mut app, "the glb", |app| {
        assert_eq!(state(app).error(), None);
        notice(app).contains("large.glb")
    });
    frames.print("a glb export with a 4096² texture");

    let glb = std::fs::read(&path).unwrap();
    let gltf = gltf::Gltf::from_slice(&glb).unwrap();
    assert_eq!(gltf.images().count(), 1, "the texture is embedded");
    std::fs::remove_dir_all(&dir).unwrap();
}
