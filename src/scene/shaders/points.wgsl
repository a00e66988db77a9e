// Draws each point as a camera-facing triangle cut to a disc and shaded like a small sphere.
// The point's `MeshTag` indexes the storage buffers: its source (u, v) and where the network
// maps it, in the sphere's own space, which the entity's transform (its sphere's) places in the
// world. Lit, each point takes the light the scene's directional and ambient lights give the
// sphere's surface where it lies (Bevy's whole PBR for every pixel of every point costs a
// software rasteriser five times the frame).

#import bevy_pbr::{
    mesh_functions,
    view_transformations::{position_view_to_clip, position_world_to_view},
}
// Lit: `PointMaterial::specialize` sets it, so that unlit points run none of the lighting.
#ifdef SPHERE_LIT
#import bevy_pbr::mesh_view_bindings::{lights, view}
#endif
#import bevy_neural_sphere::colours::{colour_cell, distortion_colour, notebook_colour}

struct PointParams {
    // 0: sample the texture; 1: the notebook's red/green rule; 2: area distortion; 3: shape
    // distortion.
    colour_mode: u32,
    // Radius of a point in the sphere's own space.
    radius: f32,
    // 0: on the square, 1: on the sphere.
    morph: f32,
    // The mip level whose texels are about one grid cell wide.
    texture_lod: f32,
    // Side of the grid the points form.
    grid: u32,
}

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> params: PointParams;
@group(#{MATERIAL_BIND_GROUP}) @binding(1) var texture: texture_2d<f32>;
@group(#{MATERIAL_BIND_GROUP}) @binding(2) var texture_sampler: sampler;
// Source (u, v) in [-0.5, 0.5]², one per point.
@group(#{MATERIAL_BIND_GROUP}) @binding(3) var<storage, read> sources: array<vec2<f32>>;
// Position on the sphere, three floats per point (the network's [n, 3] output as it is).
@group(#{MATERIAL_BIND_GROUP}) @binding(4) var<storage, read> positions: array<f32>;

struct Vertex {
    @builtin(instance_index) instance_index: u32,
    // A corner of the triangle around the unit disc.
    @location(0) position: vec3<f32>,
};

struct VertexOutput {
    @builtin(position) clip_position: vec4<f32>,
    @location(0) color: vec4<f32>,
    // Where on the point's disc this is: inside the unit circle.
    @location(1) disc: vec2<f32>,
#ifdef SPHERE_LIT
    // The sphere's normal where the point lies, in world space.
    @location(2) @interpolate(flat) normal: vec3<f32>,
#endif
};

fn mapped(point: u32) -> vec3<f32> {
    return vec3(positions[3u * point], positions[3u * point + 1u], positions[3u * point + 2u]);
}

#ifdef SPHERE_LIT
const PI: f32 = 3.141592653589793;

// The light the scene's directional and ambient lights give a matt surface facing `normal`
// (world space), in Bevy's units and through the camera's exposure: what `StandardMaterial`'s
// diffuse term gives, without its highlights, point and spot lights or shadows.
fn diffuse_light(normal: vec3<f32>) -> vec3<f32> {
    var light = lights.ambient_color.rgb;
    for (var i = 0u; i < lights.n_directional_lights; i++) {
        let directional = lights.directional_lights[i];
        let facing = max(dot(normal, directional.direction_to_light), 0.0);
        light += directional.color.rgb * facing / PI;
    }
    return light * view.exposure;
}
#endif

@vertex
fn vertex(vertex: Vertex) -> VertexOutput {
    var out: VertexOutput;
    let tag = mesh_functions::get_tag(vertex.instance_index);
    let uv = sources[tag];
    // The square spans [-1, 1]² facing the camera, row 0 at the top, like the image.
    let square = vec3(2.0 * uv.x, -2.0 * uv.y, 0.0);
    let local = mix(square, mapped(tag), params.morph);
    let world_from_local = mesh_functions::get_world_from_local(vertex.instance_index);
    let centre = (world_from_local * vec4(local, 1.0)).xyz;
    // The transform's largest scale sizes the disc, so a scaled sphere keeps its look.
    let scale = max(
        length(world_from_local[0].xyz),
        max(length(world_from_local[1].xyz), length(world_from_local[2].xyz)),
    );
    let radius = params.radius * scale;
    let corner = position_world_to_view(centre) + vec3(vertex.position.xy * radius, 0.0);
    out.clip_position = position_view_to_clip(corner);
    out.disc = vertex.position.xy;

    let texel = uv + 0.5;
    if params.colour_mode == 1u {
        out.color = vec4(notebook_colour(uv), 1.0);
    } else if params.colour_mode >= 2u {
        let a = colour_cell(tag, params.grid);
        let n = params.grid;
        let colour = distortion_colour(
            params.colour_mode, mapped(a), mapped(a + 1u), mapped(a + n + 1u), mapped(a + n), n,
        );
        out.color = vec4(colour, 1.0);
    } else {
        // The texture is sRGB, so the trilinear sample is already linear: each point shows its
        // cell's mean colour.
        out.color = textureSampleLevel(texture, texture_sampler, texel, params.texture_lod);
    }
#ifdef SPHERE_LIT
    out.normal = mesh_functions::mesh_normal_local_to_world(
        mix(vec3(0.0, 0.0, 1.0), mapped(tag), params.morph),
        vertex.instance_index,
    );
#endif
    return out;
}

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    let r2 = dot(in.disc, in.disc);
    if r2 > 1.0 {
        discard;
    }
    // The normal of a sphere seen from the front, lit from the upper left: dimmer towards the
    // rim so the point looks round, never so dim that the texture's colours stop reading true.
    let normal = vec3(in.disc, sqrt(1.0 - r2));
    let light = normalize(vec3(-0.3, 0.4, 1.0));
    let shade = mix(0.85, 1.0, max(dot(normal, light), 0.0));
    var colour = in.color.rgb * shade;
#ifdef SPHERE_LIT
    colour *= diffuse_light(normalize(in.normal));
#endif
    return vec4(colour, 1.0);
}
