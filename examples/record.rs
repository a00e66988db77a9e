//! Records an orbit around the texture mapped onto a trained sphere, headless: MP4 (through the
//! system `ffmpeg`), GIF, or a folder of PNG frames, picked by the output's extension.
//!
//! ```text
//! cargo run --release --example record -- --train-steps 10000 --preset closed --backend cpu \
//!     --image assets/images/earth.jpg --view surface --out orbit.mp4
//! cargo run --release --example record -- --checkpoint runs/first/model.mpk --out orbit.gif
//! ```

#[path = "support/light.rs"]
mod light;
#[path = "support/cli.rs"]
mod support;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy::window::ExitCondition;
use bevy::winit::WinitPlugin;
use bevy_neural_sphere::{
    BackendKind, ColourMode, Error, ImageFit, NeuralSphere, NeuralSpherePlugin, OrbitSpec, Preset,
    RecordOrbit, RecordingStatus, SphereCommand, SphereImage, SphereView, TrainingState,
    learn::{Checkpoint, Trainer, TrainingDevice, render_adapter, training_device},
    load_image_file,
};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

/// Record an orbit video of an image mapped onto the learned sphere.
#[derive(Parser)]
struct Args {
    /// The image to map (default: the built-in UV test grid).
    #[arg(long)]
    image: Option<PathBuf>,
    /// How a non-square image fills the square: `stretch`, `extend` (its edges repeated),
    /// `letterbox` or `crop`.
    #[arg(long, default_value = "stretch")]
    fit: ImageFit,
    /// A checkpoint written by the `train` example.
    #[arg(long, conflicts_with = "train_steps")]
    checkpoint: Option<PathBuf>,
    /// Train this many steps first (the checkpoint is saved beside the video).
    #[arg(long)]
    train_steps: Option<usize>,
    /// What to train with --train-steps: `seed` or `closed`.
    #[arg(long, default_value = "closed")]
    preset: Preset,
    /// Where to train with --train-steps: `auto` (a hardware GPU, else the CPU), `wgpu` or
    /// `cpu`.
    #[arg(long, default_value_t = BackendKind::Auto)]
    backend: BackendKind,
    /// Seed of the training run.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Frames in the video.
    #[arg(long, default_value_t = 240)]
    frames: u32,
    /// Frames per second.
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Width x height in pixels.
    #[arg(long, default_value = "1280x720", value_parser = parse_size)]
    size: UVec2,
    /// Full turns of the camera.
    #[arg(long, default_value_t = 1)]
    orbits: u32,
    /// Camera height above the equator, in degrees.
    #[arg(long, default_value_t = 20.0)]
    elevation: f32,
    /// Side of the grid of points.
    #[arg(long, default_value_t = 100)]
    grid: u32,
    /// Radius of each point (default 2.5 / grid: the points overlap into a closed surface).
    #[arg(long)]
    point_radius: Option<f32>,
    /// `points`, or `surface`: the grid's cells as a sheet textured at the image's resolution.
    #[arg(long, default_value = "points")]
    view: SphereView,
    /// `texture`, `notebook` (the notebook's red/green), or a distortion view: `area` or
    /// `shape`.
    #[arg(long, default_value = "texture")]
    colour: ColourMode,
    /// Show the surface's texture as it is, without the light.
    #[arg(long)]
    unlit: bool,
    /// `.mp4`, `.gif`, or a folder (no extension) for numbered PNG frames.
    #[arg(long)]
    out: PathBuf,
}

fn parse_size(s: &str) -> Result<UVec2, String> {
    let parsed = s
        .split_once('x')
        .and_then(|(w, h)| Some(UVec2::new(w.parse().ok()?, h.parse().ok()?)));
    parsed.ok_or_else(|| format!("'{s}' is not WIDTHxHEIGHT, for example 1280x720"))
}

fn main() -> ExitCode {
    support::main_with(run)
}

