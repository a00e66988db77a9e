#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
pub mod learn;
#[cfg(feature = "scene")]
mod scene;

pub use error::Error;

// The learning side a game sets a sphere up with; the rest of it is under `learn`.
pub use learn::{BackendKind, ImageFit, Preset, TrainConfig};

// The scene side: the Bevy plugin and what it draws (feature `scene`).
#[cfg(feature = "scene")]
pub use learn::TrainingPhase;
#[cfg(feature = "camera")]
pub use scene::camera::{SphereCamera, SphereCameraPlugin};
#[cfg(feature = "scene")]
pub use scene::{
    checkpoint_asset::{SphereCheckpoint, SphereCheckpointLoader},
    commands::{SphereCommand, ToSphere},
    orbit::{OrbitSpec, RecordOrbit, RecordingStatus, VideoFormat},
    outcome::{Outcome, SphereOutcome},
    plugin::{NeuralSpherePlugin, NeuralSphereSystems},
    points::SpherePoint,
    positions::SphereMapping,
    quality::SphereQuality,
    settings::{ColourMode, MAX_GRID, NeuralSphere, SphereView},
    surface::SphereSurfaceMesh,
    texture::{
        SphereImage, fit_image, load_image_bytes, load_image_file, point_colour, sample_texture,
        uv_test_grid,
    },
    training::TrainingState,
};
#[cfg(feature = "ui")]
pub use scene::{library::ImageLibrary, selection::SelectedSphere, ui::NeuralSphereUiPlugin};

/// The points' material, public only for the suite's tests that read and write the positions
/// buffer it binds: a game cannot build one.
#[cfg(feature = "scene")]
#[doc(hidden)]
pub use scene::points::PointMaterial;

/// What a game that adds the plugin needs: `use bevy_neural_sphere::prelude::*;`.
#[cfg(feature = "scene")]
pub mod prelude {
    pub use crate::{
        BackendKind, ColourMode, ImageFit, NeuralSphere, NeuralSpherePlugin, NeuralSphereSystems,
        OrbitSpec, Outcome, Preset, RecordOrbit, RecordingStatus, SphereCheckpoint, SphereCommand,
        SphereImage, SphereMapping, SphereOutcome, SphereQuality, SphereView, ToSphere,
        TrainConfig, TrainingState,
    };
    #[cfg(feature = "ui")]
    pub use crate::{ImageLibrary, NeuralSphereUiPlugin, SelectedSphere};
    #[cfg(feature = "camera")]
    pub use crate::{SphereCamera, SphereCameraPlugin};
}
