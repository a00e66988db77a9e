//! A headless Bevy app with the plugin: no window, rendering to images on whatever adapter
//! exists (software Vulkan on a machine without a GPU).

use bevy::log::LogPlugin;
use bevy::prelude::*;
use bevy::window::ExitCondition;
use bevy::winit::WinitPlugin;
use bevy_neural_sphere::{NeuralSpherePlugin, TrainingState};

pub fn headless_app(plugin: NeuralSpherePlugin) -> App {
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
    .add_plugins(plugin);
    app.finish();
    app.cleanup();
    app
}

/// Steps taken since the last reset.
pub fn steps(app: &App) -> usize {
    app.world().resource::<TrainingState>().history.len()
}
