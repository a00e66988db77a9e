//! The plugin: its settings and the systems it registers, in order.

use bevy::prelude::*;

use super::commands::{HeldCommands, PendingExports, SphereCommand, apply_commands, write_exports};
use super::points::{PointMaterial, SpherePoint, setup_points, show_view, sync_material};
use super::positions::SphereMapping;
use super::quality::{QualityTask, SphereQuality, measure_quality};
use super::record::RecordPlugin;
use super::render_device::RenderDeviceSharingPlugin;
use super::surface::{SphereSurfaceMesh, SurfaceMaterial, setup_surface, sync_surface};
use super::training::{
    SphereTrainer, TrainingState, collect_reports, forward_settings, start_worker,
};
use crate::learn::backend::BackendKind;
use crate::learn::trainer::TrainConfig;

/// Trains the square-to-sphere network live and shows the mapping as textured points or as a
/// textured surface.
///
/// Training runs on a thread of its own at full speed while the app draws; configure it
/// builder-style, drive it through [`SphereCommand`] messages and read [`TrainingState`] and
/// [`SphereMapping`].
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

    /// Starts paused: no training until [`SphereCommand::Resume`] or [`SphereCommand::Steps`].
    pub fn paused(mut self) -> Self {
        self.settings.paused = true;
        self
    }
}

/// The smallest grid side: [`NeuralSpherePlugin::with_grid`] and [`SphereCommand::SetGrid`]
/// raise a smaller one to it.
const MIN_GRID: u32 = 2;

/// What the plugin does, changeable at run time (directly or through [`SphereCommand`]).
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct SphereSettings {
    /// Side of the grid of points.
    pub grid: u32,
    /// Hyper-parameters: `lr` and `batch` apply from the next step, the rest on
    /// [`SphereCommand::Reset`].
    pub train: TrainConfig,
    /// Which backend trains; a change applies on [`SphereCommand::Reset`].
    pub backend: BackendKind,
    /// At most this many training steps a second (`None`: as fast as the trainer goes).
    pub max_steps_per_second: Option<f64>,
    /// No training while set (single steps still run).
    pub paused: bool,
    /// Radius of each point: 0.012 at the default grid of 100. A new grid scales it with the
    /// grid's spacing (0.0047 at 256), so that the points cover the same share of the sphere
    /// at every grid.
    pub point_radius: f32,
    /// How the points and the surface are coloured.
    pub colour_mode: super::points::ColourMode,
    /// Whether the surface is shaded by a light over the camera's shoulder (else it shows the
    /// texture's colours as they are).
    pub lit: bool,
    /// 0 shows the source square, 1 the sphere, values between morph from one to the other.
    pub morph: f32,
    /// What is shown: points or the surface.
    pub view: SphereView,
}

/// What the plugin shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Reflect)]
pub enum SphereView {
    /// The grid's points, mapped by the network in evaluation mode (no dropout), coloured as
    /// [`SphereSettings::colour_mode`] says.
    #[default]
    Grid,
    /// The grid as a surface: its cells as triangles between the same positions, textured at
    /// the texture's full resolution; torn cells are gaps (see
    /// [`SphereSurface`](crate::SphereSurface)).
    Surface,
    /// The notebook's "random points" picture: the latest training batch as the network maps it
    /// with dropout on, in the notebook's red and green.
    TrainingBatch,
}

impl std::str::FromStr for SphereView {
    type Err = crate::Error;

    /// `points`, `surface` or `batch`, as the examples' `--view` takes them.
    fn from_str(s: &str) -> Result<Self, crate::Error> {
        match s {
            "points" => Ok(Self::Grid),
            "surface" => Ok(Self::Surface),
            "batch" => Ok(Self::TrainingBatch),
            _ => Err(crate::Error::Config(format!(
                "unknown view '{s}' (expected points, surface or batch)"
            ))),
        }
    }
}

impl Default for SphereSettings {
    fn default() -> Self {
        Self {
            grid: 100,
            train: TrainConfig::new(),
            backend: BackendKind::Auto,
            max_steps_per_second: None,
            paused: false,
            point_radius: 0.012,
            colour_mode: super::points::ColourMode::Texture,
            lit: true,
            morph: 1.0,
            view: SphereView::Grid,
        }
    }
}

impl SphereSettings {
    /// Sets the grid side, at least [`MIN_GRID`], and scales the points' radius with the grid's
    /// spacing.
    pub(crate) fn regrid(&mut self, grid: u32) {
        let grid = grid.max(MIN_GRID);
        self.point_radius *= self.grid as f32 / grid as f32;
        self.grid = grid;
    }
}

/// The plugin's systems, in the order they run in `Update`.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum NeuralSphereSystems {
    /// Applies [`SphereCommand`]s.
    Commands,
    /// Starts the training thread, forwards the settings to it and collects what it reports:
    /// steps, losses and the network's positions.
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
                (start_worker, forward_settings, collect_reports)
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
