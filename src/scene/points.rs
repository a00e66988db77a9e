//! The point cloud: one entity per grid point, all sharing one mesh and one material so that
//! Bevy draws them instanced. The vertex shader finds each point's source `(u, v)` and its
//! position in storage buffers by its `MeshTag`, turns the point's triangle to face the camera
//! and colours it from the texture; the fragment shader cuts it to a disc shaded as a small
//! sphere.

use bevy::camera::visibility::NoFrustumCulling;
use bevy::ecs::system::SystemParam;
use bevy::mesh::MeshTag;
use bevy::prelude::*;
use bevy::render::render_resource::{AsBindGroup, Buffer, ShaderType};
use bevy::render::renderer::{RenderDevice, RenderQueue};
use bevy::shader::ShaderRef;

use super::positions::{PointBuffers, SphereMapping};
use super::settings::{ColourMode, SphereSettings, SphereView};
use super::texture::{SphereImage, grid_lod, uv_test_grid};
use crate::learn::gpu_copy::GpuTarget;
use crate::learn::grid::grid_points;

/// One point of the grid, drawn where the network maps its source point. The shader places it
/// from the position buffer by its [`MeshTag`]; its `Transform` is not used.
#[derive(Component, Debug, Clone, Copy, Reflect)]
#[reflect(Component)]
#[require(Transform, Visibility, NoFrustumCulling)]
pub struct SpherePoint {
    /// Index into the grid: `row * grid + column`, as in [`grid_points`](crate::grid_points).
    pub index: u32,
}

/// One point of the latest training batch, in the notebook's "random points" view.
#[derive(Component, Debug, Clone, Copy)]
#[require(Transform, Visibility, NoFrustumCulling)]
pub(crate) struct BatchPoint;

#[derive(Clone, Copy, Debug, ShaderType)]
struct PointParams {
    colour_mode: u32,
    radius: f32,
    morph: f32,
    texture_lod: f32,
    grid: u32,
}

/// The material every point shares. The vertex shader reads the point's source `(u, v)` and
/// position from the storage buffers at its [`MeshTag`].
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone)]
#[uniform(0, PointParams)]
pub struct PointMaterial {
    /// How to colour the points.
    pub colour_mode: ColourMode,
    /// Radius of each point.
    pub radius: f32,
    /// 0 places each point on the square, 1 on the sphere.
    pub morph: f32,
    /// The mip level the points sample the texture at (see [`point_colour`](crate::point_colour)).
    pub texture_lod: f32,
    /// Side of the grid the points form: the distortion views find each point's cell by it.
    pub grid: u32,
    /// The texture the points are coloured from.
    #[texture(1)]
    #[sampler(2)]
    pub texture: Handle<Image>,
    /// Each point's source `(u, v)` in [-0.5, 0.5]²: `array<vec2<f32>>`.
    #[storage(3, read_only, buffer)]
    pub sources: Buffer,
    /// Each point's position on the sphere, three floats a point: `array<f32>`.
    #[storage(4, read_only, buffer)]
    pub positions: Buffer,
}

impl From<&PointMaterial> for PointParams {
    fn from(material: &PointMaterial) -> Self {
        Self {
            colour_mode: material.colour_mode.shader_index(),
            radius: material.radius,
            morph: material.morph,
            texture_lod: material.texture_lod,
            grid: material.grid,
        }
    }
}

const SHADER_PATH: &str = "embedded://bevy_neural_sphere/scene/shaders/points.wgsl";

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

/// The points' mesh, materials and buffers: one set for the grid, one for the training batch.
#[derive(Resource)]
pub(crate) struct PointAssets {
    pub mesh: Handle<Mesh>,
    pub grid: PointSet,
    pub batch: PointSet,
}

/// A material and the buffers it reads.
pub(crate) struct PointSet {
    pub material: Handle<PointMaterial>,
    pub buffers: PointBuffers,
}

