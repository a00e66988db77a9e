//! The crate's integration tests, in one binary to keep link times down.

mod app;
mod cli;
mod metrics;
mod model;
mod plugin;
mod record;
mod render;
mod trainer;
mod wgpu;
