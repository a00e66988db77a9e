//! The Bevy plugin: training as a system, within a per-frame time budget, and the point cloud
//! following the network.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bevy::mesh::MeshTag;
use bevy::prelude::*;

use crate::Error;
use crate::backend::{BackendKind, CpuBackend, GpuBackend};
use crate::checkpoint::Checkpoint;
use crate::export::{write_grid_csv, write_ply};
use crate::grid::{grid_points, notebook_colour};
use crate::images::{sample_texture, uv_test_grid};
use crate::metrics::{GridMetrics, SphereMetrics, grid_metrics, sphere_metrics};
use crate::points::{
    BATCH_COLOUR_LEVELS, BatchPoint, ColourMode, PointAssets, PointMaterial, SpherePoint,
    spawn_batch_points, spawn_points,
};
use crate::record::RecordPlugin;
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
    /// Hyper-parameters: `lr` and `batch` apply from the next step, the rest on
    /// [`SphereCommand::Reset`].
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
    /// Which points are shown.
    pub view: SphereView,
}

/// Which points the plugin shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Reflect)]
pub enum SphereView {
    /// The grid, mapped by the network in evaluation mode (no dropout), coloured as
    /// [`SphereSettings::colour_mode`] says.
    #[default]
    Grid,
    /// The notebook's "random points" picture: the latest training batch as the network maps it
    /// with dropout on, in the notebook's red and green.
    TrainingBatch,
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
            view: SphereView::Grid,
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
    /// Replace the network with a checkpoint's and go on training it; a file that cannot be
    /// loaded leaves the current network and sets [`TrainingState::error`].
    Load(PathBuf),
    /// Save the network as a checkpoint (the extension becomes `.mpk`).
    Save(PathBuf),
    /// Write the mapped grid: `.ply` (coloured as the points are) or `.csv` (`u,v,x,y,z`).
    Export(PathBuf),
}

/// Training progress, for display.
#[derive(Resource, Debug, Default)]
pub struct TrainingState {
    /// Every step taken since the last reset or load.
    pub history: Vec<StepStats>,
    /// Steps the network has been trained for, including those of a loaded checkpoint.
    pub steps: usize,
    /// Recent training speed.
    pub steps_per_second: f64,
    /// The latest failure (no GPU, a checkpoint or export that did not work), until the next
    /// command succeeds.
    pub error: Option<String>,
    /// The latest success worth telling (a checkpoint saved, a grid exported).
    pub notice: Option<String>,
    /// What the current network was trained with.
    pub trained_with: String,
}

/// How well the grid covers the sphere, measured about once a second off the frame path.
#[derive(Resource, Debug, Default, Clone)]
pub struct SphereQuality {
    /// Coverage, empty cap, balance and uniformity of the mapped grid.
    pub sphere: Option<SphereMetrics>,
    /// Torn neighbours and overlap of the mapped grid.
    pub grid: Option<GridMetrics>,
    /// The training step they were measured at.
    pub step: usize,
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

    fn config(&self) -> &TrainConfig {
        match self {
            Self::Cpu(t) => t.config(),
            Self::Gpu(t) => t.config(),
        }
    }

    fn steps_done(&self) -> usize {
        match self {
            Self::Cpu(t) => t.steps_done(),
            Self::Gpu(t) => t.steps_done(),
        }
    }

    fn retune(&mut self, lr: f64, batch: usize) -> Result<(), Error> {
        match self {
            Self::Cpu(t) => t.retune(lr, batch),
            Self::Gpu(t) => t.retune(lr, batch),
        }
    }

    fn save(&self, path: &Path) -> Result<PathBuf, Error> {
        match self {
            Self::Cpu(t) => t.checkpoint().save(path),
            Self::Gpu(t) => t.checkpoint().save(path),
        }
    }

    /// The latest training batch and where the network maps it with dropout on.
    fn training_batch(&mut self) -> (Vec<[f32; 2]>, Vec<[f32; 3]>) {
        match self {
            Self::Cpu(t) => {
                let batch = t.last_batch().to_vec();
                let mapped = t.map_with_dropout(&batch);
                (batch, mapped)
            }
            Self::Gpu(t) => {
                let batch = t.last_batch().to_vec();
                let mapped = t.map_with_dropout(&batch);
                (batch, mapped)
            }
        }
    }
}

/// Holds the trainer; empty until the backend's device is ready.
#[derive(Resource, Default)]
struct SphereTrainer {
    trainer: Option<AnyTrainer>,
    seconds_per_step: f64,
    single_steps: usize,
    /// A checkpoint to load once the device is ready.
    load: Option<PathBuf>,
}

/// The metrics being computed on another thread, and when the last ones started.
#[derive(Resource, Default)]
struct QualityTask {
    running: Option<(usize, JoinHandle<(SphereMetrics, GridMetrics)>)>,
    started: Option<Instant>,
    /// The mapping changed since the last measurement started.
    stale: bool,
}

