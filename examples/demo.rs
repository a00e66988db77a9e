//! The full demo: live training (on the GPU where there is one), the control panel, the orbit
//! camera and the bundled images.
//!
//! ```text
//! cargo run --release --example demo [-- --backend auto|wgpu|cpu] [--preset closed] [--grid 100]
//!     [--view points|surface|batch]
//! cargo run --release --example demo -- --headless-frames 300 [--paused]   # timing, no window
//! cargo run --release --example demo -- --headless-frames 300 --spheres 3  # spheres side by side
//! cargo run --release --example demo -- --log-fps                          # fps in the log
//! web/build.sh      # the same demo as a web page, in web/dist (query: ?preset=closed&grid=64)
//! ```

#[path = "support/light.rs"]
mod light;
#[path = "support/cli.rs"]
mod support;
#[cfg(target_arch = "wasm32")]
#[path = "support/web.rs"]
mod web;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bevy::camera::RenderTarget;
use bevy::diagnostic::{FrameTimeDiagnosticsPlugin, LogDiagnosticsPlugin};
use bevy::platform::time::Instant;
use bevy::prelude::*;
use bevy::render::gpu_readback::{Readback, ReadbackComplete};
use bevy::render::render_resource::{TextureFormat, TextureUsages};
use bevy::window::ExitCondition;
use bevy::winit::WinitPlugin;
use bevy_neural_sphere::{
    BackendKind, ColourMode, Error, ImageFit, NeuralSphere, NeuralSpherePlugin,
    NeuralSphereUiPlugin, Preset, SphereCamera, SphereCameraPlugin, SphereQuality, SphereView,
    TrainingState,
};
use clap::Parser;
#[cfg(target_arch = "wasm32")]
use web::bundled_images;

/// The neural sphere demo.
#[derive(Parser)]
struct Args {
    /// `auto` (a hardware GPU through Bevy's own device, else the CPU), `wgpu` or `cpu`.
    #[arg(long, default_value_t = BackendKind::Auto)]
    backend: BackendKind,
    /// What to train: `seed` (the notebook's) or `closed` (closes the sphere).
    #[arg(long, default_value = "seed")]
    preset: Preset,
    /// Side of the grid of points, 2 to 1024.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(2..=1024))]
    grid: u32,
    /// `points`; `surface`, the grid's cells as a textured sheet; or `batch`, the notebook's
    /// picture of the latest training batch.
    #[arg(long, default_value = "points")]
    view: SphereView,
    /// `texture`, `notebook` (the notebook's red/green), or a distortion view: `area` or
    /// `shape`.
    #[arg(long, default_value = "texture")]
    colour: ColourMode,
    /// Render this many 1280x720 frames without a window, then print the time to the first
    /// picture, the frame rate, the training speed and, with `--preset closed`, when the
    /// sphere closed.
    #[arg(long)]
    headless_frames: Option<u32>,
    /// Start with training paused.
    #[arg(long)]
    paused: bool,
    /// Start from the shipped pretrained sphere, `assets/spheres/closed.mpk` (with `--paused`,
    /// no training thread runs).
    #[arg(long)]
    pretrained: bool,
    /// Light the sphere with a light over the camera's shoulder: `on`, `off` (the colours as
    /// they are) or `auto`, on except on a software renderer, where lighting each point costs
    /// about 1.6 times the frame.
    #[arg(long, value_enum, default_value_t = Light::Auto)]
    light: Light,
    /// The light casts shadows (the sphere's on itself, in this scene).
    #[arg(long)]
    shadows: bool,
    /// An image to colour the points with (default: the built-in UV grid).
    #[arg(long)]
    image: Option<std::path::PathBuf>,
    /// How a non-square image fills the square: `stretch`, `extend` (its edges repeated),
    /// `letterbox` or `crop`.
    #[arg(long, default_value = "stretch")]
    fit: ImageFit,
    /// Log the frame rate and frame time every second.
    #[arg(long)]
    log_fps: bool,
    /// Train and show this many spheres, side by side in a square, each as the options say
    /// (`--headless-frames` sums their training steps).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    spheres: u32,
}

