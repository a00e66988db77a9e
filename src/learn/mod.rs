//! The learning side, burn only (no Bevy): image files fitted to the square (`image_file`), the
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
