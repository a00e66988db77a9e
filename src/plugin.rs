//! The Bevy plugin: training as a system, within a per-frame time budget, and the point cloud
//! following the network.

use std::time::{Duration, Instant};

use bevy::prelude::*;

use crate::backend::{BackendKind, CpuBackend, GpuBackend};
use crate::grid::grid_points;
use crate::images::uv_test_grid;
use crate::points::{ColourMode, PointAssets, PointMaterial, SpherePoint, spawn_points};
use crate::render_device::{BurnWgpuDevice, RenderDeviceSharingPlugin};
use crate::trainer::{StepStats, TrainConfig, Trainer};

/// Trains the square-to-sphere network live and shows the mapping as textured points.
///
/// Configure it builder-style; a game drives it through [`SphereCommand`] messages and reads
/// [`TrainingState`] and [`SphereMapping`].
#[derive(Debug, Clone, Default)]
pub struct NeuralSpherePlugin {
    settings: SphereSettings,
}

impl NeuralSpherePlugin {
    /// Side of the grid of points (default 100, so 10,000 points).
    pub fn with_grid(mut self, grid: u32) -> Self {
        self.settings.grid = grid;
        self
    }

    /// The training hyper-parameters (default: the notebook's).
    pub fn with_train_config(mut self, config: TrainConfig) -> Self {
        self.settings.train = config;
        self
    }

    /// Which backend trains (default: wgpu on Bevy's own render device).
    pub fn with_backend(mut self, backend: BackendKind) -> Self {
        self.settings.backend = backend;
        self
    }

    /// Training time per frame (default 4 ms).
    pub fn with_frame_budget(mut self, budget: Duration) -> Self {
        self.settings.frame_budget = budget;
        self
    }

    /// At most this many training steps per frame, whatever the budget.
    pub fn with_max_steps_per_frame(mut self, steps: usize) -> Self {
        self.settings.max_steps_per_frame = Some(steps);
        self
    }

    /// Starts paused: no training until [`SphereCommand::Resume`] or [`SphereCommand::Step`].
    pub fn paused(mut self) -> Self {
        self.settings.paused = true;
        self
    }
}

/// What the plugin does, changeable at run time (directly or through [`SphereCommand`]).
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct SphereSettings {
    /// Side of the grid of points.
    pub grid: u32,
    /// Hyper-parameters; changes apply on [`SphereCommand::Reset`].
    pub train: TrainConfig,
    /// Which backend trains.
    pub backend: BackendKind,
    /// Training time per frame.
    pub frame_budget: Duration,
    /// At most this many steps per frame.
    pub max_steps_per_frame: Option<usize>,
    /// No training while set (single steps still run).
    pub paused: bool,
    /// Radius of each point.
    pub point_radius: f32,
    /// How the points are coloured.
    pub colour_mode: ColourMode,
    /// 0 shows the source square, 1 the sphere, values between morph from one to the other.
    pub morph: f32,
}

impl Default for SphereSettings {
    fn default() -> Self {
        Self {
            grid: 100,
            train: TrainConfig::new(),
            backend: BackendKind::Wgpu,
            frame_budget: Duration::from_millis(4),
            max_steps_per_frame: None,
            paused: false,
            point_radius: 0.012,
            colour_mode: ColourMode::Texture,
            morph: 1.0,
        }
    }
}

/// Commands a game sends to the plugin.
#[derive(Message, Debug, Clone)]
pub enum SphereCommand {
    /// Stop training.
    Pause,
    /// Train again.
    Resume,
    /// Take one training step, even while paused.
    Step,
    /// Start again from a fresh network initialised with this seed.
    Reset {
        /// The new seed.
        seed: u64,
    },
    /// Colour the points from this image.
    SetImage(Handle<Image>),
    /// Re-spawn the points on a grid of this side.
    SetGrid(u32),
}

/// Training progress, for display.
#[derive(Resource, Debug, Default)]
pub struct TrainingState {
    /// Every step taken since the last reset.
    pub history: Vec<StepStats>,
    /// Recent training speed.
    pub steps_per_second: f64,
    /// Why training is not running (for example no GPU), if it is not.
    pub error: Option<String>,
}