/// Whether the sphere is lit.
#[derive(Clone, Copy, PartialEq, clap::ValueEnum)]
enum Light {
    Auto,
    On,
    Off,
}

fn main() -> ExitCode {
    support::main_with(run)
}

fn run(args: &Args) -> Result<(), Error> {
    let started = Instant::now();
    #[cfg(not(target_arch = "wasm32"))]
    let software =
        bevy_neural_sphere::learn::render_adapter()?.device_type == wgpu::DeviceType::Cpu;
    #[cfg(target_arch = "wasm32")]
    let software = false;
    let mut library = bundled_images();
    library.request = args.image.clone();
    library.fit = args.fit;

    let mut sphere = NeuralSphere::default()
        .with_backend(args.backend)
        .with_train_config(args.preset.config())
        .with_grid(args.grid)
        .with_view(args.view)
        .with_colour(args.colour);
    if args.paused {
        sphere = sphere.paused();
    }
    if args.light == Light::Off || (args.light == Light::Auto && software) {
        sphere = sphere.unlit();
    }
    let mut app = App::new();
    let window = match args.headless_frames {
        Some(_) => WindowPlugin {
            primary_window: None,
            exit_condition: ExitCondition::DontExit,
            ..default()
        },
        None => WindowPlugin {
            primary_window: Some(Window {
                title: "Neural sphere".into(),
                // In a browser: the page's canvas, as large as the page.
                canvas: Some("#sphere".into()),
                fit_canvas_to_parent: true,
                ..default()
            }),
            ..default()
        },
    };
    let mut plugins = DefaultPlugins.set(window);
    if args.headless_frames.is_some() {
        plugins = plugins.disable::<WinitPlugin>();
    }
    app.add_plugins(plugins)
        .add_plugins((NeuralSpherePlugin, NeuralSphereUiPlugin, SphereCameraPlugin))
        .insert_resource(library)
        .insert_resource(ClearColor(Color::srgb(0.05, 0.05, 0.08)))
        .add_observer(light::light_camera);
    if args.shadows {
        app.insert_resource(light::Shadows);
    }
    #[cfg(target_arch = "wasm32")]
    app.add_plugins(web::PagePlugin);
    if args.log_fps {
        app.add_plugins((
            FrameTimeDiagnosticsPlugin::default(),
            LogDiagnosticsPlugin::default(),
        ));
    }

    if args.pretrained {
        let closed = app
            .world()
            .resource::<AssetServer>()
            .load("spheres/closed.mpk");
        sphere = sphere.with_checkpoint(closed);
    }
    spawn_spheres(app.world_mut(), sphere, args.spheres);
    match args.headless_frames {
        None => {
            app.add_systems(Startup, |mut commands: Commands| {
                commands.spawn(SphereCamera::default());
            })
            .run();
        }
        Some(frames) => time_frames(app, frames, args.preset, started),
    }
    Ok(())
}

/// Spawns `count` copies of `sphere` in a square of side 2 around the origin, where one sphere
/// alone is.
fn spawn_spheres(world: &mut World, sphere: NeuralSphere, count: u32) {
    let side = (count as f32).sqrt().ceil() as u32;
    let scale = 1.0 / side as f32;
    for i in 0..count {
        let cell = Vec2::new((i % side) as f32, (i / side) as f32);
        let at = (cell * 2.0 + 1.0) * scale - 1.0;
        let name = match count {
            1 => "sphere".to_string(),
            _ => format!("sphere {}", i + 1),
        };
        world.spawn((
            sphere.clone(),
            Name::new(name),
            Transform::from_xyz(at.x, -at.y, 0.0).with_scale(Vec3::splat(scale)),
        ));
    }
}

/// The images in `assets/images`.
#[cfg(not(target_arch = "wasm32"))]
fn bundled_images() -> bevy_neural_sphere::ImageLibrary {
    let images = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/images");
    let mut files: Vec<_> = std::fs::read_dir(&images)
        .map(|dir| dir.filter_map(|entry| Some(entry.ok()?.path())).collect())
        .unwrap_or_default();
    files.sort();
    bevy_neural_sphere::ImageLibrary::new(files)
}