/// How often [`SphereQuality`] is refreshed.
const QUALITY_INTERVAL: Duration = Duration::from_secs(1);

impl Plugin for NeuralSpherePlugin {
    fn build(&self, app: &mut App) {
        bevy::asset::embedded_asset!(app, "shaders/points.wgsl");
        app.add_plugins((
            MaterialPlugin::<PointMaterial>::default(),
            RenderDeviceSharingPlugin,
        ))
        .add_plugins(RecordPlugin)
        .register_type::<SpherePoint>()
        .insert_resource(self.settings.clone())
        .init_resource::<TrainingState>()
        .init_resource::<SphereMapping>()
        .init_resource::<SphereQuality>()
        .init_resource::<SphereTrainer>()
        .init_resource::<QualityTask>()
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
                (sync_material, map_grid, map_training_batch, measure_quality)
                    .chain()
                    .in_set(NeuralSphereSystems::Map),
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
        batch_material: materials.add(PointMaterial {
            grid: BATCH_COLOUR_LEVELS,
            colour_mode: ColourMode::Notebook,
            texture: texture.clone(),
        }),
    };
    spawn_points(&mut commands, &assets, settings.grid, settings.point_radius);
    commands.insert_resource(SphereImage(texture));
    commands.insert_resource(assets);
}

#[allow(clippy::too_many_arguments)]
fn apply_commands(
    mut messages: MessageReader<SphereCommand>,
    mut commands: Commands,
    mut settings: ResMut<SphereSettings>,
    mut trainer: ResMut<SphereTrainer>,
    mut state: ResMut<TrainingState>,
    mut image: ResMut<SphereImage>,
    mapping: Res<SphereMapping>,
    images: Res<Assets<Image>>,
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
            SphereCommand::Load(path) => trainer.load = Some(path.clone()),
            SphereCommand::Save(path) => {
                let saved = match &trainer.trainer {
                    Some(network) => network.save(path),
                    None => Err(Error::Config("there is no network to save yet".into())),
                };
                report(&mut state, saved.map(|p| format!("saved {}", p.display())));
            }
            SphereCommand::Export(path) => {
                let colours = || -> Vec<[u8; 3]> {
                    match (settings.colour_mode, images.get(&image.0)) {
                        (ColourMode::Texture, Some(texture)) => (mapping.points.iter())
                            .map(|&[u, v]| sample_texture(texture, [u + 0.5, v + 0.5]))
                            .collect(),
                        _ => mapping.points.iter().map(|&p| notebook_colour(p)).collect(),
                    }
                };
                let written = export(path, &mapping, colours);
                report(
                    &mut state,
                    written.map(|()| format!("wrote {}", path.display())),
                );
            }
        }
    }
}

/// Shows a command's outcome in the training state.
fn report(state: &mut TrainingState, outcome: Result<String, Error>) {
    match outcome {
        Ok(notice) => {
            state.notice = Some(notice);
            state.error = None;
        }
        Err(e) => {
            state.notice = None;
            state.error = Some(e.to_string());
        }
    }
}

/// Writes the mapped grid as PLY or CSV, by the path's extension.
fn export(
    path: &Path,
    mapping: &SphereMapping,
    colours: impl FnOnce() -> Vec<[u8; 3]>,
) -> Result<(), Error> {
    if mapping.mapped.is_empty() {
        return Err(Error::Config(
            "there is no mapped grid to export yet".into(),
        ));
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("ply") => write_ply(path, &mapping.mapped, &colours()),
        Some("csv") => write_grid_csv(path, &mapping.points, &mapping.mapped),
        _ => Err(Error::Config(format!(
            "cannot export to {}: use a .ply or .csv file",
            path.display()
        ))),
    }
}

