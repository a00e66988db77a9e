// Draws the grid's cells as a sheet wrapped onto the sphere, and the seam's stitches, as an
// extension of Bevy's `StandardMaterial`: lit by the scene's lights, casting and receiving
// shadows, and writing the prepasses (this file is also the prepass's vertex stage). Each vertex
// carries its grid point and the four points of its cell or stitch; the positions come from the
// buffer the points read. A cell with a side longer than the tear chord is moved off screen
// whole, so a tear shows as a gap; so is a stitch whose glued sides are further apart than their
// `glue_limit` times its seam segments, or nothing (`SphereSurface`'s rule, surface.rs). The
// shadow and the prepasses draw every cell: lavapipe crashes on the shadow pass of a sheet with
// cells moved away.

#import bevy_pbr::{
    mesh_functions,
    view_transformations::position_world_to_clip,
}
#import bevy_neural_sphere::colours::{colour_cell, distortion_colour, notebook_colour}

#ifdef PREPASS_PIPELINE
#import bevy_pbr::prepass_io::VertexOutput
#else
#import bevy_pbr::{
    forward_io::{VertexOutput, FragmentOutput},
    pbr_bindings,
}
#endif
// Lit: `SurfaceExtension::specialize` sets it for the fragment stage, so that an unlit surface
// runs none of the lighting (a software rasteriser runs both sides of a branch).
#ifdef SPHERE_LIT
#import bevy_pbr::{
    pbr_fragment::pbr_input_from_standard_material,
    pbr_functions::{apply_pbr_lighting, main_pass_post_lighting_processing},
}
#endif

struct SurfaceParams {
    // Side of the grid.
    grid: u32,
    // 0: sample the texture; 1: the notebook's red/green rule; 2: area distortion; 3: shape
    // distortion.
    colour_mode: u32,
    // 0: on the square, 1: on the sphere.
    morph: f32,
    // Neighbours further apart than this are torn apart.
    tear: f32,
    // A stitch's glued sides, at most this many times its longer seam segment (`STITCH_GAP`;
    // less about an edge's midpoint, `glue_limit`).
    stitch_gap: f32,
}