/// Renders 1280x720 frames offscreen and prints how long the first picture took, then the
/// frame rate and training speed over `frames` frames and, for the closed preset, when the
/// sphere closed.
fn time_frames(mut app: App, frames: u32, preset: Preset, started: Instant) {
    let mut target = Image::new_target_texture(1280, 720, TextureFormat::Rgba8UnormSrgb, None);
    target.texture_descriptor.usage |= TextureUsages::COPY_SRC;
    let target = app.world_mut().resource_mut::<Assets<Image>>().add(target);
    app.world_mut().spawn((
        SphereCamera::default(),
        RenderTarget::Image(target.clone().into()),
    ));
    app.finish();
    app.cleanup();

    // The first frames are blank while the pipelines compile.
    let lit = Arc::new(AtomicBool::new(false));
    let seen = lit.clone();
    let readback = app
        .world_mut()
        .spawn(Readback::texture(target))
        .observe(move |frame: On<ReadbackComplete>| {
            if shows_sphere(&frame.data) {
                seen.store(true, Ordering::Relaxed);
            }
        })
        .id();
    let mut closed = Closed::default();
    while !lit.load(Ordering::Relaxed) {
        app.update();
        closed.check(&mut app, started);
    }
    let first_frame = started.elapsed().as_secs_f64();
    app.world_mut().despawn(readback);
    println!("first frame showing the sphere after {first_frame:.1} s");

    for _ in 0..30 {
        app.update();
        closed.check(&mut app, started);
    }
    let steps_before = steps(&mut app);
    let timing = Instant::now();
    let mut slowest = Duration::ZERO;
    for _ in 0..frames {
        let frame = Instant::now();
        app.update();
        slowest = slowest.max(frame.elapsed());
        closed.check(&mut app, started);
    }
    let seconds = timing.elapsed().as_secs_f64();
    let steps = steps(&mut app) - steps_before;
    let world = app.world_mut();
    let state = world.query::<&TrainingState>().iter(world).next().unwrap();
    println!("{}; {}", state.backend(), state.training_path());
    println!(
        "{frames} frames: {:.1} fps ({:.1} ms/frame, slowest {:.1} ms), {:.0} training steps/s",
        frames as f64 / seconds,
        seconds * 1000.0 / frames as f64,
        slowest.as_secs_f64() * 1000.0,
        steps as f64 / seconds,
    );
    if preset == Preset::Closed {
        while closed.at.is_none() && started.elapsed() < CLOSING_TIME_LIMIT {
            app.update();
            closed.check(&mut app, started);
        }
        match closed.at {
            Some((seconds, step)) => println!(
                "closed (coverage >= 99 %, largest empty cap <= 5 deg, no torn neighbours, covered twice < 0.5 %) after {seconds:.1} s, at step {step}"
            ),
            None => println!("not closed after {} s", CLOSING_TIME_LIMIT.as_secs()),
        }
    }
}

/// How long `--headless-frames` waits for the closed preset to close.
const CLOSING_TIME_LIMIT: Duration = Duration::from_secs(300);

/// When the first sphere was first measured closed: seconds since start, and the step.
#[derive(Default)]
struct Closed {
    at: Option<(f64, usize)>,
}

impl Closed {
    fn check(&mut self, app: &mut App, started: Instant) {
        let world = app.world_mut();
        let quality = world.query::<&SphereQuality>().iter(world).next().unwrap();
        if self.at.is_none() && quality.is_closed() {
            self.at = Some((started.elapsed().as_secs_f64(), quality.step()));
        }
    }
}

/// The steps all spheres have trained.
fn steps(app: &mut App) -> usize {
    let world = app.world_mut();
    world
        .query::<&TrainingState>()
        .iter(world)
        .map(|s| s.steps())
        .sum()
}

/// Whether any pixel differs from the corner's, the background.
fn shows_sphere(rgba: &[u8]) -> bool {
    let corner = &rgba[..4.min(rgba.len())];
    rgba.chunks_exact(4).any(|p| {
        p.iter()
            .zip(corner)
            .any(|(&a, &b)| (a as i32 - b as i32).abs() > 8)
    })
}
