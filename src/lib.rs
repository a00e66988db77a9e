#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod backend;
mod checkpoint;
mod error;
mod export;
mod grid;
mod model;
mod objective;
mod trainer;

pub use backend::{BackendKind, CpuBackend, GpuBackend, share_wgpu_device, wgpu_device};
pub use checkpoint::{CHECKPOINT_EXTENSION, Checkpoint};
pub use error::Error;
pub use export::{write_grid_csv, write_loss_csv, write_ply};
pub use grid::{grid_points, notebook_colour};
pub use model::{Activation, SphereNet, SphereNetConfig, SphereNetRecord, dropout_mask};
pub use objective::{cosine_similarity, seed_loss};
pub use trainer::{StepStats, TrainConfig, Trainer, eval};
