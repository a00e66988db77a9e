//! The surface view: a sphere's grid cells as one triangle mesh, a child of the sphere, whose
//! vertices the shader places from the same position buffer the points read (through the
//! sphere's `GlobalTransform`), textured through the grid's UVs at the texture's
//! full resolution and shaded by Bevy's PBR with the scene's lights and shadows (the material
//! extends [`StandardMaterial`]). A cell with a side longer than [`STRETCH_LIMIT_DEG`] on the sphere is torn
//! and not drawn, so a tear shows as a gap; the seam's stitches are drawn where they close it,
//! by the same rule as [`SphereSurface`]'s.
//!
//! Also the other way out: [`Mesh::from`] a [`SphereSurface`], for a game's own materials.

use bevy::asset::RenderAssetUsages;
use bevy::camera::visibility::NoAutoAabb;
use bevy::material::OpaqueRendererMethod;
use bevy::mesh::{Indices, MeshVertexAttribute, MeshVertexBufferLayoutRef, PrimitiveTopology};
use bevy::pbr::{
    ExtendedMaterial, MaterialExtension, MaterialExtensionKey, MaterialExtensionPipeline,
};
use bevy::prelude::*;
use bevy::render::render_resource::{
    AsBindGroup, Buffer, RenderPipelineDescriptor, ShaderType, SpecializedMeshPipelineError,
    VertexFormat,
};
use bevy::shader::ShaderRef;

use super::points::{SpherePoints, sphere_bounds};
use super::positions::SphereMapping;
use super::settings::{ColourMode, NeuralSphere, SphereView};
use super::texture::SphereImage;
use crate::learn::grid::grid_points;
use crate::learn::metrics::STRETCH_LIMIT_DEG;
use crate::learn::surface::{QUAD_TRIANGLES, STITCH_GAP, SphereSurface, cell_quads, seam_quads};

impl From<&SphereSurface> for Mesh {
    /// A triangle-list mesh with positions, normals, UVs and indices: torn cells are left out,
    /// and front faces face outwards. Render it with a double-sided material (for example a
    /// [`StandardMaterial`] with `double_sided: true, cull_mode: None`) to see the inside of a
    /// sphere that is not closed.
    fn from(surface: &SphereSurface) -> Self {
        Mesh::new(
            PrimitiveTopology::TriangleList,
            RenderAssetUsages::default(),
        )
        .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, surface.positions.clone())
        .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, surface.normals.clone())
        .with_inserted_attribute(Mesh::ATTRIBUTE_UV_0, surface.uvs.clone())
        .with_inserted_indices(Indices::U32(surface.indices.clone()))
    }
}

/// Each vertex's grid point, and 1 on a seam stitch (0 on a cell).
const ATTRIBUTE_GRID_INDEX: MeshVertexAttribute =
    MeshVertexAttribute::new("SphereGridIndex", 1_946_113_571, VertexFormat::Uint32x2);

/// The four grid points of each vertex's cell or stitch, whose sides decide whether it is drawn.
const ATTRIBUTE_QUAD: MeshVertexAttribute =
    MeshVertexAttribute::new("SphereGridQuad", 1_946_113_572, VertexFormat::Uint32x4);

/// A sphere's surface entity, a child of the sphere: one mesh of the whole grid, drawn with
/// [`SurfaceMaterial`] in the [`SphereView::Surface`] view. The shader places its vertices
/// from the sphere's positions, through its `GlobalTransform` (its own `Transform` stays the
/// identity).
#[derive(Component, Debug, Clone, Copy, Reflect)]
#[reflect(Component)]
#[require(Transform, Visibility, NoAutoAabb)]
pub struct SphereSurfaceMesh;

#[derive(Clone, Copy, Debug, ShaderType)]
struct SurfaceParams {
    grid: u32,
    colour_mode: u32,
    morph: f32,
    tear: f32,
    stitch_gap: f32,
}

/// The surface's material: Bevy's [`StandardMaterial`] (the sphere's image as its base colour
/// texture, double-sided) extended with [`SurfaceExtension`]'s vertex stage.
pub(crate) type SurfaceMaterial = ExtendedMaterial<StandardMaterial, SurfaceExtension>;