/// Creates the trainer, fresh or from a checkpoint, once its device is ready: at once on the
/// CPU, after the render world has shared Bevy's device on wgpu.
fn start_trainer(
    mut trainer: ResMut<SphereTrainer>,
    mut settings: ResMut<SphereSettings>,
    mut state: ResMut<TrainingState>,
    device: Option<Res<BurnWgpuDevice>>,
) {
    let loading = trainer.load.is_some();
    if !loading && (trainer.trainer.is_some() || state.error.is_some()) {
        return;
    }
    let device = match settings.backend {
        BackendKind::Cpu => Ok(None),
        BackendKind::Wgpu => match device.as_deref() {
            None => return,
            Some(BurnWgpuDevice(Ok(device))) => Ok(Some(device.clone())),
            Some(BurnWgpuDevice(Err(e))) => Err(Error::Gpu(e.clone())),
        },
    };
    let load = trainer.load.take();
    let created = device.and_then(|device| match (&load, device) {
        (Some(path), None) => Checkpoint::load(path, &Default::default())
            .and_then(|c| Trainer::resume(c, &Default::default()))
            .map(AnyTrainer::Cpu),
        (Some(path), Some(device)) => Checkpoint::load(path, &device)
            .and_then(|c| Trainer::resume(c, &device))
            .map(AnyTrainer::Gpu),
        (None, None) => {
            Trainer::new(settings.train.clone(), &Default::default()).map(AnyTrainer::Cpu)
        }
        (None, Some(device)) => Trainer::new(settings.train.clone(), &device).map(AnyTrainer::Gpu),
    });
    match created {
        Ok(created) => {
            let from = match &load {
                Some(path) => format!("{} ({} steps): ", path.display(), created.steps_done()),
                None => String::new(),
            };
            state.trained_with = format!("{from}{}", created.config().summary());
            settings.train = created.config().clone();
            state.history.clear();
            state.steps = created.steps_done();
            if load.is_some() {
                report(&mut state, Ok(format!("loaded {from}")));
            }
            trainer.trainer = Some(created);
            trainer.seconds_per_step = 1e-3;
        }
        // A checkpoint that does not load leaves the current network as it is.
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
    let TrainConfig { lr, batch, .. } = settings.train;
    if (lr, batch) != (network.config().lr, network.config().batch) {
        match network.retune(lr, batch) {
            Ok(()) => state.trained_with = network.config().summary(),
            Err(e) => state.error = Some(e.to_string()),
        }
    }
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
    state.steps = network.steps_done();
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
    mut points: Query<(&SpherePoint, &mut Transform, &mut Visibility)>,
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
    let visibility = match settings.view {
        SphereView::Grid => Visibility::Inherited,
        SphereView::TrainingBatch => Visibility::Hidden,
    };
    for (point, mut transform, mut shown) in &mut points {
        shown.set_if_neq(visibility);
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

/// Shows the latest training batch as the network maps it with dropout on, in the batch view.
fn map_training_batch(
    mut commands: Commands,
    mut trainer: ResMut<SphereTrainer>,
    settings: Res<SphereSettings>,
    state: Res<TrainingState>,
    assets: Res<PointAssets>,
    mut shown: Query<(Entity, &BatchPoint, &mut Transform, &mut MeshTag)>,
) {
    if settings.view != SphereView::TrainingBatch {
        shown
            .iter()
            .for_each(|(entity, ..)| commands.entity(entity).despawn());
        return;
    }
    if !(state.is_changed() || settings.is_changed()) {
        return;
    }
    // Mapping with dropout draws masks; that alone is no change to training.
    let Some(network) = trainer.bypass_change_detection().trainer.as_mut() else {
        return;
    };
    let (batch, mapped) = network.training_batch();
    let morph = settings.morph.clamp(0.0, 1.0);
    let levels = (BATCH_COLOUR_LEVELS - 1) as f32;
    let poses: Vec<(Transform, MeshTag)> = (batch.iter().zip(&mapped))
        .map(|(&[u, v], &mapped)| {
            let square = Vec3::new(2.0 * u, -2.0 * v, 0.0);
            let transform =
                Transform::from_translation(square.lerp(Vec3::from_array(mapped), morph))
                    .with_scale(Vec3::splat(settings.point_radius));
            // The batch material colours a point as the cell of a BATCH_COLOUR_LEVELS² grid
            // its source point falls in.
            let cell = |x: f32| ((x + 0.5) * levels).round() as u32;
            (transform, MeshTag(cell(v) * BATCH_COLOUR_LEVELS + cell(u)))
        })
        .collect();
    if shown.iter().len() == poses.len() {
        for (_, point, mut transform, mut tag) in &mut shown {
            (*transform, *tag) = poses[point.index as usize].clone();
        }
    } else {
        shown
            .iter()
            .for_each(|(entity, ..)| commands.entity(entity).despawn());
        spawn_batch_points(&mut commands, &assets, poses);
    }
}

/// Measures the mapped grid on another thread, at most about once a second.
fn measure_quality(
    mapping: Res<SphereMapping>,
    state: Res<TrainingState>,
    mut task: ResMut<QualityTask>,
    mut quality: ResMut<SphereQuality>,
) {
    if let Some((step, running)) = task.running.take_if(|(_, t)| t.is_finished())
        && let Ok((sphere, grid)) = running.join()
    {
        *quality = SphereQuality {
            sphere: Some(sphere),
            grid: Some(grid),
            step,
        };
    }
    task.stale |= mapping.is_changed();
    let due = task.started.is_none_or(|t| t.elapsed() >= QUALITY_INTERVAL);
    if !task.stale || !due || task.running.is_some() || mapping.mapped.is_empty() {
        return;
    }
    let grid = mapping.grid as usize;
    let mapped = mapping.mapped.clone();
    task.stale = false;
    task.started = Some(Instant::now());
    task.running = Some((
        state.steps,
        std::thread::spawn(move || (sphere_metrics(&mapped), grid_metrics(grid, &mapped))),
    ));
}