impl PointSet {
    fn new(
        buffers: PointBuffers,
        colour_mode: ColourMode,
        texture: Handle<Image>,
        materials: &mut Assets<PointMaterial>,
    ) -> Self {
        let material = materials.add(PointMaterial {
            colour_mode,
            radius: 0.0,
            morph: 1.0,
            texture_lod: 0.0,
            grid: 0,
            texture,
            sources: buffers.sources.clone(),
            positions: buffers.positions.clone(),
        });
        Self { material, buffers }
    }

    /// Makes room for `points` points: new buffers, if these are too small, that the material
    /// reads from now on.
    pub fn reserve(
        &mut self,
        points: usize,
        device: &RenderDevice,
        materials: &mut Assets<PointMaterial>,
    ) {
        if points <= self.buffers.capacity() {
            return;
        }
        self.buffers = PointBuffers::new(device, points);
        if let Some(mut material) = materials.get_mut(&self.material) {
            material.sources = self.buffers.sources.clone();
            material.positions = self.buffers.positions.clone();
        }
    }
}

/// Creates the mesh, the materials and the buffers, and spawns the grid's points.
#[allow(clippy::too_many_arguments)]
pub(crate) fn setup_points(
    mut commands: Commands,
    settings: Res<SphereSettings>,
    mut mapping: ResMut<SphereMapping>,
    device: Res<RenderDevice>,
    queue: Res<RenderQueue>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<PointMaterial>>,
    mut images: ResMut<Assets<Image>>,
) {
    let texture = images.add(uv_test_grid());
    mapping.grid = settings.grid;
    mapping.points = grid_points(settings.grid as usize);
    let grid = PointBuffers::new(&device, mapping.points.len());
    grid.write_sources(&queue, &mapping.points);
    let assets = PointAssets {
        mesh: meshes.add(point_mesh()),
        grid: PointSet::new(grid, settings.colour_mode, texture.clone(), &mut materials),
        batch: PointSet::new(
            PointBuffers::new(&device, 0),
            ColourMode::Notebook,
            texture.clone(),
            &mut materials,
        ),
    };
    spawn_points(&mut commands, &assets, settings.grid);
    commands.insert_resource(SphereImage(texture));
    commands.insert_resource(assets);
}

/// One triangle around the unit disc, which the shader turns to the camera, scales and cuts to
/// the disc. One triangle rather than a quad's two: a software rasteriser processes each
/// instance's vertices apart, and there three vertices cost less than four do, even with the
/// triangle's 30 % more area.
fn point_mesh() -> Mesh {
    let half_side = 3f32.sqrt();
    Triangle3d::new(
        Vec3::new(-half_side, -1.0, 0.0),
        Vec3::new(half_side, -1.0, 0.0),
        Vec3::new(0.0, 2.0, 0.0),
    )
    .into()
}

/// Spawns one point per grid point.
pub(crate) fn spawn_points(commands: &mut Commands, assets: &PointAssets, grid: u32) {
    let points: Vec<_> = (0..grid * grid)
        .map(|index| {
            (
                SpherePoint { index },
                Mesh3d(assets.mesh.clone()),
                MeshMaterial3d(assets.grid.material.clone()),
                MeshTag(index),
            )
        })
        .collect();
    commands.spawn_batch(points);
}

/// Spawns one training-batch point per batch entry.
pub(crate) fn spawn_batch_points(commands: &mut Commands, assets: &PointAssets, count: u32) {
    let points: Vec<_> = (0..count)
        .map(|index| {
            (
                BatchPoint,
                Mesh3d(assets.mesh.clone()),
                MeshMaterial3d(assets.batch.material.clone()),
                MeshTag(index),
            )
        })
        .collect();
    commands.spawn_batch(points);
}