fn run(args: &Args) -> Result<(), Error> {
    let spec = OrbitSpec {
        frames: args.frames,
        fps: args.fps,
        size: args.size,
        orbits: args.orbits,
        elevation_deg: args.elevation,
        ..OrbitSpec::new(&args.out)
    };
    // Everything that can fail early does, before any training or rendering.
    spec.validate()?;
    render_adapter()?;
    let texture = match &args.image {
        Some(path) => Some(load_image_file(path, args.fit)?),
        None => None,
    };
    let checkpoint = match (&args.checkpoint, args.train_steps) {
        (Some(path), _) => path.clone(),
        (None, Some(steps)) => {
            let path = args.out.with_extension("mpk");
            let (device, choice) = training_device(args.backend)?;
            println!("{choice}");
            train(args, steps, &path, &device)?;
            path
        }
        (None, None) => {
            return Err(Error::Config(
                "give --checkpoint FILE or --train-steps N".into(),
            ));
        }
    };
    Checkpoint::load(&checkpoint)?;
    record(args, spec, texture, checkpoint)
}

/// Trains with a progress bar and saves the checkpoint to `path`.
fn train(
    args: &Args,
    steps: usize,
    path: &std::path::Path,
    device: &TrainingDevice,
) -> Result<(), Error> {
    let config = args.preset.config().with_seed(args.seed);
    let mut trainer = Trainer::new(config, device)?;
    let bar = progress_bar(steps as u64, "steps");
    while trainer.steps_done() < steps {
        let chunk = trainer.train((steps - trainer.steps_done()).min(100));
        bar.inc(chunk.inspect_err(|_| bar.finish_and_clear())?.len() as u64);
    }
    bar.finish_and_clear();
    let saved = trainer.save(path)?;
    println!("trained {steps} steps; saved {}", saved.display());
    Ok(())
}

fn progress_bar(length: u64, unit: &str) -> ProgressBar {
    ProgressBar::new(length).with_style(
        ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {unit}  eta {{eta}}"))
            .expect("the template is valid"),
    )
}

/// Renders and encodes the orbit headless, with the plugin's own recorder.
fn record(
    args: &Args,
    spec: OrbitSpec,
    texture: Option<Image>,
    checkpoint: PathBuf,
) -> Result<(), Error> {
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: None,
                exit_condition: ExitCondition::DontExit,
                ..default()
            })
            .disable::<WinitPlugin>()
            .disable::<LogPlugin>(),
    )
    .add_plugins(NeuralSpherePlugin)
    .add_observer(light::light_camera);
    app.finish();
    app.cleanup();
    let settings = NeuralSphere {
        point_radius: args.point_radius.unwrap_or(2.5 / args.grid as f32),
        view: args.view,
        colour_mode: args.colour,
        lit: !args.unlit,
        ..NeuralSphere::default()
            .with_backend(BackendKind::Cpu)
            .with_grid(args.grid)
            .paused()
    };
    let sphere = app.world_mut().spawn(settings).id();
    if let Some(texture) = texture {
        let handle = app.world_mut().resource_mut::<Assets<Image>>().add(texture);
        app.world_mut()
            .entity_mut(sphere)
            .insert(SphereImage(handle));
    }
    app.world_mut()
        .trigger(SphereCommand::Load(checkpoint).to(sphere));
    // The training thread loads the checkpoint, then maps the grid with it.
    loop {
        app.update();
        let state = app.world().get::<TrainingState>(sphere).expect("a sphere");
        if let Some(error) = state.error() {
            return Err(Error::Recording(error.to_owned()));
        }
        if state.notice().is_some() && state.positions_step() == Some(state.steps()) {
            break;
        }
    }

    let started = Instant::now();
    app.world_mut().write_message(RecordOrbit {
        sphere,
        spec: spec.clone(),
    });
    let bar = progress_bar(spec.frames as u64, "frames");
    loop {
        app.update();
        match app.world().resource::<RecordingStatus>() {
            RecordingStatus::Capturing { done, .. } => bar.set_position(*done as u64),
            RecordingStatus::Encoding => bar.set_message("encoding"),
            RecordingStatus::Done { path, frames, .. } => {
                bar.finish_and_clear();
                let seconds = started.elapsed().as_secs_f64();
                println!(
                    "wrote {}: {frames} frames of {}x{} in {seconds:.1} s ({:.3} s/frame)",
                    path.display(),
                    spec.size.x,
                    spec.size.y,
                    seconds / *frames as f64,
                );
                return Ok(());
            }
            RecordingStatus::Failed(error) => return Err(Error::Recording(error.clone())),
            RecordingStatus::Idle | RecordingStatus::Preparing => {}
        }
    }
}
