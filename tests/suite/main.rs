//! The crate's integration tests, in one binary to keep link times down.

/// The allocator the examples train with (`examples/support/cli.rs` says why): the suite's
/// training runs go as fast as theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod app;
mod backend;
mod cli;
mod distortion;
mod fused;
mod gpu;
mod history;
mod lighting;
mod loading;
mod metrics;
mod model;
mod node;
mod panel;
mod plugin;
mod pretrained;
mod record;
mod render;
mod spheres;
mod surface;
mod surface_view;
mod trainer;
mod wait;
mod web;
