//! Frames rendered headless and read back.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use bevy::camera::{RenderTarget, ScalingMode};
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::prelude::*;
use bevy::render::gpu_readback::{Readback, ReadbackComplete};
use bevy::render::render_resource::{TextureFormat, TextureUsages};
use bevy_neural_sphere::{
    BackendKind, ColourMode, ImageFit, NeuralSphere, SphereCommand, SphereView, fit_image,
};
use image::{DynamicImage, Rgba, RgbaImage};

use crate::app::{progress, send, settings, sphere_app, state, train_exactly, update_until};
use crate::wait::Progress;

pub const SIDE: u32 = 128;
/// The orthographic view spans this many world units vertically.
pub const VIEW_HEIGHT: f32 = 2.4;
pub const POINT_RADIUS: f32 = 0.04;
pub const QUADRANTS: [[u8; 3]; 4] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]];

/// Red, green, blue and yellow quadrants.
pub fn quadrant_texture() -> DynamicImage {
    DynamicImage::ImageRgba8(RgbaImage::from_fn(64, 64, |x, y| {
        let [r, g, b] = QUADRANTS[(x / 32 + 2 * (y / 32)) as usize];
        Rgba([r, g, b, 255])
    }))
}

pub fn is_lit(p: &[u8]) -> bool {
    p[..3].iter().any(|&c| c > 40)
}

pub fn near(p: &[u8], colour: [u8; 3]) -> bool {
    p.iter()
        .zip(colour)
        .all(|(&a, b)| (a as i32 - b as i32).abs() < 70)
}

/// Renders frames until one passes `wanted`: the first frames are blank while pipelines
/// compile, and a change reaches the read-back a frame or two late. The wait goes on while
/// the app moves or the frame changes.
pub fn frame_where(
    app: &mut App,
    target: Handle<Image>,
    wanted: impl Fn(&[u8]) -> bool,
) -> Vec<u8> {
    let frame = Arc::new(Mutex::new(None));
    let sink = frame.clone();
    let readback = app
        .world_mut()
        .spawn(Readback::texture(target))
        .observe(move |done: On<ReadbackComplete>| *sink.lock().unwrap() = Some(done.data.clone()))
        .id();
    let mut waited = Progress::new("a frame that shows what was wanted");
    let mut last_frame = 0;
    loop {
        app.update();
        if let Some(pixels) = frame.lock().unwrap().take() {
            if wanted(&pixels) {
                app.world_mut().despawn(readback);
                return pixels;
            }
            last_frame = hash(&pixels);
        }
        waited.check((last_frame, progress(app)));
    }
}

fn hash(pixels: &[u8]) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    pixels.hash(&mut hasher);
    hasher.finish()
}

pub fn shows_points(pixels: &[u8]) -> bool {
    pixels.chunks_exact(4).any(is_lit)
}

/// The lit pixels, with their index.
pub fn lit_pixels(pixels: &[u8]) -> Vec<(usize, &[u8])> {
    pixels
        .chunks_exact(4)
        .enumerate()
        .filter(|(_, p)| is_lit(p))
        .collect()
}

/// A pixel's distance from the image centre along x and y.
pub fn from_centre(i: usize) -> (f32, f32) {
    let centre = (SIDE as f32 - 1.0) / 2.0;
    let (x, y) = ((i % SIDE as usize) as f32, (i / SIDE as usize) as f32);
    (x - centre, y - centre)
}

pub const PIXELS_PER_UNIT: f32 = SIDE as f32 / VIEW_HEIGHT;

/// An app looking at the points straight on through an orthographic camera, the points
/// coloured with the quadrant texture as it is (unlit: the scene has no light), paused; and
/// the image it renders to.
pub fn quadrant_app(sphere: NeuralSphere) -> (App, Handle<Image>) {
    let sphere = NeuralSphere {
        point_radius: POINT_RADIUS,
        ..sphere.paused().unlit()
    };
    let mut app = sphere_app(sphere, ());
    let texture = app
        .world_mut()
        .resource_mut::<Assets<Image>>()
        .add(fit_image(&quadrant_texture(), ImageFit::Crop));
    let sphere = crate::app::the_sphere(&app);
    app.world_mut()
        .trigger(SphereCommand::SetImage(texture).to(sphere));

    let target = ortho_camera(&mut app, VIEW_HEIGHT, 3.0);
    (app, target)
}

/// A camera `distance` from the origin on +z, looking at it through an orthographic view
/// `height` units high, and the [`SIDE`]² image it renders to.
pub fn ortho_camera(app: &mut App, height: f32, distance: f32) -> Handle<Image> {
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
                viewport_height: height,
            },
            ..OrthographicProjection::default_3d()
        }),
        Tonemapping::None,
        Msaa::Off,
        Transform::from_xyz(0.0, 0.0, distance).looking_at(Vec3::ZERO, Vec3::Y),
    ));
    target
}

