// Draws the grid's cells as a sheet wrapped onto the sphere, and the seam's stitches. Each vertex
// carries its grid point and the four points of its cell or stitch; the positions come from the
// buffer the points read. A cell with a side longer than the tear chord is moved off screen
// whole, so a tear shows as a gap; so is a stitch whose glued sides are further apart than their
// `glue_limit` times its seam segments, or nothing (`SphereSurface`'s rule, surface.rs).

#import bevy_pbr::{
    mesh_functions,
    mesh_view_bindings::view,
    view_transformations::position_world_to_clip,
}
#import bevy_neural_sphere::colours::{colour_cell, distortion_colour, notebook_colour}

struct SurfaceParams {
    // Side of the grid.
    grid: u32,
    // 0: sample the texture; 1: the notebook's red/green rule; 2: area distortion; 3: shape
    // distortion.
    colour_mode: u32,
    // 1: lit by a light over the camera's shoulder; 0: the colours as they are.
    lit: u32,
    // 0: on the square, 1: on the sphere.
    morph: f32,
    // Neighbours further apart than this are torn apart.
    tear: f32,
    // A stitch's glued sides, at most this many times its longer seam segment (`STITCH_GAP`;
    // less about an edge's midpoint, `glue_limit`).
    stitch_gap: f32,
}

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> params: SurfaceParams;
@group(#{MATERIAL_BIND_GROUP}) @binding(1) var texture: texture_2d<f32>;
@group(#{MATERIAL_BIND_GROUP}) @binding(2) var texture_sampler: sampler;
// Position on the sphere, three floats per point.
@group(#{MATERIAL_BIND_GROUP}) @binding(3) var<storage, read> positions: array<f32>;

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

struct VertexOutput {
    @builtin(position) clip_position: vec4<f32>,
    @location(0) uv: vec2<f32>,
    @location(1) normal: vec3<f32>,
    @location(2) world_position: vec3<f32>,
    // The vertex's colour in the distortion views.
    @location(3) distortion: vec3<f32>,
};

// `glue_limit` of surface.rs: how many seam segments apart two glued points may lie.
fn glue_limit(p: u32, q: u32) -> f32 {
    let n = params.grid;
    let steps = abs(i32(p % n) - i32(q % n)) + abs(i32(p / n) - i32(q / n));
    if steps <= 1 {
        return params.stitch_gap;
    }
    return min(params.stitch_gap, 0.5 * f32(steps));
}

fn mapped(point: u32) -> vec3<f32> {
    return vec3(positions[3u * point], positions[3u * point + 1u], positions[3u * point + 2u]);
}

// Where a grid point stands at the current morph.
fn placed(point: u32) -> vec3<f32> {
    let last = f32(params.grid - 1u);
    let uv = vec2(f32(point % params.grid), f32(point / params.grid)) / last - 0.5;
    return mix(vec3(2.0 * uv.x, -2.0 * uv.y, 0.0), mapped(point), params.morph);
}

@vertex
fn vertex(vertex: Vertex) -> VertexOutput {
    var out: VertexOutput;
    let n = params.grid;
    let a = placed(vertex.quad.x);
    let b = placed(vertex.quad.y);
    let c = placed(vertex.quad.z);
    let d = placed(vertex.quad.w);
    let ac = distance(a, c);
    let bd = distance(b, d);
    let segment = max(distance(a, b), distance(c, d));
    var drawn = max(segment, max(ac, bd)) <= params.tear;
    if vertex.index.y == 1u {
        let q = vertex.quad;
        drawn = drawn && ac <= glue_limit(q.x, q.z) * segment
            && bd <= glue_limit(q.y, q.w) * segment && max(ac, bd) > 1e-6;
    }
    if !drawn {
        // Torn (or not finite): all four vertices outside the clip volume, so nothing is drawn.
        out.clip_position = vec4(2.0, 2.0, 2.0, 1.0);
        return out;
    }
    // Placed in the sphere's own space, then in the world by the entity's transform.
    let sphere = mapped(vertex.index.x);
    let local = mix(vertex.square, sphere, params.morph);
    let world_from_local = mesh_functions::get_world_from_local(vertex.instance_index);
    let world_position = (world_from_local * vec4(local, 1.0)).xyz;
    out.clip_position = position_world_to_clip(world_position);
    out.uv = vertex.uv;
    out.normal = mesh_functions::mesh_normal_local_to_world(
        mix(vec3(0.0, 0.0, 1.0), sphere, params.morph),
        vertex.instance_index,
    );
    out.world_position = world_position;
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
    return out;
}

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    var colour: vec3<f32>;
    if params.colour_mode == 1u {
        colour = notebook_colour(in.uv - 0.5);
    } else if params.colour_mode >= 2u {
        colour = in.distortion;
    } else {
        // The texture is sRGB with mipmaps made in linear light: the sample is linear.
        colour = textureSample(texture, texture_sampler, in.uv).rgb;
    }
    if params.lit == 0u {
        return vec4(colour, 1.0);
    }
    // The sphere's normal, turned to the camera where the inside of the sheet shows.
    var normal = normalize(in.normal);
    if dot(normal, view.world_position - in.world_position) < 0.0 {
        normal = -normal;
    }
    let light = normalize((view.world_from_view * vec4(-0.4, 0.5, 1.0, 0.0)).xyz);
    let shade = 0.35 + 0.65 * max(dot(normal, light), 0.0);
    return vec4(colour * shade, 1.0);
}
