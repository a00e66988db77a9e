//! A headless Bevy app with the plugin (and, for the panel, its UI plugin): no window,
//! rendering to images on whatever adapter exists (software Vulkan on a machine without a GPU).

use std::time::{Duration, Instant};

use bevy::app::Plugins;
use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy::window::ExitCondition;
use bevy::winit::WinitPlugin;
use bevy_neural_sphere::{SphereCommand, TrainingState};

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

/// Steps taken since the last reset.
pub fn steps(app: &App) -> usize {
    state(app).history.len()
}

pub fn state(app: &App) -> &TrainingState {
    app.world().resource::<TrainingState>()
}

/// Updates the app until `done` holds. Training runs on its own thread, so what a command
/// starts shows up some frames later; the limit only keeps a broken build from hanging (burn
/// tunes its kernels for minutes on software Vulkan, and tests share two cores).
pub fn update_until(app: &mut App, what: &str, done: impl Fn(&App) -> bool) {
    let started = Instant::now();
    while !done(app) {
        let state = state(app);
        assert!(
            started.elapsed() < Duration::from_secs(1200),
            "gave up waiting for {what}: {:?} at step {}, error {:?}",
            state.phase,
            state.steps,
            state.error
        );
        app.update();
    }
}

/// Sends a command and runs one frame.
pub fn send(app: &mut App, command: SphereCommand) {
    app.world_mut().write_message(command);
    app.update();
}

/// Trains a paused app for exactly `steps` steps and waits until the points show the network
/// after them: the same network whatever the machine's speed.
pub fn train_exactly(app: &mut App, steps: usize) {
    let target = state(app).steps + steps;
    send(app, SphereCommand::Steps(steps));
    update_until(app, "the steps and their positions", |app| {
        state(app).positions_step == Some(target)
    });
}