/// What the surface adds to [`StandardMaterial`]: the vertex stage, for the main pass and the
/// prepasses (so shadows too), reads each vertex's position from the grid's position buffer
/// and leaves out torn cells; the fragment stage paints the notebook's colours or a distortion
/// view instead of the texture where asked, then lights as [`StandardMaterial`] does.
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone)]
#[uniform(100, SurfaceParams)]
#[bind_group_data(SurfaceKey)]
pub(crate) struct SurfaceExtension {
    /// Side of the grid.
    pub grid: u32,
    /// The texture, the notebook's colours or a distortion view.
    pub colour_mode: ColourMode,
    /// Shaded by Bevy's PBR with the scene's lights, or the colours as they are (a pipeline of
    /// its own, with none of `StandardMaterial`'s lighting).
    pub lit: bool,
    /// 0 lays the sheet out as the square, 1 wraps it onto the sphere.
    pub morph: f32,
    /// Each grid point's position, three floats a point: the buffer the points read.
    #[storage(101, read_only, buffer)]
    pub positions: Buffer,
}

impl From<&SurfaceExtension> for SurfaceParams {
    fn from(material: &SurfaceExtension) -> Self {
        Self {
            grid: material.grid,
            colour_mode: material.colour_mode.shader_index(),
            morph: material.morph,
            // The chord of the tear angle: the same rule for unit vectors, and cheaper.
            tear: 2.0 * (STRETCH_LIMIT_DEG.to_radians() / 2.0).sin() as f32,
            stitch_gap: STITCH_GAP as f32,
        }
    }
}

/// What the surface's pipeline is specialised on.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SurfaceKey {
    lit: bool,
}

impl From<&SurfaceExtension> for SurfaceKey {
    fn from(material: &SurfaceExtension) -> Self {
        Self { lit: material.lit }
    }
}

const SHADER_PATH: &str = "embedded://bevy_neural_sphere/scene/shaders/surface.wgsl";

impl MaterialExtension for SurfaceExtension {
    fn vertex_shader() -> ShaderRef {
        SHADER_PATH.into()
    }

    fn fragment_shader() -> ShaderRef {
        SHADER_PATH.into()
    }

    fn prepass_vertex_shader() -> ShaderRef {
        SHADER_PATH.into()
    }

    fn specialize(
        _pipeline: &MaterialExtensionPipeline,
        descriptor: &mut RenderPipelineDescriptor,
        layout: &MeshVertexBufferLayoutRef,
        key: MaterialExtensionKey<Self>,
    ) -> Result<(), SpecializedMeshPipelineError> {
        if key.bind_group_data.lit
            && let Some(fragment) = descriptor.fragment.as_mut()
        {
            fragment.shader_defs.push("SPHERE_LIT".into());
        }
        // The same four attributes in every pass: the sheet's vertices have no normals (the
        // shader takes them from the positions).
        descriptor.vertex.buffers = vec![layout.0.get_layout(&[
            Mesh::ATTRIBUTE_POSITION.at_shader_location(0),
            Mesh::ATTRIBUTE_UV_0.at_shader_location(1),
            ATTRIBUTE_GRID_INDEX.at_shader_location(2),
            ATTRIBUTE_QUAD.at_shader_location(3),
        ])?];
        // Both sides of the sheet: an open sphere shows its inside.
        descriptor.primitive.cull_mode = None;
        Ok(())
    }
}

/// The surface's perceptual roughness: matt, with a broad highlight.
const ROUGHNESS: f32 = 0.8;

/// The surface's material for a sphere's settings, texture and positions.
fn surface_material(
    settings: &NeuralSphere,
    grid: u32,
    texture: Handle<Image>,
    positions: Buffer,
) -> SurfaceMaterial {
    ExtendedMaterial {
        base: StandardMaterial {
            base_color_texture: Some(texture),
            perceptual_roughness: ROUGHNESS,
            double_sided: true,
            cull_mode: None,
            opaque_render_method: OpaqueRendererMethod::Forward,
            ..default()
        },
        extension: surface_extension(settings, grid, positions),
    }
}

/// The crate's part of the surface's material.
fn surface_extension(settings: &NeuralSphere, grid: u32, positions: Buffer) -> SurfaceExtension {
    SurfaceExtension {
        grid,
        colour_mode: settings.colour_mode,
        lit: settings.lit,
        morph: settings.morph.clamp(0.0, 1.0),
        positions,
    }
}

/// A sphere's surface: its entity, mesh and material.
#[derive(Component)]
pub(crate) struct SphereSurfaceAssets {
    entity: Entity,
    mesh: Handle<Mesh>,
    material: Handle<SurfaceMaterial>,
}

