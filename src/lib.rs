#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
mod learn;
#[cfg(feature = "scene")]
mod scene;

pub use error::Error;

// The learning side: burn alone, no Bevy (what `default-features = false` builds).
pub use learn::backend::{
    BackendChoice, BackendKind, CpuBackend, GpuBackend, HostBackend, TrainingDevice,
    render_adapter, share_wgpu_device, training_device, wgpu_device, wgpu_setup,
};
pub use learn::checkpoint::{CHECKPOINT_EXTENSION, Checkpoint};
pub use learn::config::{Preset, TrainConfig};
pub use learn::distortion::{CellDistortion, DistortionScale, cell_distortion, point_distortion};
pub use learn::engine::{PendingSteps, StepStats};
pub use learn::export::{write_cells_csv, write_grid_csv, write_loss_csv, write_ply};
pub use learn::fused::{FusedBackend, fused_silu, fused_uniformity_loss};
pub use learn::glb::{SurfacePaint, write_glb};
pub use learn::gpu_copy::{GpuTarget, copy_to_buffer};
pub use learn::grid::{grid_points, notebook_colour};
pub use learn::history::{LossBucket, LossHistory};
pub use learn::image_file::{
    ImageFit, MAX_IMAGE_BYTES, MAX_IMAGE_SIDE, MAX_TEXTURE_SIDE, read_image_bytes, read_image_file,
    square_image,
};
pub use learn::metrics::{
    GridMetrics, PROBES, STRETCH_LIMIT_DEG, SphereMetrics, fibonacci_sphere, grid_metrics,
    sphere_metrics,
};
pub use learn::model::{
    Activation, InputEncoding, SphereNet, SphereNetConfig, SphereNetRecord, dropout_factor,
    dropout_mask,
};
pub use learn::objective::{
    Objective, cosine_similarity, equal_area_loss, seed_loss, shape_loss, uniformity_loss,
};
pub use learn::ops::eval;
pub use learn::recovery::Recovery;
pub use learn::surface::SphereSurface;
pub use learn::trainer::Trainer;

// The scene side: the Bevy plugin and what it draws (feature `scene`).
#[cfg(feature = "scene")]
pub use learn::worker::TrainingPhase;
#[cfg(feature = "camera")]
pub use scene::camera::{SphereCamera, SphereCameraPlugin};
#[cfg(feature = "scene")]
pub use scene::{
    checkpoint_asset::{SphereCheckpoint, SphereCheckpointLoader},
    commands::{SphereCommand, ToSphere},
    orbit::{OrbitSpec, RecordOrbit, RecordingStatus, VideoFormat},
    outcome::{Outcome, SphereOutcome},
    plugin::{NeuralSpherePlugin, NeuralSphereSystems},
    points::{PointMaterial, SpherePoint},
    positions::SphereMapping,
    quality::SphereQuality,
    render_device::BurnWgpuDevice,
    settings::{ColourMode, MAX_GRID, NeuralSphere, SphereView},
    surface::{SphereSurfaceMesh, SurfaceExtension, SurfaceMaterial},
    texture::{
        SphereImage, fit_image, load_image_bytes, load_image_file, point_colour, sample_texture,
        uv_test_grid,
    },
    training::TrainingState,
};
#[cfg(feature = "ui")]
pub use scene::{
    selection::SelectedSphere,
    ui::{ImageLibrary, NeuralSphereUiPlugin},
};

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
