//! Where the points are: storage buffers the point shader reads by `MeshTag`, filled by the
//! training thread (a copy on the GPU when burn trains on Bevy's device, an upload otherwise),
//! and the host copy of the mapping that metrics and exports read.

use bevy::prelude::*;
use bevy::render::render_resource::{Buffer, BufferDescriptor, BufferUsages};
use bevy::render::renderer::{RenderDevice, RenderQueue};

use crate::learn::gpu_copy::GpuTarget;
use crate::learn::surface::SphereSurface;

/// One sphere's grid of source points and where its network maps them, on the host, in the
/// sphere's own space. Written by the plugin, on the sphere's entity.
#[derive(Component, Debug, Default)]
pub struct SphereMapping {
    /// Side of the grid.
    pub(crate) grid: u32,
    /// The source points, as [`grid_points`](crate::learn::grid_points).
    pub(crate) points: Vec<[f32; 2]>,
    /// Their images on the sphere, in evaluation mode: every mapping the CPU backend makes;
    /// on the GPU, read back about once a second for the metrics and on export (the points are
    /// drawn from a GPU buffer the network writes into, which never comes back per frame).
    pub(crate) mapped: Vec<[f32; 3]>,
    /// Training steps the network had taken when it made `mapped`.
    pub(crate) step: usize,
}

/// What a game reads of a sphere's mapping; the plugin alone writes it.
impl SphereMapping {
    /// Side of the grid.
    pub fn grid(&self) -> u32 {
        self.grid
    }

    /// The source points, as [`grid_points`](crate::learn::grid_points).
    pub fn points(&self) -> &[[f32; 2]] {
        &self.points
    }

    /// Their images on the sphere, in evaluation mode: every mapping the CPU backend makes;
    /// on the GPU, read back about once a second for the metrics and on export (the points are
    /// drawn from a GPU buffer the network writes into, which never comes back per frame).
    pub fn mapped(&self) -> &[[f32; 3]] {
        &self.mapped
    }

    /// Training steps the network had taken when it made [`SphereMapping::mapped`].
    pub fn step(&self) -> usize {
        self.step
    }
}

impl SphereMapping {
    /// The mapped grid as a surface (for a [`Mesh`] or a glTF file), once a mapping of the
    /// whole grid is on the host.
    pub fn surface(&self) -> Option<SphereSurface> {
        let side = self.grid as usize;
        (side > 0 && self.mapped.len() == side * side)
            .then(|| SphereSurface::new(side, &self.mapped))
    }
}

/// Two storage buffers for `capacity` points: each point's source `(u, v)` and its position,
/// three floats a point (WGSL `array<f32>`, so the network's `[n, 3]` output copies in as it
/// is).
#[derive(Debug, Clone)]
pub(crate) struct PointBuffers {
    pub sources: Buffer,
    pub positions: Buffer,
    capacity: usize,
}

impl PointBuffers {
    pub fn new(device: &RenderDevice, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let buffer = |label, floats: usize| {
            device.create_buffer(&BufferDescriptor {
                label: Some(label),
                size: (capacity * floats * size_of::<f32>()) as u64,
                usage: BufferUsages::STORAGE | BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        Self {
            sources: buffer("point sources", 2),
            positions: buffer("point positions", 3),
            capacity,
        }
    }

    /// How many points fit.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Writes the source points and places each where it lies on the square, until the
    /// network's positions come.
    pub fn write_sources(&self, queue: &RenderQueue, sources: &[[f32; 2]]) {
        queue.write_buffer(&self.sources, 0, &bytes(sources.iter().flatten()));
        let square: Vec<[f32; 3]> = sources
            .iter()
            .map(|&[u, v]| [2.0 * u, -2.0 * v, 0.0])
            .collect();
        self.write_positions(queue, &square);
    }

    /// Uploads positions on the sphere (the CPU backend's mappings).
    pub fn write_positions(&self, queue: &RenderQueue, positions: &[[f32; 3]]) {
        queue.write_buffer(&self.positions, 0, &bytes(positions.iter().flatten()));
    }

    /// The positions buffer as the training thread's copy target on Bevy's device.
    pub fn gpu_target(&self, device: &RenderDevice, queue: &RenderQueue) -> GpuTarget {
        GpuTarget {
            device: device.wgpu_device().clone(),
            queue: wgpu::Queue::clone(queue),
            buffer: wgpu::Buffer::clone(&self.positions),
        }
    }
}

fn bytes<'a>(floats: impl Iterator<Item = &'a f32>) -> Vec<u8> {
    floats.flat_map(|f| f.to_ne_bytes()).collect()
}
