//! The full demo: live training on the GPU, the control panel, the orbit camera and the
//! bundled images.
//!
//! ```text
//! cargo run --release --example demo [-- --backend cpu] [--grid 100]
//! cargo run --release --example demo -- --headless-frames 300 [--paused]   # timing, no window
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use bevy::camera::RenderTarget;
use bevy::prelude::*;
use bevy::render::render_resource::TextureFormat;
use bevy::window::ExitCondition;
use bevy::winit::WinitPlugin;
use bevy_neural_sphere::{
    BackendKind, ImageLibrary, NeuralSpherePlugin, NeuralSphereUiPlugin, SphereCamera,
    SphereCameraPlugin, TrainingState,
};
use clap::Parser;

/// The neural sphere demo.
#[derive(Parser)]
struct Args {
    /// `wgpu` (Bevy's own GPU device) or `cpu`.
    #[arg(long, default_value_t = BackendKind::Wgpu)]
    backend: BackendKind,
    /// Side of the grid of points.
    #[arg(long, default_value_t = 100)]
    grid: u32,
    /// Render this many 1280x720 frames without a window, then print the frame rate.
    #[arg(long)]
    headless_frames: Option<u32>,
    /// Start with training paused.
    #[arg(long)]
    paused: bool,
    /// An image to colour the points with (default: the built-in UV grid).
    #[arg(long)]
    image: Option<std::path::PathBuf>,
}

fn main() {
    let args = Args::parse();
    let images = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/images");
    let mut files: Vec<_> = std::fs::read_dir(&images)
        .map(|dir| dir.filter_map(|entry| Some(entry.ok()?.path())).collect())
        .unwrap_or_default();
    files.sort();

    let mut library = ImageLibrary::new(files);
    library.request = args.image.clone();

    let mut sphere = NeuralSpherePlugin::default()
        .with_backend(args.backend)
        .with_grid(args.grid);
    if args.paused {
        sphere = sphere.paused();
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
        .add_plugins((sphere, NeuralSphereUiPlugin, SphereCameraPlugin))
        .insert_resource(library)
        .insert_resource(ClearColor(Color::srgb(0.05, 0.05, 0.08)));

    match args.headless_frames {
        None => {
            app.add_systems(Startup, |mut commands: Commands| {
                commands.spawn(SphereCamera::default());
            })
            .run();
        }
        Some(frames) => time_frames(app, frames),
    }
}

/// Renders `frames` frames into an offscreen 1280x720 image and prints the frame rate and the
/// training speed, after the frames it takes the pipelines to compile.
fn time_frames(mut app: App, frames: u32) {
    let target = Image::new_target_texture(1280, 720, TextureFormat::Rgba8UnormSrgb, None);
    let target = app.world_mut().resource_mut::<Assets<Image>>().add(target);
    app.world_mut()
        .spawn((SphereCamera::default(), RenderTarget::Image(target.into())));
    app.finish();
    app.cleanup();
    let warm_up = 60;
    for _ in 0..warm_up {
        app.update();
    }
    let steps_before = app.world().resource::<TrainingState>().history.len();
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for _ in 0..frames {
        let frame = Instant::now();
        app.update();
        slowest = slowest.max(frame.elapsed());
    }
    let seconds = started.elapsed().as_secs_f64();
    let steps = app.world().resource::<TrainingState>().history.len() - steps_before;
    println!(
        "{frames} frames after {warm_up} warm-up: {:.1} fps ({:.1} ms/frame, slowest {:.1} ms), {:.0} training steps/s",
        frames as f64 / seconds,
        seconds * 1000.0 / frames as f64,
        slowest.as_secs_f64() * 1000.0,
        steps as f64 / seconds,
    );
}