/// Every lit pixel lies within the unit sphere's outline.
pub fn assert_round(lit: &[(usize, &[u8])]) {
    let outline = (1.0 + POINT_RADIUS) * PIXELS_PER_UNIT + 1.5;
    for (i, _) in lit {
        let (x, y) = from_centre(*i);
        let r = (x * x + y * y).sqrt();
        assert!(
            r <= outline,
            "a lit pixel at {:?} lies {r:.1} px from the centre, outside {outline:.1}",
            from_centre(*i)
        );
    }
}

#[test]
fn a_trained_cloud_shows_the_texture_on_a_round_silhouette_and_morphs_to_the_square() {
    let sphere = NeuralSphere::default()
        .with_backend(BackendKind::Cpu)
        .with_grid(60);
    let (mut app, target) = quadrant_app(sphere);
    train_exactly(&mut app, 1500);
    let pixels = frame_where(&mut app, target.clone(), shows_points);

    let lit = lit_pixels(&pixels);
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
    assert_round(&lit);

    // Morphed back, the points lie on the square [-1, 1]², each quadrant in its colour: red
    // top left, green top right, blue bottom left, yellow bottom right.
    settings(&mut app).morph = 0.0;
    let corner = 0.9 * PIXELS_PER_UNIT;
    let square = frame_where(&mut app, target, |pixels| {
        lit_pixels(pixels).iter().any(|(i, _)| {
            let (x, y) = from_centre(*i);
            x.abs() > corner && y.abs() > corner
        })
    });
    let lit = lit_pixels(&square);
    let edge = (1.0 + POINT_RADIUS) * PIXELS_PER_UNIT + 1.5;
    for (i, p) in &lit {
        let (x, y) = from_centre(*i);
        assert!(
            x.abs() <= edge && y.abs() <= edge,
            "a lit pixel at {x}, {y}"
        );
        if x.abs() < 4.0 || y.abs() < 4.0 {
            continue;
        }
        let quadrant = usize::from(x > 0.0) + 2 * usize::from(y > 0.0);
        assert!(near(p, QUADRANTS[quadrant]), "{p:?} at {x}, {y}");
    }
    let filled = lit.len() as f32 / (2.0 * PIXELS_PER_UNIT).powi(2);
    assert!(
        filled > 0.5,
        "the points fill {:.0} % of the square",
        filled * 100.0
    );
}

/// The mean colour of the lit pixels near each corner of the square [-1, 1]²: top left, top
/// right, bottom left, bottom right. `None` while a corner shows nothing.
fn corner_colours(pixels: &[u8]) -> Option<[[f32; 3]; 4]> {
    let near_corner = 0.5 * PIXELS_PER_UNIT..0.95 * PIXELS_PER_UNIT;
    let mut sums = [[0.0f32; 4]; 4];
    for (i, p) in lit_pixels(pixels) {
        let (x, y) = from_centre(i);
        if near_corner.contains(&x.abs()) && near_corner.contains(&y.abs()) {
            let sum = &mut sums[usize::from(x > 0.0) + 2 * usize::from(y > 0.0)];
            (0..3).for_each(|c| sum[c] += p[c] as f32);
            sum[3] += 1.0;
        }
    }
    (sums.iter().all(|s| s[3] > 0.0)).then(|| sums.map(|s| [s[0], s[1], s[2]].map(|c| c / s[3])))
}

/// Red grows with u (left to right), green with v (top to bottom), and there is no blue.
fn assert_notebook_colours(pixels: &[u8], what: &str) {
    let [top_left, top_right, bottom_left, bottom_right] = corner_colours(pixels).unwrap();
    for (left, right) in [(top_left, top_right), (bottom_left, bottom_right)] {
        assert!(
            right[0] > left[0] + 40.0,
            "{what}: red {left:?} → {right:?}"
        );
    }
    for (top, bottom) in [(top_left, bottom_left), (top_right, bottom_right)] {
        assert!(
            bottom[1] > top[1] + 40.0,
            "{what}: green {top:?} → {bottom:?}"
        );
    }
    for corner in [top_left, top_right, bottom_left, bottom_right] {
        assert!(corner[2] < 15.0, "{what}: blue in {corner:?}");
    }
}

