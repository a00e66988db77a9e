// The colour rule the points and the surface share.

#define_import_path bevy_neural_sphere::colours

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    return select(pow((c + 0.055) / 1.055, vec3(2.4)), c / 12.92, c <= vec3(0.04045));
}

// The notebook's colour of the grid point (u, v) in [-0.5, 0.5]², in linear light:
// red = u·100 + 120, green = v·100 + 120 (sRGB bytes), blue 0.
fn notebook_colour(uv: vec2<f32>) -> vec3<f32> {
    return srgb_to_linear(vec3(uv * 100.0 + 120.0, 0.0) / 255.0);
}
