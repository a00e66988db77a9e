//! What the plugin does and shows, changeable at run time: [`SphereSettings`], [`SphereView`]
//! and [`ColourMode`].

use bevy::prelude::*;

#[cfg(doc)]
use crate::{NeuralSpherePlugin, SphereCommand};

use crate::learn::backend::BackendKind;
use crate::learn::config::TrainConfig;
use crate::learn::distortion::DistortionScale;

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
    pub colour_mode: ColourMode,
    /// Whether the surface is shaded by a light over the camera's shoulder (else it shows the
    /// texture's colours as they are).
    pub lit: bool,
    /// 0 shows the source square, 1 the sphere, values between morph from one to the other.
    pub morph: f32,
    /// What is shown: points or the surface.
    pub view: SphereView,
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
            colour_mode: ColourMode::Texture,
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