#[test]
fn the_notebook_colours_grow_red_along_u_and_green_along_v_on_points_and_surface() {
    let sphere = NeuralSphere::default()
        .with_backend(BackendKind::Cpu)
        .with_grid(30);
    let (mut app, target) = quadrant_app(sphere);
    let mut sphere = settings(&mut app);
    sphere.colour_mode = ColourMode::Notebook;
    sphere.morph = 0.0;
    sphere.lit = false;
    let points = frame_where(&mut app, target.clone(), |p| corner_colours(p).is_some());
    assert_notebook_colours(&points, "points");

    settings(&mut app).view = SphereView::Surface;
    let surface = frame_where(&mut app, target, |p| {
        p != points.as_slice() && corner_colours(p).is_some()
    });
    assert_notebook_colours(&surface, "surface");
}

#[test]
fn positions_written_on_the_gpu_draw_what_uploaded_ones_draw() {
    let checkpoint =
        std::env::temp_dir().join(format!("neural-sphere-render-{}.mpk", std::process::id()));
    let cpu = NeuralSphere::default()
        .with_backend(BackendKind::Cpu)
        .with_grid(30);
    let uploaded = {
        let (mut app, target) = quadrant_app(cpu);
        train_exactly(&mut app, 1500);
        send(&mut app, SphereCommand::Save(checkpoint.clone()));
        update_until(&mut app, "the save", |app| state(app).notice().is_some());
        assert!(!state(&app).positions_on_gpu());
        frame_where(&mut app, target, shows_points)
    };

    // wgpu trains on Bevy's own device (software Vulkan here), and the network writes the
    // positions into the point buffer there. Paused: no kernels to tune beyond the forward pass.
    let gpu = NeuralSphere::default()
        .with_backend(BackendKind::Wgpu)
        .with_grid(30);
    let (mut app, target) = quadrant_app(gpu);
    send(&mut app, SphereCommand::Load(checkpoint.clone()));
    update_until(
        &mut app,
        "positions of the loaded network on the GPU",
        |app| state(app).positions_on_gpu() && state(app).positions_step() == Some(1500),
    );
    let copied = frame_where(&mut app, target, shows_points);
    std::fs::remove_file(checkpoint).unwrap();

    let lit = lit_pixels(&copied);
    assert!(lit.len() > 500, "only {} lit pixels", lit.len());
    assert_round(&lit);
    let differ = (uploaded.chunks_exact(4).zip(copied.chunks_exact(4)))
        .filter(|(a, b)| a.iter().zip(b.iter()).any(|(x, y)| x.abs_diff(*y) > 8))
        .count();
    assert!(
        differ * 100 <= lit.len(),
        "{differ} pixels differ between the two pictures ({} lit)",
        lit.len()
    );
}

