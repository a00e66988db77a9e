//! One sphere's settings, [`NeuralSphere`], the component a game spawns, and what it shows:
//! [`SphereView`] and [`ColourMode`].

use bevy::prelude::*;

#[cfg(doc)]
use crate::SphereCommand;

use super::checkpoint_asset::SphereCheckpoint;
use super::positions::SphereMapping;
use super::quality::SphereQuality;
use super::training::TrainingState;
use crate::Error;
use crate::learn::backend::BackendKind;
use crate::learn::config::TrainConfig;
use crate::learn::distortion::DistortionScale;

/// The smallest grid side: [`NeuralSphere::with_grid`] and [`SphereCommand::SetGrid`] raise a
/// smaller one to it.
const MIN_GRID: u32 = 2;

/// The largest grid side: 1024 × 1024 points, a million point entities and 12 MB of
/// positions. A larger grid is refused with an error in [`TrainingState::error`].
pub const MAX_GRID: u32 = 1024;

/// A neural sphere: a network trained live to map the square onto the unit sphere, drawn at the
/// entity's [`GlobalTransform`] as textured points or as a textured surface.
///
/// The game writes this component; the plugin never does, except to carry out a
/// [`SphereCommand`] aimed at the sphere (`Pause`, `Resume`, `SetGrid`, `Reset`). What the
/// plugin reports lives in the components this one requires: [`TrainingState`],
/// [`SphereMapping`] and [`SphereQuality`]. The texture is a [`SphereImage`](crate::SphereImage)
/// on the same entity (the plugin's UV test grid without one).
///
/// ```no_run
/// # use bevy::prelude::*;
/// # use bevy_neural_sphere::prelude::*;
/// fn spawn(mut commands: Commands, assets: Res<AssetServer>) {
///     commands.spawn((
///         NeuralSphere::default().with_grid(64).with_train_config(Preset::Closed.config()),
///         SphereImage(assets.load("images/earth.jpg")),
///         Transform::from_xyz(-2.0, 0.0, 0.0).with_scale(Vec3::splat(0.5)),
///     ));
/// }
/// ```
///
/// Despawning the entity (or its parent) stops its training and frees its points, buffers and
/// materials; other spheres train on.
#[derive(Component, Debug, Clone, PartialEq, Reflect)]
#[reflect(Component, Default)]
#[require(Transform, Visibility, TrainingState, SphereMapping, SphereQuality)]
pub struct NeuralSphere {
    /// Side of the grid of points, from [`MIN_GRID`] to [`MAX_GRID`]. A change re-spawns the
    /// points; [`SphereCommand::SetGrid`] also scales [`NeuralSphere::point_radius`].
    pub grid: u32,
    /// Hyper-parameters: `lr` and `batch` apply from the next step, the rest on
    /// [`SphereCommand::Reset`].
    #[reflect(ignore)]
    pub train: TrainConfig,
    /// Which backend trains; a change applies on [`SphereCommand::Reset`].
    #[reflect(ignore)]
    pub backend: BackendKind,
    /// At most this many training steps a second (`None`: as fast as the trainer goes).
    pub max_steps_per_second: Option<f64>,
    /// No training while set (single steps still run).
    pub paused: bool,
    /// Radius of each point in the sphere's own space (where the sphere's radius is 1): 0.012
    /// at the default grid of 100. A new grid scales it with the grid's spacing (0.0047 at
    /// 256), so that the points cover the same share of the sphere at every grid.
    pub point_radius: f32,
    /// How the points and the surface are coloured.
    pub colour_mode: ColourMode,
    /// Whether the scene's lights shade the sphere: the surface by Bevy's PBR with its lights,
    /// shadows, ambient light and environment map, like any [`StandardMaterial`]; the points by
    /// its directional and ambient lights. Else both show their colours as they are, as
    /// recordings of distortion views may want.
    pub lit: bool,
    /// 0 shows the source square, 1 the sphere, values between morph from one to the other.
    pub morph: f32,
    /// What is shown: points or the surface.
    pub view: SphereView,
    /// The network to start from, instead of a fresh one (see
    /// [`NeuralSphere::with_checkpoint`]).
    pub checkpoint: Option<Handle<SphereCheckpoint>>,
}

/// How the points and the surface are coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Reflect)]
pub enum ColourMode {
    /// Bilinear samples of the texture at each point's source (u, v).
    #[default]
    Texture,
    /// The notebook's rule: red = u·100 + 120, green = v·100 + 120, blue 0.
    Notebook,
    /// Each grid cell's area against an equal share of the sphere ([`DistortionScale::Area`]):
    /// blue where the texture shrinks, red where it swells.
    Area,
    /// Each grid cell's shape distortion `s1 / s2` ([`DistortionScale::Shape`]): violet where
    /// shapes are kept, yellow where they are drawn out.
    Shape,
}

impl ColourMode {
    /// The distortion scale the mode paints with, if it is a distortion view.
    pub fn distortion_scale(self) -> Option<DistortionScale> {
        match self {
            Self::Area => Some(DistortionScale::Area),
            Self::Shape => Some(DistortionScale::Shape),
            Self::Texture | Self::Notebook => None,
        }
    }

