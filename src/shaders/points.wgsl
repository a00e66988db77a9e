// Colours each point from the texture at its source (u, v), found from its `MeshTag`.

#import bevy_pbr::{
    mesh_functions,
    view_transformations::position_world_to_clip,
}

struct PointParams {
    // Side of the grid: tag = row * grid + column.
    grid: u32,
    // 0: sample the texture; 1: the notebook's red/green rule.
    colour_mode: u32,
}

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> params: PointParams;
@group(#{MATERIAL_BIND_GROUP}) @binding(1) var texture: texture_2d<f32>;
@group(#{MATERIAL_BIND_GROUP}) @binding(2) var texture_sampler: sampler;

struct Vertex {
    @builtin(instance_index) instance_index: u32,
    @location(0) position: vec3<f32>,
};

struct VertexOutput {
    @builtin(position) clip_position: vec4<f32>,
    @location(0) color: vec4<f32>,
};

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    return select(pow((c + 0.055) / 1.055, vec3(2.4)), c / 12.92, c <= vec3(0.04045));
}

@vertex
fn vertex(vertex: Vertex) -> VertexOutput {
    var out: VertexOutput;
    let world_from_local = mesh_functions::get_world_from_local(vertex.instance_index);
    let world = mesh_functions::mesh_position_local_to_world(world_from_local, vec4(vertex.position, 1.0));
    out.clip_position = position_world_to_clip(world.xyz);

    // Texture coordinates of the grid point: column → x, row → y, edges included.
    let tag = mesh_functions::get_tag(vertex.instance_index);
    let last = f32(max(params.grid, 2u) - 1u);
    let uv = vec2(f32(tag % params.grid), f32(tag / params.grid)) / last;

    if params.colour_mode == 1u {
        // red = u·100 + 120, green = v·100 + 120 (sRGB bytes), u and v in [-0.5, 0.5].
        let srgb = vec3((uv - 0.5) * 100.0 + 120.0, 0.0) / 255.0;
        out.color = vec4(srgb_to_linear(srgb), 1.0);
    } else {
        // The texture is sRGB, so the bilinear sample is already linear.
        out.color = textureSampleLevel(texture, texture_sampler, uv, 0.0);
    }
    return out;
}

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    return in.color;
}
