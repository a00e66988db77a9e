//! Frames rendered headless and read back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bevy::camera::{RenderTarget, ScalingMode};
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::prelude::*;
use bevy::render::gpu_readback::{Readback, ReadbackComplete};
use bevy::render::render_resource::{TextureFormat, TextureUsages};
use bevy_neural_sphere::{
    BackendKind, ImageFit, NeuralSpherePlugin, SphereCommand, SphereSettings, fit_image,
};
use image::{DynamicImage, Rgba, RgbaImage};

use crate::app::{headless_app, steps};

const SIDE: u32 = 128;
/// The orthographic view spans this many world units vertically.
const VIEW_HEIGHT: f32 = 2.4;
const POINT_RADIUS: f32 = 0.04;
const QUADRANTS: [[u8; 3]; 4] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]];

/// Red, green, blue and yellow quadrants.
fn quadrant_texture() -> DynamicImage {
    DynamicImage::ImageRgba8(RgbaImage::from_fn(64, 64, |x, y| {
        let [r, g, b] = QUADRANTS[(x / 32 + 2 * (y / 32)) as usize];
        Rgba([r, g, b, 255])
    }))
}

fn is_lit(p: &[u8]) -> bool {
    p[..3].iter().any(|&c| c > 40)
}

fn near(p: &[u8], colour: [u8; 3]) -> bool {
    p.iter()
        .zip(colour)
        .all(|(&a, b)| (a as i32 - b as i32).abs() < 70)
}

/// Renders frames until one shows points: the first frames are blank while pipelines compile.
fn first_lit_frame(app: &mut App, target: Handle<Image>) -> Vec<u8> {
    let frame = Arc::new(Mutex::new(None));
    let sink = frame.clone();
    app.world_mut()
        .spawn(Readback::texture(target))
        .observe(move |done: On<ReadbackComplete>| *sink.lock().unwrap() = Some(done.data.clone()));
    for _ in 0..1000 {
        app.update();
        if let Some(pixels) = frame.lock().unwrap().take()
            && pixels.chunks_exact(4).any(is_lit)
        {
            return pixels;
        }
    }
    panic!("no frame showed the points after 1000 updates");
}

#[test]
fn a_trained_cloud_shows_the_texture_on_a_round_silhouette() {
    let plugin = NeuralSpherePlugin::default()
        .with_backend(BackendKind::Cpu)
        .with_grid(60)
        .with_frame_budget(Duration::from_millis(100));
    let mut app = headless_app(plugin);
    app.world_mut()
        .resource_mut::<SphereSettings>()
        .point_radius = POINT_RADIUS;
    let texture = app
        .world_mut()
        .resource_mut::<Assets<Image>>()
        .add(fit_image(&quadrant_texture(), ImageFit::Crop));
    app.world_mut()
        .write_message(SphereCommand::SetImage(texture));

    let mut target = Image::new_target_texture(SIDE, SIDE, TextureFormat::Rgba8UnormSrgb, None);
    target.texture_descriptor.usage |= TextureUsages::COPY_SRC;
    let target = app.world_mut().resource_mut::<Assets<Image>>().add(target);
    app.world_mut().spawn((
        Camera3d::default(),
        Camera {
            clear_color: ClearColorConfig::Custom(Color::BLACK),
            ..default()
        },
        RenderTarget::Image(target.clone().into()),
        Projection::Orthographic(OrthographicProjection {
            scaling_mode: ScalingMode::FixedVertical {
                viewport_height: VIEW_HEIGHT,
            },
            ..OrthographicProjection::default_3d()
        }),
        Tonemapping::None,
        Msaa::Off,
        Transform::from_xyz(0.0, 0.0, 3.0).looking_at(Vec3::ZERO, Vec3::Y),
    ));

    while steps(&app) < 1500 {
        app.update();
    }
    app.world_mut().write_message(SphereCommand::Pause);
    let pixels = first_lit_frame(&mut app, target);

    let lit: Vec<(usize, &[u8])> = pixels
        .chunks_exact(4)
        .enumerate()
        .filter(|(_, p)| is_lit(p))
        .collect();
    let share = lit.len() as f64 / (SIDE * SIDE) as f64;
    assert!(
        share > 0.03,
        "only {:.1} % of the pixels show points",
        share * 100.0
    );

    // The colours are the texture's: most lit pixels are one of its four, and several show.
    let in_texture = lit
        .iter()
        .filter(|(_, p)| QUADRANTS.iter().any(|&q| near(p, q)))
        .count();
    assert!(
        in_texture as f64 > 0.7 * lit.len() as f64,
        "{in_texture} of {} lit pixels",
        lit.len()
    );
    let shown = QUADRANTS
        .iter()
        .filter(|&&q| lit.iter().filter(|(_, p)| near(p, q)).count() >= 10)
        .count();
    assert!(shown >= 2, "only {shown} of the texture's colours show");

    // Every point lies on the unit sphere, so the cloud stays inside its outline.
    let pixels_per_unit = SIDE as f32 / VIEW_HEIGHT;
    let outline = (1.0 + POINT_RADIUS) * pixels_per_unit + 1.5;
    let centre = (SIDE as f32 - 1.0) / 2.0;
    for (i, _) in &lit {
        let (x, y) = ((i % SIDE as usize) as f32, (i / SIDE as usize) as f32);
        let r = ((x - centre).powi(2) + (y - centre).powi(2)).sqrt();
        assert!(
            r <= outline,
            "a lit pixel at ({x}, {y}) lies {r:.1} px from the centre, outside {outline:.1}"
        );
    }
}

#[test]
fn images_are_fitted_to_squares_and_bad_files_are_errors() {
    let wide = DynamicImage::ImageRgba8(RgbaImage::from_pixel(200, 100, Rgba([255, 0, 0, 255])));
    let letterboxed = fit_image(&wide, ImageFit::Letterbox);
    let cropped = fit_image(&wide, ImageFit::Crop);
    let size = letterboxed.texture_descriptor.size;
    assert_eq!((size.width, size.height), (512, 512));
    let pixel = |image: &Image, x: usize, y: usize| {
        let data = image.data.as_ref().unwrap();
        data[(y * 512 + x) * 4..][..3].to_vec()
    };
    assert_eq!(
        pixel(&letterboxed, 256, 10),
        [0, 0, 0],
        "bars above a wide image"
    );
    assert_eq!(pixel(&letterboxed, 256, 256), [255, 0, 0]);
    assert_eq!(
        pixel(&cropped, 256, 10),
        [255, 0, 0],
        "a crop fills the square"
    );

    let bad = std::env::temp_dir().join(format!("neural-sphere-bad-{}.png", std::process::id()));
    std::fs::write(&bad, b"not an image").unwrap();
    let err = bevy_neural_sphere::load_image_file(&bad, ImageFit::Crop)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&*bad.to_string_lossy()), "{err}");
    std::fs::remove_file(bad).unwrap();
}