    /// The mode's number in the shaders' parameters.
    pub(crate) fn shader_index(self) -> u32 {
        match self {
            Self::Texture => 0,
            Self::Notebook => 1,
            Self::Area => 2,
            Self::Shape => 3,
        }
    }
}

impl std::str::FromStr for ColourMode {
    type Err = crate::Error;

    /// `texture`, `notebook`, `area` or `shape`, as the examples' `--colour` takes them.
    fn from_str(s: &str) -> Result<Self, crate::Error> {
        match s {
            "texture" => Ok(Self::Texture),
            "notebook" => Ok(Self::Notebook),
            "area" => Ok(Self::Area),
            "shape" => Ok(Self::Shape),
            _ => Err(crate::Error::Config(format!(
                "unknown colour '{s}' (expected texture, notebook, area or shape)"
            ))),
        }
    }
}

/// What the plugin shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Reflect)]
pub enum SphereView {
    /// The grid's points, mapped by the network in evaluation mode (no dropout), coloured as
    /// [`NeuralSphere::colour_mode`] says.
    #[default]
    Grid,
    /// The grid as a surface: its cells as triangles between the same positions, textured at
    /// the texture's full resolution; torn cells are gaps (see
    /// [`SphereSurface`](crate::learn::SphereSurface)).
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

impl Default for NeuralSphere {
    fn default() -> Self {
        Self {
            grid: 100,
            train: TrainConfig::new(),
            backend: BackendKind::Auto,
            max_steps_per_second: None,
            paused: false,
            point_radius: 0.012,
            colour_mode: ColourMode::Texture,
            lit: true,
            morph: 1.0,
            view: SphereView::Grid,
            checkpoint: None,
        }
    }
}

impl NeuralSphere {
    /// Side of the grid of points (default 100, so 10,000 points; from 2 to [`MAX_GRID`]). The
    /// points' radius follows the grid's spacing (see [`NeuralSphere::point_radius`]).
    pub fn with_grid(mut self, grid: u32) -> Self {
        self.regrid(grid);
        self
    }

    /// The training hyper-parameters (default: the notebook's).
    pub fn with_train_config(mut self, config: TrainConfig) -> Self {
        self.train = config;
        self
    }

    /// Which backend trains (default [`BackendKind::Auto`]: wgpu on Bevy's own render device
    /// when it is a hardware GPU, else the CPU).
    pub fn with_backend(mut self, backend: BackendKind) -> Self {
        self.backend = backend;
        self
    }

    /// At most this many training steps a second, to leave a game the rest of the machine
    /// (default: as fast as the trainer goes).
    pub fn with_max_steps_per_second(mut self, steps: f64) -> Self {
        self.max_steps_per_second = Some(steps);
        self
    }

    /// What to show (default [`SphereView::Grid`], the points).
    pub fn with_view(mut self, view: SphereView) -> Self {
        self.view = view;
        self
    }

    /// How to colour the points and the surface (default [`ColourMode::Texture`]).
    pub fn with_colour(mut self, colour_mode: ColourMode) -> Self {
        self.colour_mode = colour_mode;
        self
    }

    /// Starts from a trained network: a [`SphereCheckpoint`] asset, for example
    /// `asset_server.load("planets/earth.mpk")`. The sphere waits for it to load (a load error
    /// is its [`TrainingState::error`]) and takes it again when it is hot-reloaded. With
    /// [`NeuralSphere::paused`] no training thread runs at all: the mapping is evaluated once,
    /// when the asset arrives, until a `Resume` or `Steps` command.
    pub fn with_checkpoint(mut self, checkpoint: Handle<SphereCheckpoint>) -> Self {
        self.checkpoint = Some(checkpoint);
        self
    }

    /// Shows the colours as they are, without the scene's lights (default: lit).
    pub fn unlit(mut self) -> Self {
        self.lit = false;
        self
    }

    /// Starts paused: no training until [`SphereCommand::Resume`] or [`SphereCommand::Steps`].
    pub fn paused(mut self) -> Self {
        self.paused = true;
        self
    }

    /// Sets the grid side, at least [`MIN_GRID`], and scales the points' radius with the grid's
    /// spacing. A side above [`MAX_GRID`] is kept as asked; the plugin refuses it.
    pub(crate) fn regrid(&mut self, grid: u32) {
        let grid = grid.max(MIN_GRID);
        self.point_radius *= self.grid as f32 / grid as f32;
        self.grid = grid;
    }
}

/// Checks that a grid of side `grid` can be drawn: at most [`MAX_GRID`], and its positions
/// within the device's largest storage binding (`max_binding` bytes).
pub(crate) fn check_grid(grid: u32, max_binding: u64) -> Result<(), Error> {
    let bytes = u64::from(grid).pow(2) * 3 * size_of::<f32>() as u64;
    if grid > MAX_GRID || bytes > max_binding {
        return Err(Error::Config(format!(
            "grid {grid} is too large: at most {MAX_GRID} (and {max_binding} bytes of positions \
             on this GPU)"
        )));
    }
    Ok(())
}