@group(#{MATERIAL_BIND_GROUP}) @binding(100) var<uniform> params: SurfaceParams;
// Position on the sphere, three floats per point.
@group(#{MATERIAL_BIND_GROUP}) @binding(101) var<storage, read> positions: array<f32>;

struct Vertex {
    @builtin(instance_index) instance_index: u32,
    // The vertex's place on the square.
    @location(0) square: vec3<f32>,
    @location(1) uv: vec2<f32>,
    // The vertex's grid point, and 1 on a seam stitch (0 on a cell).
    @location(2) index: vec2<u32>,
    // The four points of its cell or stitch: sides a b, c d, a c and b d.
    @location(3) quad: vec4<u32>,
};

// The main pass's vertex output: `forward_io`'s fields the sheet has, and its distortion colour.
struct SheetOutput {
    @builtin(position) position: vec4<f32>,
    @location(0) world_position: vec4<f32>,
    @location(1) world_normal: vec3<f32>,
    @location(2) uv: vec2<f32>,
    // The vertex's colour in the distortion views.
    @location(3) distortion: vec3<f32>,
    @location(4) @interpolate(flat) instance_index: u32,
};

// `glue_limit` of surface.rs: how many seam segments apart two glued points may lie.
fn glue_limit(p: u32, q: u32) -> f32 {
    let n = max(params.grid, 2u);
    let steps = abs(i32(p % n) - i32(q % n)) + abs(i32(p / n) - i32(q / n));
    return select(min(params.stitch_gap, 0.5 * f32(steps)), params.stitch_gap, steps <= 1);
}

fn mapped(point: u32) -> vec3<f32> {
    return vec3(positions[3u * point], positions[3u * point + 1u], positions[3u * point + 2u]);
}

// Where a grid point stands at the current morph.
fn placed(point: u32) -> vec3<f32> {
    let n = max(params.grid, 2u);
    let uv = vec2(f32(point % n), f32(point / n)) / f32(n - 1u) - 0.5;
    return mix(vec3(2.0 * uv.x, -2.0 * uv.y, 0.0), mapped(point), params.morph);
}

// Whether a cell or stitch (`stitch` 1) with corners `q` is drawn: not torn, and (a stitch)
// glued.
fn drawn(q: vec4<u32>, stitch: u32) -> bool {
    let a = placed(q.x);
    let b = placed(q.y);
    let c = placed(q.z);
    let d = placed(q.w);
    let ac = distance(a, c);
    let bd = distance(b, d);
    let segment = max(distance(a, b), distance(c, d));
    var whole = max(segment, max(ac, bd)) <= params.tear;
    if stitch == 1u {
        whole = whole && ac <= glue_limit(q.x, q.z) * segment
            && bd <= glue_limit(q.y, q.w) * segment && max(ac, bd) > 1e-6;
    }
    return whole;
}

// The vertex in the sphere's own space: where its grid point stands at the current morph.
fn sheet_position(vertex: Vertex) -> vec3<f32> {
    return mix(vertex.square, mapped(vertex.index.x), params.morph);
}

// The normal at grid point `point` in the sphere's own space: the square's, turning into the
// sphere's.
fn local_normal(point: u32) -> vec3<f32> {
    return mix(vec3(0.0, 0.0, 1.0), mapped(point), params.morph);
}

#ifdef PREPASS_PIPELINE
@vertex
fn vertex(vertex: Vertex) -> VertexOutput {
    var out: VertexOutput;
    let local = sheet_position(vertex);
    let world_from_local = mesh_functions::get_world_from_local(vertex.instance_index);
    out.world_position = world_from_local * vec4(local, 1.0);
    out.position = position_world_to_clip(out.world_position.xyz);
#ifdef UNCLIPPED_DEPTH_ORTHO_EMULATION
    out.unclipped_depth = out.position.z;
    out.position.z = min(out.position.z, 1.0);
#endif
#ifdef VERTEX_UVS_A
    out.uv = vertex.uv;
#endif
#ifdef NORMAL_PREPASS_OR_DEFERRED_PREPASS
    out.world_normal = mesh_functions::mesh_normal_local_to_world(local_normal(vertex.index.x), vertex.instance_index);
#endif
#ifdef MOTION_VECTOR_PREPASS
    // The positions' own motion is not tracked: only the entity's.
    let previous = mesh_functions::get_previous_world_from_local(vertex.instance_index);
    out.previous_world_position = previous * vec4(local, 1.0);
#endif
#ifdef VERTEX_OUTPUT_INSTANCE_INDEX
    out.instance_index = vertex.instance_index;
#endif
    return out;
}
#else
@vertex
fn vertex(vertex: Vertex) -> SheetOutput {
    var out: SheetOutput;
    let n = params.grid;
    let world_from_local = mesh_functions::get_world_from_local(vertex.instance_index);
    out.world_position = world_from_local * vec4(sheet_position(vertex), 1.0);
    out.position = position_world_to_clip(out.world_position.xyz);
    out.uv = vertex.uv;
    out.world_normal = mesh_functions::mesh_normal_local_to_world(local_normal(vertex.index.x), vertex.instance_index);
    out.instance_index = vertex.instance_index;
    if params.colour_mode >= 2u {
        let first = colour_cell(vertex.index.x, n);
        out.distortion = distortion_colour(
            params.colour_mode,
            mapped(first),
            mapped(first + 1u),
            mapped(first + n + 1u),
            mapped(first + n),
            n,
        );
    }
    if !drawn(vertex.quad, vertex.index.y) {
        // Torn (or not finite): all four vertices outside the clip volume, so nothing is drawn.
        // (Set last: lavapipe crashes on an early return here, or on a cell collapsed to a
        // point.)
        out.position = vec4(2.0, 2.0, 2.0, 1.0);
    }
    return out;
}

@fragment
fn fragment(sheet: SheetOutput, @builtin(front_facing) is_front: bool) -> FragmentOutput {
    var out: FragmentOutput;
    var colour: vec4<f32>;
    if params.colour_mode == 1u {
        colour = vec4(notebook_colour(sheet.uv - 0.5), 1.0);
    } else if params.colour_mode >= 2u {
        colour = vec4(sheet.distortion, 1.0);
    } else {
        // The sphere's image, the material's base colour texture: sRGB with mipmaps made in
        // linear light, so the sample is linear.
        colour = textureSample(
            pbr_bindings::base_color_texture, pbr_bindings::base_color_sampler, sheet.uv,
        );
    }
#ifdef SPHERE_LIT
    var in: VertexOutput;
    in.position = sheet.position;
    in.world_position = sheet.world_position;
    in.world_normal = sheet.world_normal;
#ifdef VERTEX_UVS_A
    in.uv = sheet.uv;
#endif
#ifdef VERTEX_OUTPUT_INSTANCE_INDEX
    in.instance_index = sheet.instance_index;
#endif
    // The material's roughness and the rest; double-sided, so the inside of an open sheet is
    // lit from its own side.
    var pbr_input = pbr_input_from_standard_material(in, is_front);
    pbr_input.material.base_color = vec4(colour.rgb, 1.0);
    out.color = apply_pbr_lighting(pbr_input);
    out.color = main_pass_post_lighting_processing(pbr_input, out.color);
#else
    out.color = vec4(colour.rgb, 1.0);
#endif
    return out;
}
#endif
