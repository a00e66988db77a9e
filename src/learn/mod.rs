//! The learning side, burn only (no Bevy): what `default-features = false` builds, and what the
//! plugin trains with. A game needs little of it (the crate root re-exports [`Preset`],
//! [`TrainConfig`], [`BackendKind`] and [`ImageFit`]); tools use the rest: [`Trainer`] and
//! [`Checkpoint`], the network ([`SphereNet`]) and its objectives, metrics, the mapped grid as
//! a [`SphereSurface`], and exports.
//!
//! Inside: image files fitted to the square (`image_file`), the
//! grid of source points, the network and its objectives (`fused`: the uniformity loss and SiLU,
//! each with its gradient), the training `config`s, the `trainer` (its loop in `engine`, with
//! its `recovery` from non-finite steps; a step is burn's autodiff and optimiser in `ops`, with
//! the running `average` of the parameters, or the fused step on the GPU in `gpu_step`) and,
//! with the `scene` feature, the `worker` thread that runs it for the plugin (in a page, within
//! the frames: the `pacing` of its GPU chunks, and `device_read`s that do not wait); checkpoints,
//! metrics and the `distortion` of each grid cell, the mapped grid as a `surface`, and exports
//! (`glb` for the surface).
//!
//! Data flows image → grid → network (`model`, trained by `trainer`) → positions (host memory,
//! or a GPU buffer through `gpu_copy`).

pub(crate) mod average;
pub(crate) mod backend;
pub(crate) mod checkpoint;
pub(crate) mod config;
#[cfg(all(feature = "scene", not(target_arch = "wasm32")))]
pub(crate) mod cpu_turns;
pub(crate) mod device_read;
pub(crate) mod distortion;
pub(crate) mod engine;
pub(crate) mod export;
pub(crate) mod fused;
pub(crate) mod glb;
pub(crate) mod gpu_copy;
pub(crate) mod gpu_step;
pub(crate) mod grid;
pub(crate) mod history;
pub(crate) mod image_file;
pub(crate) mod metrics;
pub(crate) mod model;
pub(crate) mod objective;
pub(crate) mod ops;
#[cfg(all(feature = "scene", target_arch = "wasm32"))]
pub(crate) mod pacing;
pub(crate) mod recovery;
pub(crate) mod surface;
pub(crate) mod trainer;
#[cfg(feature = "scene")]
pub(crate) mod worker;

pub use backend::{
    BackendChoice, BackendKind, CpuBackend, GpuBackend, HostBackend, TrainingDevice,
    render_adapter, share_wgpu_device, training_device, wgpu_device, wgpu_setup,
};
pub use checkpoint::{CHECKPOINT_EXTENSION, Checkpoint};
pub use config::{Preset, TrainConfig};
pub use distortion::{CellDistortion, DistortionScale, cell_distortion, point_distortion};
pub use engine::{PendingSteps, StepStats};
pub use export::{write_cells_csv, write_grid_csv, write_loss_csv, write_ply};
pub use glb::{SurfacePaint, write_glb};
pub use gpu_copy::GpuTarget;
pub use grid::{grid_points, notebook_colour};
pub use history::{LossBucket, LossHistory};
pub use image_file::{
    ImageFit, MAX_IMAGE_BYTES, MAX_IMAGE_SIDE, MAX_TEXTURE_SIDE, read_image_bytes, read_image_file,
    square_image,
};
pub use metrics::{
    GridMetrics, PROBES, STRETCH_LIMIT_DEG, SphereMetrics, fibonacci_sphere, grid_metrics,
    sphere_metrics,
};
pub use model::{Activation, InputEncoding, SphereNet, SphereNetConfig, SphereNetRecord};
pub use objective::{
    Objective, cosine_similarity, equal_area_loss, seed_loss, shape_loss, uniformity_loss,
};
pub use ops::eval;
pub use recovery::Recovery;
pub use surface::SphereSurface;
pub use trainer::Trainer;
#[cfg(feature = "scene")]
pub use worker::TrainingPhase;

/// Internals public only for the suite's gradient checks (the fused ops against burn's
/// autodiff, the dropout masks against the reference's): not part of the crate's API.
#[doc(hidden)]
pub use fused::{FusedBackend, fused_silu, fused_uniformity_loss};
#[doc(hidden)]
pub use model::{dropout_factor, dropout_mask};
