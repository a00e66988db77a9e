//! The learning side, burn only (no Bevy): the grid of source points, the network and its
//! objectives (`fused`: the uniformity loss and SiLU, each with its gradient), the trainer (with
//! the running `average` of its parameters, and its `recovery` from non-finite steps) and the
//! thread that runs it, checkpoints, metrics, the mapped grid as a `surface`, and exports (`glb`
//! for the surface).
//!
//! Data flows grid → network (`model`, trained by `trainer` on `worker`'s thread) → positions
//! (host memory, or a GPU buffer through `gpu_copy`).

pub(crate) mod average;
pub(crate) mod backend;
pub(crate) mod checkpoint;
pub(crate) mod export;
pub(crate) mod fused;
pub(crate) mod glb;
pub(crate) mod gpu_copy;
pub(crate) mod grid;
pub(crate) mod history;
pub(crate) mod metrics;
pub(crate) mod model;
pub(crate) mod objective;
pub(crate) mod recovery;
pub(crate) mod surface;
pub(crate) mod trainer;
pub(crate) mod worker;