/// The grid of source points and where the network maps them.
#[derive(Resource, Debug, Default)]
pub struct SphereMapping {
    /// Side of the grid.
    pub grid: u32,
    /// The source points, as [`grid_points`].
    pub points: Vec<[f32; 2]>,
    /// Their images on the sphere, in evaluation mode.
    pub mapped: Vec<[f32; 3]>,
}

/// The texture the points are coloured from.
#[derive(Resource, Debug, Clone)]
pub struct SphereImage(pub Handle<Image>);

/// The plugin's systems, in the order they run in `Update`.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum NeuralSphereSystems {
    /// Applies [`SphereCommand`]s.
    Commands,
    /// Runs training steps within the frame budget.
    Train,
    /// Maps the grid through the network and moves the points.
    Map,
}

/// The network being trained, on whichever backend was chosen.
enum AnyTrainer {
    Cpu(Trainer<CpuBackend>),
    Gpu(Trainer<GpuBackend>),
}

impl AnyTrainer {
    fn train(&mut self, steps: usize) -> Vec<StepStats> {
        match self {
            Self::Cpu(t) => t.train(steps),
            Self::Gpu(t) => t.train(steps),
        }
    }

    fn eval(&self, points: &[[f32; 2]]) -> Vec<[f32; 3]> {
        match self {
            Self::Cpu(t) => t.eval(points),
            Self::Gpu(t) => t.eval(points),
        }
    }
}

/// Holds the trainer; empty until the backend's device is ready.
#[derive(Resource, Default)]
struct SphereTrainer {
    trainer: Option<AnyTrainer>,
    seconds_per_step: f64,
    single_steps: usize,
}

impl Plugin for NeuralSpherePlugin {
    fn build(&self, app: &mut App) {
        bevy::asset::embedded_asset!(app, "shaders/points.wgsl");
        app.add_plugins((
            MaterialPlugin::<PointMaterial>::default(),
            RenderDeviceSharingPlugin,
        ))
        .register_type::<SpherePoint>()
        .insert_resource(self.settings.clone())
        .init_resource::<TrainingState>()
        .init_resource::<SphereMapping>()
        .init_resource::<SphereTrainer>()
        .add_message::<SphereCommand>()
        .add_systems(Startup, setup)
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
                (start_trainer, train)
                    .chain()
                    .in_set(NeuralSphereSystems::Train),
                (sync_material, map_grid).in_set(NeuralSphereSystems::Map),
            ),
        );
    }
}

fn setup(
    mut commands: Commands,
    settings: Res<SphereSettings>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<PointMaterial>>,
    mut images: ResMut<Assets<Image>>,
) {
    let texture = images.add(uv_test_grid());
    let assets = PointAssets {
        mesh: meshes.add(
            Sphere::new(1.0)
                .mesh()
                .ico(1)
                .expect("subdivision 1 is valid"),
        ),
        material: materials.add(PointMaterial {
            grid: settings.grid,
            colour_mode: settings.colour_mode,
            texture: texture.clone(),
        }),
    };
    spawn_points(&mut commands, &assets, settings.grid, settings.point_radius);
    commands.insert_resource(SphereImage(texture));
    commands.insert_resource(assets);
}

fn apply_commands(
    mut messages: MessageReader<SphereCommand>,
    mut commands: Commands,
    mut settings: ResMut<SphereSettings>,
    mut trainer: ResMut<SphereTrainer>,
    mut state: ResMut<TrainingState>,
    mut image: ResMut<SphereImage>,
    assets: Res<PointAssets>,
    points: Query<Entity, With<SpherePoint>>,
) {
    for message in messages.read() {
        match message {
            SphereCommand::Pause => settings.paused = true,
            SphereCommand::Resume => settings.paused = false,
            SphereCommand::Step => trainer.single_steps += 1,
            SphereCommand::Reset { seed } => {
                // A config that cannot train keeps the current network and says why.
                let config = settings.train.clone().with_seed(*seed);
                match config.validate() {
                    Ok(()) => {
                        settings.train = config;
                        trainer.trainer = None;
                        state.history.clear();
                        state.error = None;
                    }
                    Err(e) => state.error = Some(e.to_string()),
                }
            }
            SphereCommand::SetImage(handle) => image.0 = handle.clone(),
            SphereCommand::SetGrid(grid) => {
                settings.grid = (*grid).max(2);
                points
                    .iter()
                    .for_each(|entity| commands.entity(entity).despawn());
                spawn_points(&mut commands, &assets, settings.grid, settings.point_radius);
            }
        }
    }
}