/// Gives each new sphere its surface, hidden unless the view is [`SphereView::Surface`].
pub(crate) fn setup_surface(
    mut commands: Commands,
    spheres: Query<
        (
            Entity,
            &NeuralSphere,
            &SphereImage,
            &SphereMapping,
            &SpherePoints,
        ),
        Added<SpherePoints>,
    >,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<SurfaceMaterial>>,
) {
    for (sphere, settings, image, mapping, points) in &spheres {
        let mesh = meshes.add(sheet_mesh(mapping.grid));
        let material = materials.add(surface_material(
            settings,
            mapping.grid,
            image.0.clone(),
            points.grid.buffers.positions.clone(),
        ));
        let entity = commands
            .spawn((
                SphereSurfaceMesh,
                Mesh3d(mesh.clone()),
                MeshMaterial3d(material.clone()),
                sphere_bounds(0.0),
                view_visibility(settings.view),
                ChildOf(sphere),
            ))
            .id();
        commands.entity(sphere).insert(SphereSurfaceAssets {
            entity,
            mesh,
            material,
        });
    }
}

fn view_visibility(view: SphereView) -> Visibility {
    match view {
        SphereView::Surface => Visibility::Inherited,
        SphereView::Grid | SphereView::TrainingBatch => Visibility::Hidden,
    }
}

/// Follows each sphere's settings, texture, grid side and position buffer (new when the grid
/// grows): the material when any differs, the mesh when the side does.
pub(crate) fn sync_surface(
    spheres: Query<(
        &NeuralSphere,
        &SphereImage,
        &SphereMapping,
        &SpherePoints,
        &SphereSurfaceAssets,
    )>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<SurfaceMaterial>>,
    mut visibility: Query<&mut Visibility, With<SphereSurfaceMesh>>,
) {
    for (settings, image, mapping, points, assets) in &spheres {
        if let Ok(mut shown) = visibility.get_mut(assets.entity) {
            shown.set_if_neq(view_visibility(settings.view));
        }
        let Some(material) = materials.get(&assets.material) else {
            continue;
        };
        let (now, next) = (
            &material.extension,
            surface_extension(
                settings,
                mapping.grid,
                points.grid.buffers.positions.clone(),
            ),
        );
        let texture = material.base.base_color_texture.as_ref().map(Handle::id);
        let regrid = now.grid != next.grid;
        let changed = regrid
            || now.colour_mode != next.colour_mode
            || now.lit != next.lit
            || now.morph != next.morph
            || now.positions.id() != next.positions.id()
            || texture != Some(image.0.id());
        if !changed {
            continue;
        }
        if regrid {
            meshes
                .insert(&assets.mesh, sheet_mesh(mapping.grid))
                .expect("the surface holds a strong handle to its mesh");
        }
        if let Some(mut material) = materials.get_mut(&assets.material) {
            material.extension = next;
            material.base.base_color_texture = Some(image.0.clone());
        }
    }
}

/// The sheet the shader wraps: four vertices a cell, each at its point's place on the square
/// (what the surface shows at morph 0) with its UV, its grid point and its cell's four points,
/// so that the shader can leave a torn cell out whole; two triangles a cell. Then the seam's
/// stitches, laid out the same way, each point with the UV of the point it is glued to.
fn sheet_mesh(grid: u32) -> Mesh {
    let side = grid.max(2) as usize;
    let points = grid_points(side);
    let cells = cell_quads(side).map(|quad| (quad, 0));
    let stitches = seam_quads(side).into_iter().map(|quad| (quad, 1));
    let quads: Vec<([usize; 4], u32)> = cells.chain(stitches).collect();
    let mut squares = Vec::with_capacity(4 * quads.len());
    let mut uvs = Vec::with_capacity(4 * quads.len());
    let mut index = Vec::with_capacity(4 * quads.len());
    let mut corners = Vec::with_capacity(4 * quads.len());
    let mut indices = Vec::with_capacity(6 * quads.len());
    for (quad, stitch) in quads {
        let first = squares.len() as u32;
        for (k, &point) in quad.iter().enumerate() {
            let [u, v] = points[point];
            squares.push([2.0 * u, -2.0 * v, 0.0]);
            let [u, v] = points[if stitch == 1 { quad[k % 2] } else { point }];
            uvs.push([u + 0.5, v + 0.5]);
            index.push([point as u32, stitch]);
            corners.push(quad.map(|p| p as u32));
        }
        indices.extend(
            QUAD_TRIANGLES
                .as_flattened()
                .iter()
                .map(|&k| first + k as u32),
        );
    }
    Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::RENDER_WORLD,
    )
    .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, squares)
    .with_inserted_attribute(Mesh::ATTRIBUTE_UV_0, uvs)
    .with_inserted_attribute(ATTRIBUTE_GRID_INDEX, index)
    .with_inserted_attribute(ATTRIBUTE_QUAD, corners)
    .with_inserted_indices(Indices::U32(indices))
}
