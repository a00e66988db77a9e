#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod backend;
#[cfg(feature = "camera")]
mod camera;
mod checkpoint;
mod error;
mod export;
mod grid;
mod images;
mod metrics;
mod model;
mod objective;
mod plugin;
mod points;
mod record;
mod render_device;
mod trainer;
#[cfg(feature = "ui")]
mod ui;

pub use backend::{BackendKind, CpuBackend, GpuBackend, share_wgpu_device, wgpu_device};
#[cfg(feature = "camera")]
pub use camera::{SphereCamera, SphereCameraPlugin};
pub use checkpoint::{CHECKPOINT_EXTENSION, Checkpoint};
pub use error::Error;
pub use export::{write_grid_csv, write_loss_csv, write_ply};
pub use grid::{grid_points, notebook_colour};
pub use images::{ImageFit, fit_image, load_image_file, sample_texture, uv_test_grid};
pub use metrics::{
    GridMetrics, PROBES, STRETCH_LIMIT_DEG, SphereMetrics, fibonacci_sphere, grid_metrics,
    sphere_metrics,
};
pub use model::{Activation, SphereNet, SphereNetConfig, SphereNetRecord, dropout_mask};
pub use objective::{Objective, cosine_similarity, seed_loss, uniformity_loss};
pub use plugin::{
    NeuralSpherePlugin, NeuralSphereSystems, SphereCommand, SphereImage, SphereMapping,
    SphereQuality, SphereSettings, SphereView, TrainingState,
};
pub use points::{ColourMode, PointMaterial, SpherePoint};
pub use record::{OrbitSpec, RecordOrbit, RecordingStatus, VideoFormat};
pub use render_device::BurnWgpuDevice;
pub use trainer::{Preset, StepStats, TrainConfig, Trainer, eval};
#[cfg(feature = "ui")]
pub use ui::{ImageLibrary, NeuralSphereUiPlugin};