/// Creates the trainer once its device is ready: at once on the CPU, after the render world
/// has shared Bevy's device on wgpu.
fn start_trainer(
    mut trainer: ResMut<SphereTrainer>,
    settings: Res<SphereSettings>,
    mut state: ResMut<TrainingState>,
    device: Option<Res<BurnWgpuDevice>>,
) {
    if trainer.trainer.is_some() || state.error.is_some() {
        return;
    }
    let config = settings.train.clone();
    let created = match settings.backend {
        BackendKind::Cpu => Trainer::new(config, &Default::default()).map(AnyTrainer::Cpu),
        BackendKind::Wgpu => match device.as_deref() {
            None => return,
            Some(BurnWgpuDevice(Ok(device))) => Trainer::new(config, device).map(AnyTrainer::Gpu),
            Some(BurnWgpuDevice(Err(e))) => {
                state.error = Some(format!("no usable GPU: {e}"));
                return;
            }
        },
    };
    match created {
        Ok(created) => {
            trainer.trainer = Some(created);
            trainer.seconds_per_step = 1e-3;
        }
        Err(e) => state.error = Some(e.to_string()),
    }
}

/// Runs as many steps as fit in the frame budget, judged by the speed of earlier frames.
fn train(
    mut trainer: ResMut<SphereTrainer>,
    settings: Res<SphereSettings>,
    mut state: ResMut<TrainingState>,
) {
    // Read-only checks first, so an idle frame leaves the trainer unchanged.
    let idle = settings.paused && trainer.single_steps == 0;
    if trainer.trainer.is_none() || idle {
        return;
    }
    let trainer = &mut *trainer;
    let Some(network) = trainer.trainer.as_mut() else {
        return;
    };
    let steps = if settings.paused {
        trainer.single_steps -= 1;
        1
    } else {
        let fit = settings.frame_budget.as_secs_f64() / trainer.seconds_per_step.max(1e-6);
        (fit as usize).clamp(1, settings.max_steps_per_frame.unwrap_or(usize::MAX))
    };
    let started = Instant::now();
    let stats = network.train(steps);
    let per_step = started.elapsed().as_secs_f64() / steps as f64;
    trainer.seconds_per_step = 0.8 * trainer.seconds_per_step + 0.2 * per_step;
    state.steps_per_second = 1.0 / trainer.seconds_per_step;
    state.history.extend(stats);
}

fn sync_material(
    settings: Res<SphereSettings>,
    image: Res<SphereImage>,
    assets: Res<PointAssets>,
    mut materials: ResMut<Assets<PointMaterial>>,
) {
    if !(settings.is_changed() || image.is_changed()) {
        return;
    }
    if let Some(mut material) = materials.get_mut(&assets.material) {
        material.grid = settings.grid;
        material.colour_mode = settings.colour_mode;
        material.texture = image.0.clone();
    }
}

/// Maps the grid through the network and moves each point there (morphed from the square).
fn map_grid(
    trainer: Res<SphereTrainer>,
    settings: Res<SphereSettings>,
    state: Res<TrainingState>,
    mut mapping: ResMut<SphereMapping>,
    mut points: Query<(&SpherePoint, &mut Transform)>,
) {
    let Some(network) = trainer.trainer.as_ref() else {
        return;
    };
    if mapping.grid != settings.grid {
        mapping.grid = settings.grid;
        mapping.points = grid_points(settings.grid as usize);
        mapping.mapped.clear();
    }
    let stale =
        mapping.mapped.len() != mapping.points.len() || state.is_changed() || trainer.is_changed();
    if stale {
        mapping.mapped = network.eval(&mapping.points);
    } else if !settings.is_changed() {
        return;
    }
    let morph = settings.morph.clamp(0.0, 1.0);
    for (point, mut transform) in &mut points {
        let i = point.index as usize;
        let (Some(&[u, v]), Some(&mapped)) = (mapping.points.get(i), mapping.mapped.get(i)) else {
            continue;
        };
        // The square spans [-1, 1]² facing the camera, row 0 at the top, like the image.
        let square = Vec3::new(2.0 * u, -2.0 * v, 0.0);
        transform.translation = square.lerp(Vec3::from_array(mapped), morph);
        transform.scale = Vec3::splat(settings.point_radius);
    }
}
