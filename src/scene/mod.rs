//! The scene side, Bevy: the plugin drives the training thread from its systems, keeps the
//! network's positions in GPU buffers, and draws them as one point entity per grid point or as
//! one textured surface, coloured from the texture.
//!
//! Each sphere is an entity with a [`NeuralSphere`](crate::NeuralSphere) component. Data flows
//! texture → positions (GPU buffers its training thread fills) → points (instanced entities,
//! children of the sphere) or surface (one mesh, a child too) → pixels, through the camera, the
//! recorder or the panel.

#[cfg(target_arch = "wasm32")]
pub(crate) mod browser_adapter;
#[cfg(feature = "camera")]
pub(crate) mod camera;
pub(crate) mod checkpoint_asset;
pub(crate) mod commands;
#[cfg(all(feature = "ui", not(target_arch = "wasm32")))]
pub(crate) mod file_dialog;
#[cfg(feature = "ui")]
pub(crate) mod library;
pub(crate) mod orbit;
pub(crate) mod outcome;
pub(crate) mod output_file;
pub(crate) mod plugin;
pub(crate) mod points;
pub(crate) mod positions;
pub(crate) mod pretrained;
pub(crate) mod quality;
pub(crate) mod record;
pub(crate) mod render_device;
#[cfg(feature = "ui")]
pub(crate) mod selection;
pub(crate) mod settings;
pub(crate) mod surface;
pub(crate) mod texture;
pub(crate) mod training;
#[cfg(feature = "ui")]
pub(crate) mod ui;
pub(crate) mod video;