/// Hands the settings that the shader reads to both materials, when they change.
pub(crate) fn sync_material(
    settings: Res<SphereSettings>,
    image: Res<SphereImage>,
    images: Res<Assets<Image>>,
    assets: Res<PointAssets>,
    mut materials: ResMut<Assets<PointMaterial>>,
) {
    if !(settings.is_changed() || image.is_changed()) {
        return;
    }
    let texture_lod = images
        .get(&image.0)
        .map_or(0.0, |texture| grid_lod(texture, settings.grid));
    for (set, colour_mode, grid) in [
        (&assets.grid, settings.colour_mode, settings.grid),
        (&assets.batch, ColourMode::Notebook, 0),
    ] {
        let Some(material) = materials.get(&set.material) else {
            continue;
        };
        let changed = material.colour_mode != colour_mode
            || material.radius != settings.point_radius
            || material.morph != settings.morph.clamp(0.0, 1.0)
            || material.texture_lod != texture_lod
            || material.grid != grid
            || material.texture != image.0;
        if changed && let Some(mut material) = materials.get_mut(&set.material) {
            material.colour_mode = colour_mode;
            material.radius = settings.point_radius;
            material.morph = settings.morph.clamp(0.0, 1.0);
            material.texture_lod = texture_lod;
            material.grid = grid;
            material.texture = image.0.clone();
        }
    }
}

/// Shows the grid's points in their view only, and removes the batch's points outside theirs.
pub(crate) fn show_view(
    mut commands: Commands,
    settings: Res<SphereSettings>,
    mut grid: Query<&mut Visibility, With<SpherePoint>>,
    batch: Query<Entity, With<BatchPoint>>,
    added: Query<(), Added<SpherePoint>>,
) {
    if !settings.is_changed() && added.is_empty() {
        return;
    }
    let visibility = match settings.view {
        SphereView::Grid => Visibility::Inherited,
        SphereView::Surface | SphereView::TrainingBatch => Visibility::Hidden,
    };
    grid.iter_mut().for_each(|mut v| {
        v.set_if_neq(visibility);
    });
    if settings.view != SphereView::TrainingBatch {
        batch.iter().for_each(|e| commands.entity(e).despawn());
    }
}

/// What the systems that move points need: their entities, materials and buffers.
#[derive(SystemParam)]
pub(crate) struct PointWriter<'w, 's> {
    commands: Commands<'w, 's>,
    assets: ResMut<'w, PointAssets>,
    materials: ResMut<'w, Assets<PointMaterial>>,
    device: Res<'w, RenderDevice>,
    queue: Res<'w, RenderQueue>,
    grid: Query<'w, 's, Entity, With<SpherePoint>>,
    batch: Query<'w, 's, Entity, With<BatchPoint>>,
}

impl PointWriter<'_, '_> {
    /// The grid's positions buffer as a copy target for the training thread.
    pub fn gpu_target(&self) -> GpuTarget {
        self.assets
            .grid
            .buffers
            .gpu_target(&self.device, &self.queue)
    }

    /// Uploads the grid's positions.
    pub fn write_grid(&self, positions: &[[f32; 3]]) {
        let buffers = &self.assets.grid.buffers;
        if positions.len() <= buffers.capacity() {
            buffers.write_positions(&self.queue, positions);
        }
    }

    /// Replaces the grid's points with a grid of `points`, placed on the square until the
    /// network maps them. The buffers may be new: ask for [`PointWriter::gpu_target`] again.
    pub fn regrid(&mut self, points: &[[f32; 2]]) {
        (self.assets.grid).reserve(points.len(), &self.device, &mut self.materials);
        self.assets.grid.buffers.write_sources(&self.queue, points);
        self.grid
            .iter()
            .for_each(|entity| self.commands.entity(entity).despawn());
        let side = (points.len() as f64).sqrt().round() as u32;
        spawn_points(&mut self.commands, &self.assets, side);
    }

    /// Shows the training batch: its sources and positions in the batch buffers, one point
    /// entity each.
    pub fn show_batch(&mut self, sources: &[[f32; 2]], positions: &[[f32; 3]]) {
        let set = &mut self.assets.batch;
        set.reserve(sources.len(), &self.device, &mut self.materials);
        set.buffers.write_sources(&self.queue, sources);
        set.buffers.write_positions(&self.queue, positions);
        if self.batch.iter().len() != sources.len() {
            self.batch
                .iter()
                .for_each(|entity| self.commands.entity(entity).despawn());
            spawn_batch_points(&mut self.commands, &self.assets, sources.len() as u32);
        }
    }
}