#[test]
fn images_are_fitted_to_squares_and_bad_files_are_errors() {
    let wide = DynamicImage::ImageRgba8(RgbaImage::from_pixel(200, 100, Rgba([255, 0, 0, 255])));
    let letterboxed = fit_image(&wide, ImageFit::Letterbox);
    let cropped = fit_image(&wide, ImageFit::Crop);
    // At the image's own resolution: its longer side letterboxed, its shorter cropped.
    let side = |image: &Image| image.texture_descriptor.size;
    assert_eq!(
        (side(&letterboxed).width, side(&letterboxed).height),
        (200, 200)
    );
    assert_eq!((side(&cropped).width, side(&cropped).height), (100, 100));
    let pixel = |image: &Image, x: usize, y: usize| {
        let data = image.data.as_ref().unwrap();
        let width = image.width() as usize;
        data[(y * width + x) * 4..][..3].to_vec()
    };
    assert_eq!(
        pixel(&letterboxed, 100, 10),
        [0, 0, 0],
        "bars above a wide image"
    );
    assert_eq!(pixel(&letterboxed, 100, 100), [255, 0, 0]);
    assert_eq!(
        pixel(&cropped, 50, 2),
        [255, 0, 0],
        "a crop fills the square"
    );
    // Stretched: the whole square red. Extended: the bars repeat the image's top row (green)
    // above and its bottom row (red) below.
    let stretched = fit_image(&wide, ImageFit::Stretch);
    assert_eq!(side(&stretched).width, 200);
    for y in [0, 10, 100, 199] {
        assert_eq!(pixel(&stretched, 100, y), [255, 0, 0], "row {y}");
    }
    let two_tone = DynamicImage::ImageRgba8(RgbaImage::from_fn(200, 100, |_, y| match y < 50 {
        true => Rgba([0, 255, 0, 255]),
        false => Rgba([255, 0, 0, 255]),
    }));
    let extended = fit_image(&two_tone, ImageFit::Extend);
    assert_eq!(side(&extended).width, 200);
    assert_eq!(pixel(&extended, 100, 10), [0, 255, 0]);
    assert_eq!(pixel(&extended, 100, 190), [255, 0, 0]);
    assert_eq!(
        "stretch".parse::<ImageFit>().unwrap(),
        ImageFit::default(),
        "a sphere filled by default"
    );
    // Mipmaps down to one pixel (200, 100, 50, 25, 12, 6, 3, 1), made in linear light: in the
    // 50×50 level, row 12 straddles the red band's top edge, so it is red at half the light
    // (188 in sRGB), not at half the byte value (128).
    assert_eq!(letterboxed.texture_descriptor.mip_level_count, 8);
    let data = letterboxed.data.as_ref().unwrap();
    let levels: usize = (0..8).map(|k| (200usize >> k).max(1).pow(2) * 4).sum();
    assert_eq!(data.len(), levels);
    let level_2 = &data[(200 * 200 + 100 * 100) * 4..];
    let edge = &level_2[(12 * 50 + 25) * 4..][..4];
    assert!(
        (edge[0] as i32 - 188).abs() <= 1 && edge[1] == 0,
        "{edge:?}"
    );

    let bad = std::env::temp_dir().join(format!("neural-sphere-bad-{}.png", std::process::id()));
    std::fs::write(&bad, b"not an image").unwrap();
    let err = bevy_neural_sphere::load_image_file(&bad, ImageFit::Crop)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&*bad.to_string_lossy()), "{err}");
    // A file's contents in memory (a browser's upload) decode as the file does, and bad bytes
    // are an error naming the upload.
    let earth = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/images/earth.jpg");
    let from_memory = bevy_neural_sphere::learn::read_image_bytes(
        std::path::Path::new("earth.jpg"),
        &std::fs::read(&earth).unwrap(),
        ImageFit::Stretch,
    )
    .unwrap();
    let from_file = bevy_neural_sphere::learn::read_image_file(&earth, ImageFit::Stretch).unwrap();
    assert!(from_memory == from_file, "memory and file decode alike");
    let err = bevy_neural_sphere::learn::read_image_bytes(
        std::path::Path::new("upload.png"),
        b"not an image",
        ImageFit::Crop,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("upload.png"), "{err}");

    // A black and white checkerboard of single pixels: a texel read at full size is black or
    // white, while a point of a coarse grid shows its cell's mean, half the light (188 sRGB).
    let checker = DynamicImage::ImageRgba8(RgbaImage::from_fn(64, 64, |x, y| {
        let c = if (x + y) % 2 == 0 { 0 } else { 255 };
        Rgba([c, c, c, 255])
    }));
    let checker = fit_image(&checker, ImageFit::Crop);
    let texel_centre = [0.5 / 64.0, 0.5 / 64.0];
    assert_eq!(
        bevy_neural_sphere::sample_texture(&checker, texel_centre),
        [0, 0, 0]
    );
    for uv in [[0.3, 0.3], [0.5, 0.71], [0.9, 0.1]] {
        let [r, g, b] = bevy_neural_sphere::point_colour(&checker, uv, 9);
        assert!(
            (r as i32 - 188).abs() <= 2 && r == g && g == b,
            "{:?} at {uv:?}",
            [r, g, b]
        );
    }

    // A PNG header that claims 40000×40000 pixels is refused before any pixel is read.
    let chunk = |kind: &[u8], data: &[u8]| {
        let body = [kind, data].concat();
        let crc = crc32(&body);
        [
            &(data.len() as u32).to_be_bytes()[..],
            &body,
            &crc.to_be_bytes(),
        ]
        .concat()
    };
    let header = [
        &40_000u32.to_be_bytes()[..],
        &40_000u32.to_be_bytes(),
        &[8, 2, 0, 0, 0],
    ]
    .concat();
    let huge = [
        &b"\x89PNG\r\n\x1a\n"[..],
        &chunk(b"IHDR", &header),
        // No pixels: a zlib stream of nothing.
        &chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0, 0, 0, 0, 1]),
        &chunk(b"IEND", &[]),
    ]
    .concat();
    std::fs::write(&bad, huge).unwrap();
    let err = bevy_neural_sphere::load_image_file(&bad, ImageFit::Crop)
        .unwrap_err()
        .to_string();
    assert!(err.contains("40000×40000 pixels"), "{err}");
    std::fs::remove_file(bad).unwrap();
}

/// PNG's CRC-32 of a chunk's type and data.
fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &byte| {
        (0..8).fold(crc ^ byte as u32, |c, _| {
            (c >> 1) ^ (0xEDB8_8320 & (c & 1).wrapping_neg())
        })
    })
}
