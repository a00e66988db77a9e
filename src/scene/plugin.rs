//! The plugin: its settings and the systems it registers, in order.

use bevy::prelude::*;

use super::commands::{HeldCommands, PendingExports, SphereCommand, apply_commands, write_exports};
use super::points::{PointMaterial, SpherePoint, setup_points, show_view, sync_material};
use super::positions::SphereMapping;
use super::quality::{QualityTask, SphereQuality, measure_quality};
use super::record::RecordPlugin;
use super::render_device::RenderDeviceSharingPlugin;
use super::settings::{ColourMode, SphereSettings, SphereView};
use super::surface::{SphereSurfaceMesh, SurfaceMaterial, setup_surface, sync_surface};
use super::training::{
    SphereTrainer, TrainingState, collect_reports, forward_settings, start_worker,
};
use crate::learn::backend::BackendKind;
use crate::learn::config::TrainConfig;
use crate::learn::image_file::ImageFit;

/// Trains the square-to-sphere network live and shows the mapping as textured points or as a
/// textured surface.
///
/// Training runs on a thread of its own at full speed while the app draws. In a browser, which
/// has no threads, a system queues the fused GPU step's chunks each frame and takes their
/// results back in later frames without waiting, or the CPU trains within each frame for a
/// budget. Configure it builder-style, drive it through [`SphereCommand`] messages and read
/// [`TrainingState`] and [`SphereMapping`].
#[derive(Debug, Clone, Default)]
pub struct NeuralSpherePlugin {
    settings: SphereSettings,
}

impl NeuralSpherePlugin {
    /// Side of the grid of points (default 100, so 10,000 points; at least 2). The points'
    /// radius follows the grid's spacing (see [`SphereSettings::point_radius`]).
    pub fn with_grid(mut self, grid: u32) -> Self {
        self.settings.regrid(grid);
        self
    }

    /// The training hyper-parameters (default: the notebook's).
    pub fn with_train_config(mut self, config: TrainConfig) -> Self {
        self.settings.train = config;
        self
    }

    /// Which backend trains (default [`BackendKind::Auto`]: wgpu on Bevy's own render device
    /// when it is a hardware GPU, else the CPU).
    pub fn with_backend(mut self, backend: BackendKind) -> Self {
        self.settings.backend = backend;
        self
    }

    /// At most this many training steps a second, to leave a game the rest of the machine
    /// (default: as fast as the trainer goes).
    pub fn with_max_steps_per_second(mut self, steps: f64) -> Self {
        self.settings.max_steps_per_second = Some(steps);
        self
    }

    /// What to show (default [`SphereView::Grid`], the points).
    pub fn with_view(mut self, view: SphereView) -> Self {
        self.settings.view = view;
        self
    }

    /// How to colour the points and the surface (default [`ColourMode::Texture`]).
    pub fn with_colour(mut self, colour_mode: ColourMode) -> Self {
        self.settings.colour_mode = colour_mode;
        self
    }

    /// Starts paused: no training until [`SphereCommand::Resume`] or [`SphereCommand::Steps`].
    pub fn paused(mut self) -> Self {
        self.settings.paused = true;
        self
    }
}

/// The plugin's systems, in the order they run in `Update`.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum NeuralSphereSystems {
    /// Applies [`SphereCommand`]s.
    Commands,
    /// Starts the training thread, forwards the settings to it and collects what it reports:
    /// steps, losses and the network's positions. In a browser it also trains, within the
    /// frame.
    Train,
    /// Updates the points' and the surface's materials and visibility, writes exports and
    /// measures the mapping.
    Map,
}

impl Plugin for NeuralSpherePlugin {
    fn build(&self, app: &mut App) {
        bevy::shader::load_shader_library!(app, "shaders/colours.wgsl");
        bevy::asset::embedded_asset!(app, "shaders/points.wgsl");
        bevy::asset::embedded_asset!(app, "shaders/surface.wgsl");
        app.add_plugins((
            MaterialPlugin::<PointMaterial>::default(),
            MaterialPlugin::<SurfaceMaterial>::default(),
            RenderDeviceSharingPlugin,
            RecordPlugin,
        ))
        .register_type::<SpherePoint>()
        .register_type::<SphereSurfaceMesh>()
        .register_type::<SphereView>()
        .register_type::<ColourMode>()
        .register_type::<ImageFit>()
        .insert_resource(self.settings.clone())
        .init_resource::<TrainingState>()
        .init_resource::<SphereMapping>()
        .init_resource::<SphereQuality>()
        .init_resource::<SphereTrainer>()
        .init_resource::<QualityTask>()
        .init_resource::<PendingExports>()
        .init_resource::<HeldCommands>()
        .add_message::<SphereCommand>()
        .add_systems(Startup, (setup_points, setup_surface).chain())
        .configure_sets(
            Update,
            (
                NeuralSphereSystems::Commands,
                NeuralSphereSystems::Train,
                NeuralSphereSystems::Map,
            )
                .chain(),
        )
        .add_systems(
            Update,
            (
                apply_commands.in_set(NeuralSphereSystems::Commands),
                (
                    start_worker,
                    forward_settings,
                    #[cfg(target_arch = "wasm32")]
                    super::training::train_in_frame,
                    collect_reports,
                )
                    .chain()
                    .in_set(NeuralSphereSystems::Train),
                (
                    sync_material,
                    show_view,
                    sync_surface,
                    write_exports,
                    measure_quality,
                )
                    .chain()
                    .in_set(NeuralSphereSystems::Map),
            ),
        );
    }
}
