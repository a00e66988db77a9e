//! A sphere's point cloud: one entity per grid point, all sharing one mesh and one material
//! so that Bevy draws them instanced. The points are children of an entity of their own under
//! the sphere, so they follow its `GlobalTransform`; the vertex shader finds each point's
//! source `(u, v)` and its position in the sphere's storage buffers by its `MeshTag`, places it
//! through the transform, turns its triangle to face the camera and colours it from the
//! texture, and lights it with the scene's directional and ambient lights as the sphere's
//! surface is lit there; the fragment shader cuts it to a disc shaded as a small sphere.

use bevy::camera::primitives::Aabb;
use bevy::camera::visibility::NoAutoAabb;
use bevy::ecs::bundle::NoBundleEffect;
use bevy::mesh::{MeshTag, MeshVertexBufferLayoutRef};
use bevy::pbr::{MaterialPipeline, MaterialPipelineKey};
use bevy::prelude::*;
use bevy::render::render_resource::{
    AsBindGroup, Buffer, RenderPipelineDescriptor, ShaderType, SpecializedMeshPipelineError,
};
use bevy::render::renderer::{RenderDevice, RenderQueue};
use bevy::shader::ShaderRef;

use super::positions::{PointBuffers, SphereMapping};
use super::settings::{ColourMode, NeuralSphere, SphereView, check_grid};
use super::texture::{DefaultImage, SphereImage, grid_lod};
use crate::learn::gpu_copy::GpuTarget;
use crate::learn::grid::grid_points;

/// One point of a sphere's grid, drawn where the network maps its source point. The shader
/// places it from its sphere's position buffer by its [`MeshTag`], through its
/// `GlobalTransform` (its sphere's: its own `Transform` stays the identity).
#[derive(Component, Debug, Clone, Copy, Reflect)]
#[reflect(Component)]
#[require(Transform, Visibility, NoAutoAabb)]
pub struct SpherePoint {
    /// Index into the grid: `row * grid + column`, as in [`grid_points`](crate::learn::grid_points).
    pub index: u32,
}

/// One point of the latest training batch, in the notebook's "random points" view.
#[derive(Component, Debug, Clone, Copy)]
#[require(Transform, Visibility, NoAutoAabb)]
pub(crate) struct BatchPoint;

/// The bounds of anything the shaders draw for a sphere, in its own space: the unit cube (the
/// sphere, and the square at morph 0) grown by the point radius. Culling moves it by the
/// entity's `GlobalTransform`.
pub(crate) fn sphere_bounds(point_radius: f32) -> Aabb {
    let half = Vec3::splat(1.0 + point_radius.max(0.0));
    Aabb::from_min_max(-half, half)
}

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
#[bind_group_data(PointKey)]
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
    /// Lit by the scene's directional and ambient lights, or the colours as they are (a
    /// pipeline of its own, with none of the lighting).
    pub lit: bool,
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

/// What the points' pipeline is specialised on.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PointKey {
    lit: bool,
}

impl From<&PointMaterial> for PointKey {
    fn from(material: &PointMaterial) -> Self {
        Self { lit: material.lit }
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

    fn specialize(
        _pipeline: &MaterialPipeline,
        descriptor: &mut RenderPipelineDescriptor,
        _layout: &MeshVertexBufferLayoutRef,
        key: MaterialPipelineKey<Self>,
    ) -> Result<(), SpecializedMeshPipelineError> {
        if key.bind_group_data.lit {
            descriptor.vertex.shader_defs.push("SPHERE_LIT".into());
            if let Some(fragment) = descriptor.fragment.as_mut() {
                fragment.shader_defs.push("SPHERE_LIT".into());
            }
        }
        Ok(())
    }
}

/// The mesh every point of every sphere shares.
#[derive(Resource)]
pub(crate) struct PointMesh(Handle<Mesh>);

impl FromWorld for PointMesh {
    fn from_world(world: &mut World) -> Self {
        Self(world.resource_mut::<Assets<Mesh>>().add(point_mesh()))
    }
}

/// One sphere's points: a material, buffers and a parent entity for the grid and for the
/// training batch. Dropped with the sphere, which frees its buffers and materials.
#[derive(Component)]
pub(crate) struct SpherePoints {
    pub grid: PointSet,
    pub batch: PointSet,
}

/// A material, the buffers it reads, the entity its points are children of and how many
/// points it has.
pub(crate) struct PointSet {
    pub material: Handle<PointMaterial>,
    pub buffers: PointBuffers,
    pub root: Entity,
    count: u32,
}

impl PointSet {
    fn new(
        sphere: Entity,
        buffers: PointBuffers,
        colour_mode: ColourMode,
        texture: Handle<Image>,
        commands: &mut Commands,
        materials: &mut Assets<PointMaterial>,
    ) -> Self {
        let material = materials.add(PointMaterial {
            colour_mode,
            radius: 0.0,
            morph: 1.0,
            texture_lod: 0.0,
            grid: 0,
            lit: true,
            texture,
            sources: buffers.sources.clone(),
            positions: buffers.positions.clone(),
        });
        let root = commands
            .spawn((Transform::IDENTITY, Visibility::Inherited, ChildOf(sphere)))
            .id();
        Self {
            material,
            buffers,
            root,
            count: 0,
        }
    }

