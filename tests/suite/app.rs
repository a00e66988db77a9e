//! A headless Bevy app with the plugin (and, for the panel, its UI plugin): no window,
//! rendering to images on whatever adapter exists (software Vulkan on a machine without a GPU).

use bevy::app::Plugins;
use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy::window::ExitCondition;
use bevy::winit::WinitPlugin;
use bevy_neural_sphere::{
    NeuralSphere, NeuralSpherePlugin, RecordingStatus, SphereCommand, SphereMapping, TrainingPhase,
    TrainingState,
};

use crate::wait::Progress;

pub fn headless_app<M>(plugins: impl Plugins<M>) -> App {
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
    .add_plugins(plugins);
    app.finish();
    app.cleanup();
    app
}

/// A headless app with the plugin, `plugins` and one sphere.
pub fn sphere_app<M>(sphere: NeuralSphere, plugins: impl Plugins<M>) -> App {
    let mut app = headless_app((NeuralSpherePlugin, plugins));
    app.world_mut().spawn(sphere);
    app
}

/// The app's one sphere (the first spawned, where there are more).
pub fn the_sphere(app: &App) -> Entity {
    let world = app.world();
    let mut spheres = world
        .try_query_filtered::<Entity, With<NeuralSphere>>()
        .unwrap();
    (spheres.iter(world))
        .min_by_key(|sphere| sphere.index_u32())
        .expect("the app has a sphere")
}

/// The sphere's settings, to change.
pub fn settings(app: &mut App) -> Mut<'_, NeuralSphere> {
    let sphere = the_sphere(app);
    app.world_mut().get_mut::<NeuralSphere>(sphere).unwrap()
}

/// The sphere's settings.
pub fn settings_of(app: &App) -> &NeuralSphere {
    app.world().get::<NeuralSphere>(the_sphere(app)).unwrap()
}

/// Steps taken since the last reset.
pub fn steps(app: &App) -> usize {
    state(app).history().len()
}

pub fn state(app: &App) -> &TrainingState {
    app.world().get::<TrainingState>(the_sphere(app)).unwrap()
}

pub fn mapping(app: &App) -> &SphereMapping {
    app.world().get::<SphereMapping>(the_sphere(app)).unwrap()
}

/// What a waiting test counts as the app moving: training, the points' positions, what the
/// training thread says, and a recording. (The render app, where pipelines compile, runs on a
/// thread of its own, out of reach: compiling, they have the stall span, minutes.)
#[derive(PartialEq, Debug)]
pub struct AppProgress {
    steps: usize,
    trained: usize,
    phase: TrainingPhase,
    positions_step: Option<usize>,
    mapped: usize,
    said: [Option<String>; 2],
    recording: Option<RecordingStatus>,
}

pub fn progress(app: &App) -> AppProgress {
    let state = state(app);
    AppProgress {
        steps: state.steps(),
        trained: state.history().len(),
        phase: state.phase(),
        positions_step: state.positions_step(),
        mapped: mapping(app).mapped().len(),
        said: [
            state.error().map(str::to_owned),
            state.notice().map(str::to_owned),
        ],
        recording: app.world().get_resource::<RecordingStatus>().cloned(),
    }
}

/// Updates the app until `done` holds. Training runs on its own thread, so what a command
/// starts shows up some frames later; the wait goes on while the app moves (`wait.rs`).
pub fn update_until(app: &mut App, what: &str, done: impl Fn(&App) -> bool) {
    let mut waited = Progress::new(what);
    while !done(app) {
        waited.check(progress(app));
        app.update();
    }
}

/// Sends a command to the sphere and runs one frame.
pub fn send(app: &mut App, command: SphereCommand) {
    let sphere = the_sphere(app);
    app.world_mut().trigger(command.to(sphere));
    app.update();
}

/// Trains a paused app for exactly `steps` steps and waits until the points show the network
/// after them: the same network whatever the machine's speed.
pub fn train_exactly(app: &mut App, steps: usize) {
    let target = state(app).steps() + steps;
    send(app, SphereCommand::Steps(steps));
    update_until(app, "the steps and their positions", |app| {
        state(app).positions_step() == Some(target)
    });
}
