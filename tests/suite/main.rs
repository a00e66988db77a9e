//! The crate's integration tests, in one binary to keep link times down.

mod cli;
mod model;
mod trainer;
mod wgpu;
