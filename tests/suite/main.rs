//! The crate's integration tests, in one binary to keep link times down.

mod app;
mod cli;
mod model;
mod plugin;
mod render;
mod trainer;
mod wgpu;