    /// Makes room for `points` points: new buffers, if these are too small, that the material
    /// reads from now on.
    fn reserve(
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

    /// Replaces the set's point entities with `count` new ones, the point of index `i` tagged
    /// `i`.
    fn respawn<P: Bundle<Effect: NoBundleEffect>>(
        &mut self,
        count: u32,
        point: impl Fn(u32) -> P,
        bounds: Aabb,
        mesh: &PointMesh,
        commands: &mut Commands,
    ) {
        self.clear(commands);
        self.count = count;
        let root = self.root;
        let points: Vec<_> = (0..count)
            .map(|index| {
                (
                    point(index),
                    Mesh3d(mesh.0.clone()),
                    MeshMaterial3d(self.material.clone()),
                    MeshTag(index),
                    bounds,
                    ChildOf(root),
                )
            })
            .collect();
        commands.spawn_batch(points);
    }

    /// Despawns the set's point entities.
    fn clear(&mut self, commands: &mut Commands) {
        if self.count > 0 {
            commands.entity(self.root).despawn_related::<Children>();
            self.count = 0;
        }
    }
}

/// Gives each new sphere its grid, buffers, materials and point entities.
#[allow(clippy::too_many_arguments)]
pub(crate) fn setup_points(
    mut commands: Commands,
    mut spheres: Query<
        (Entity, &NeuralSphere, &mut SphereMapping, Has<SphereImage>),
        Added<NeuralSphere>,
    >,
    default_image: Res<DefaultImage>,
    mesh: Res<PointMesh>,
    device: Res<RenderDevice>,
    queue: Res<RenderQueue>,
    mut materials: ResMut<Assets<PointMaterial>>,
) {
    for (sphere, settings, mut mapping, has_image) in &mut spheres {
        if !has_image {
            commands
                .entity(sphere)
                .insert(SphereImage(default_image.0.clone()));
        }
        // A grid the device cannot hold is refused (with its error) where the sphere's
        // commands apply; meanwhile it has none.
        let max_binding = device.limits().max_storage_buffer_binding_size;
        let grid = match check_grid(settings.grid, max_binding) {
            Ok(()) => settings.grid,
            Err(_) => 0,
        };
        mapping.grid = grid;
        mapping.points = grid_points(grid as usize);
        let buffers = PointBuffers::new(&device, mapping.points.len());
        buffers.write_sources(&queue, &mapping.points);
        let texture = default_image.0.clone();
        let mut points = SpherePoints {
            grid: PointSet::new(
                sphere,
                buffers,
                settings.colour_mode,
                texture.clone(),
                &mut commands,
                &mut materials,
            ),
            batch: PointSet::new(
                sphere,
                PointBuffers::new(&device, 0),
                ColourMode::Notebook,
                texture,
                &mut commands,
                &mut materials,
            ),
        };
        let bounds = sphere_bounds(settings.point_radius);
        let index = |index| SpherePoint { index };
        (points.grid).respawn(grid * grid, index, bounds, &mesh, &mut commands);
        commands.entity(sphere).insert(points);
    }
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

/// Hands each sphere's settings that the shader reads to its two materials, when they differ
/// (an image that arrives late changes the mip level the points sample).
pub(crate) fn sync_material(
    spheres: Query<(&NeuralSphere, &SphereImage, &SphereMapping, &SpherePoints)>,
    images: Res<Assets<Image>>,
    mut materials: ResMut<Assets<PointMaterial>>,
) {
    for (settings, image, mapping, points) in &spheres {
        let texture_lod = images
            .get(&image.0)
            .map_or(0.0, |texture| grid_lod(texture, mapping.grid));
        for (set, colour_mode, grid) in [
            (&points.grid, settings.colour_mode, mapping.grid),
            (&points.batch, ColourMode::Notebook, 0),
        ] {
            let Some(material) = materials.get(&set.material) else {
                continue;
            };
            let changed = material.colour_mode != colour_mode
                || material.radius != settings.point_radius
                || material.morph != settings.morph.clamp(0.0, 1.0)
                || material.texture_lod != texture_lod
                || material.grid != grid
                || material.lit != settings.lit
                || material.texture != image.0;
            if changed && let Some(mut material) = materials.get_mut(&set.material) {
                material.colour_mode = colour_mode;
                material.radius = settings.point_radius;
                material.morph = settings.morph.clamp(0.0, 1.0);
                material.texture_lod = texture_lod;
                material.grid = grid;
                material.lit = settings.lit;
                material.texture = image.0.clone();
            }
        }
    }
}

/// Shows each sphere's grid points in their view only, and removes its batch's points outside
/// theirs.
pub(crate) fn show_view(
    mut commands: Commands,
    mut spheres: Query<(&NeuralSphere, &mut SpherePoints), Changed<NeuralSphere>>,
    mut roots: Query<&mut Visibility>,
) {
    for (settings, mut points) in &mut spheres {
        let visibility = match settings.view {
            SphereView::Grid => Visibility::Inherited,
            SphereView::Surface | SphereView::TrainingBatch => Visibility::Hidden,
        };
        if let Ok(mut shown) = roots.get_mut(points.grid.root) {
            shown.set_if_neq(visibility);
        }
        if settings.view != SphereView::TrainingBatch {
            points.batch.clear(&mut commands);
        }
    }
}

/// What moving a sphere's points needs besides the sphere's own components: the device, the
/// shared mesh and the materials.
#[derive(bevy::ecs::system::SystemParam)]
pub(crate) struct PointWriter<'w, 's> {
    commands: Commands<'w, 's>,
    mesh: Res<'w, PointMesh>,
    materials: ResMut<'w, Assets<PointMaterial>>,
    device: Res<'w, RenderDevice>,
    queue: Res<'w, RenderQueue>,
}

impl PointWriter<'_, '_> {
    /// A sphere's grid positions buffer as a copy target for its training thread.
    pub fn gpu_target(&self, points: &SpherePoints) -> GpuTarget {
        points.grid.buffers.gpu_target(&self.device, &self.queue)
    }

    /// The largest storage buffer the device binds, in bytes.
    pub fn max_binding(&self) -> u64 {
        self.device.limits().max_storage_buffer_binding_size
    }

    /// Uploads a sphere's grid positions.
    pub fn write_grid(&self, points: &SpherePoints, positions: &[[f32; 3]]) {
        let buffers = &points.grid.buffers;
        if positions.len() <= buffers.capacity() {
            buffers.write_positions(&self.queue, positions);
        }
    }

    /// Replaces a sphere's grid points with a grid of `sources`, placed on the square until
    /// the network maps them. The buffers may be new: ask for [`PointWriter::gpu_target`]
    /// again.
    pub fn regrid(&mut self, points: &mut SpherePoints, sources: &[[f32; 2]], radius: f32) {
        (points.grid).reserve(sources.len(), &self.device, &mut self.materials);
        points.grid.buffers.write_sources(&self.queue, sources);
        let side = (sources.len() as f64).sqrt().round() as u32;
        let index = |index| SpherePoint { index };
        let bounds = sphere_bounds(radius);
        (points.grid).respawn(side * side, index, bounds, &self.mesh, &mut self.commands);
    }

    /// Shows a sphere's training batch: its sources and positions in the batch buffers, one
    /// point entity each.
    pub fn show_batch(
        &mut self,
        points: &mut SpherePoints,
        sources: &[[f32; 2]],
        positions: &[[f32; 3]],
        radius: f32,
    ) {
        let set = &mut points.batch;
        set.reserve(sources.len(), &self.device, &mut self.materials);
        set.buffers.write_sources(&self.queue, sources);
        set.buffers.write_positions(&self.queue, positions);
        if set.count as usize != sources.len() {
            let bounds = sphere_bounds(radius);
            let count = sources.len() as u32;
            set.respawn(
                count,
                |_| BatchPoint,
                bounds,
                &self.mesh,
                &mut self.commands,
            );
        }
    }
}
