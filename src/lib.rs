#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod error;
mod learn;
mod scene;

pub use error::Error;
pub use learn::backend::{
    BackendChoice, BackendKind, CpuBackend, GpuBackend, TrainingDevice, render_adapter,
    share_wgpu_device, training_device, wgpu_device, wgpu_setup,
};
pub use learn::checkpoint::{CHECKPOINT_EXTENSION, Checkpoint};
pub use learn::export::{write_grid_csv, write_loss_csv, write_ply};
pub use learn::fused::{FusedBackend, fused_silu, fused_uniformity_loss};
pub use learn::glb::{SurfacePaint, write_glb};
pub use learn::gpu_copy::{GpuTarget, copy_to_buffer};
pub use learn::grid::{grid_points, notebook_colour};
pub use learn::history::{LossBucket, LossHistory};
pub use learn::metrics::{
    GridMetrics, PROBES, STRETCH_LIMIT_DEG, SphereMetrics, fibonacci_sphere, grid_metrics,
    sphere_metrics,
};
pub use learn::model::{Activation, SphereNet, SphereNetConfig, SphereNetRecord, dropout_mask};
pub use learn::objective::{
    Objective, cosine_similarity, equal_area_loss, seed_loss, uniformity_loss,
};
pub use learn::recovery::Recovery;
pub use learn::surface::SphereSurface;
pub use learn::trainer::{PendingSteps, Preset, StepStats, TrainConfig, Trainer, eval};
pub use learn::worker::TrainingPhase;
#[cfg(feature = "camera")]
pub use scene::camera::{SphereCamera, SphereCameraPlugin};
pub use scene::commands::SphereCommand;
pub use scene::plugin::{NeuralSpherePlugin, NeuralSphereSystems, SphereSettings, SphereView};
pub use scene::points::{ColourMode, PointMaterial, SpherePoint};
pub use scene::positions::SphereMapping;
pub use scene::quality::SphereQuality;
pub use scene::record::{OrbitSpec, RecordOrbit, RecordingStatus, VideoFormat};
pub use scene::render_device::BurnWgpuDevice;
pub use scene::surface::{SphereSurfaceMesh, SurfaceMaterial};
pub use scene::texture::{
    ImageFit, MAX_IMAGE_BYTES, MAX_IMAGE_SIDE, MAX_TEXTURE_SIDE, SphereImage, fit_image,
    load_image_file, point_colour, sample_texture, uv_test_grid,
};
pub use scene::training::TrainingState;
#[cfg(feature = "ui")]
pub use scene::ui::{ImageLibrary, NeuralSphereUiPlugin};
