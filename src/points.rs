//! The point cloud: one entity per grid point, all sharing one mesh and one material so that
//! Bevy draws them instanced, each coloured on the GPU from the texture at its (u, v).

use bevy::mesh::MeshTag;
use bevy::prelude::*;
use bevy::render::render_resource::{AsBindGroup, ShaderType};
use bevy::shader::ShaderRef;

/// How the points are coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Reflect)]
pub enum ColourMode {
    /// Bilinear samples of the texture at each point's source (u, v).
    #[default]
    Texture,
    /// The notebook's rule: red = u·100 + 120, green = v·100 + 120, blue 0.
    Notebook,
}

/// One point of the grid, drawn where the network maps its source point.
#[derive(Component, Debug, Clone, Copy, Reflect)]
#[reflect(Component)]
#[require(Transform, Visibility)]
pub struct SpherePoint {
    /// Index into the grid: `row * grid + column`, as in [`grid_points`](crate::grid_points).
    pub index: u32,
}

#[derive(Clone, Copy, Debug, ShaderType)]
struct PointParams {
    grid: u32,
    colour_mode: u32,
}

/// The material every point shares; the vertex shader finds each point's texel from its
/// [`MeshTag`].
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone)]
#[uniform(0, PointParams)]
pub struct PointMaterial {
    /// Side of the grid.
    pub grid: u32,
    /// How to colour the points.
    pub colour_mode: ColourMode,
    /// The texture the points are coloured from.
    #[texture(1)]
    #[sampler(2)]
    pub texture: Handle<Image>,
}

impl From<&PointMaterial> for PointParams {
    fn from(material: &PointMaterial) -> Self {
        Self {
            grid: material.grid,
            colour_mode: match material.colour_mode {
                ColourMode::Texture => 0,
                ColourMode::Notebook => 1,
            },
        }
    }
}

const SHADER_PATH: &str = "embedded://bevy_neural_sphere/shaders/points.wgsl";

impl Material for PointMaterial {
    fn vertex_shader() -> ShaderRef {
        SHADER_PATH.into()
    }

    fn fragment_shader() -> ShaderRef {
        SHADER_PATH.into()
    }

    fn enable_prepass() -> bool {
        false
    }

    fn enable_shadows() -> bool {
        false
    }
}

/// One point of the latest training batch, in the notebook's "random points" view.
#[derive(Component, Debug, Clone, Copy)]
#[require(Transform, Visibility)]
pub(crate) struct BatchPoint {
    /// Index into the batch.
    pub index: u32,
}

/// The training-batch points are coloured through a [`PointMaterial`] over a grid of this side:
/// each point's [`MeshTag`] is the cell its source point falls in, fine enough that the
/// notebook's colours (100 levels across the square) come out exact.
pub(crate) const BATCH_COLOUR_LEVELS: u32 = 256;

/// The mesh and materials the points share.
#[derive(Resource, Clone)]
pub(crate) struct PointAssets {
    pub mesh: Handle<Mesh>,
    /// For the grid.
    pub material: Handle<PointMaterial>,
    /// For the training batch: the notebook's colours on a [`BATCH_COLOUR_LEVELS`] grid.
    pub batch_material: Handle<PointMaterial>,
}

/// Spawns one point per grid point, all at the origin until the network places them.
pub(crate) fn spawn_points(commands: &mut Commands, assets: &PointAssets, grid: u32, radius: f32) {
    let batch: Vec<_> = (0..grid * grid)
        .map(|index| {
            (
                SpherePoint { index },
                Mesh3d(assets.mesh.clone()),
                MeshMaterial3d(assets.material.clone()),
                MeshTag(index),
                Transform::from_scale(Vec3::splat(radius)),
            )
        })
        .collect();
    commands.spawn_batch(batch);
}

/// Spawns one training-batch point per pose.
pub(crate) fn spawn_batch_points(
    commands: &mut Commands,
    assets: &PointAssets,
    poses: Vec<(Transform, MeshTag)>,
) {
    let batch: Vec<_> = (0..)
        .zip(poses)
        .map(|(index, (transform, tag))| {
            (
                BatchPoint { index },
                Mesh3d(assets.mesh.clone()),
                MeshMaterial3d(assets.batch_material.clone()),
                tag,
                transform,
            )
        })
        .collect();
    commands.spawn_batch(batch);
}
