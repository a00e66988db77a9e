// The colour rules the points and the surface share: the notebook's, and the distortion views'.

#define_import_path bevy_neural_sphere::colours

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    return select(pow((c + 0.055) / 1.055, vec3(2.4)), c / 12.92, c <= vec3(0.04045));
}

// The notebook's colour of the grid point (u, v) in [-0.5, 0.5]², in linear light:
// red = u·100 + 120, green = v·100 + 120 (sRGB bytes), blue 0.
fn notebook_colour(uv: vec2<f32>) -> vec3<f32> {
    return srgb_to_linear(vec3(uv * 100.0 + 120.0, 0.0) / 255.0);
}

fn triangle_area(a: vec3<f32>, b: vec3<f32>, c: vec3<f32>) -> f32 {
    let triple = abs(dot(a, cross(b, c)));
    return 2.0 * atan2(triple, 1.0 + dot(a, b) + dot(b, c) + dot(c, a));
}

// The distortion of a `grid × grid` lattice's cell with first corner `a`, its neighbours `b`
// along u, `d` along v and `c` across: vec2(its area over an equal share of the sphere,
// s1 / s2 of its Jacobian projected onto the tangent plane at `a`). `cell_distortion` in
// distortion.rs.
fn cell_distortion(
    a: vec3<f32>, b: vec3<f32>, c: vec3<f32>, d: vec3<f32>, grid: u32,
) -> vec2<f32> {
    let cells = f32(grid - 1u);
    let share = 4.0 * 3.14159265 / (cells * cells);
    let area = (triangle_area(a, b, c) + triangle_area(a, c, d)) / share;
    let ju = (b - a) - dot(b - a, a) * a;
    let jv = (d - a) - dot(d - a, a) * a;
    let uu = dot(ju, ju);
    let vv = dot(jv, jv);
    let uv = dot(ju, jv);
    let half_trace = (uu + vv) / 2.0;
    let half_gap = (uu - vv) / 2.0;
    let root = sqrt(half_gap * half_gap + uv * uv);
    return vec2(area, sqrt((half_trace + root) / max(half_trace - root, 0.0)));
}

// `t` in [0, 1] along the scale with `count` stops, piecewise linear in sRGB, in linear light.
fn along_stops(stops: array<vec3<f32>, 5>, count: u32, t: f32) -> vec3<f32> {
    var s = stops;
    let x = clamp(t, 0.0, 1.0) * f32(count - 1u);
    let i = min(u32(floor(x)), count - 2u);
    return srgb_to_linear(mix(s[i], s[i + 1u], x - f32(i)) / 255.0);
}

// The distortion views' colour (`DistortionScale` in distortion.rs) of the cell with corners
// `a`, `b`, `c`, `d` (as `cell_distortion` takes them). Mode 2: log₂ area from -1 to 1 on a
// diverging scale; mode 3: s1 / s2 from 1 to 5 on viridis.
fn distortion_colour(
    mode: u32, a: vec3<f32>, b: vec3<f32>, c: vec3<f32>, d: vec3<f32>, grid: u32,
) -> vec3<f32> {
    let cell = cell_distortion(normalize(a), normalize(b), normalize(c), normalize(d), grid);
    if mode == 2u {
        let cool_warm = array(
            vec3(59.0, 76.0, 192.0), vec3(221.0, 221.0, 221.0), vec3(180.0, 4.0, 38.0),
            vec3(0.0), vec3(0.0),
        );
        return along_stops(cool_warm, 3u, (log2(cell.x) + 1.0) / 2.0);
    }
    let viridis = array(
        vec3(68.0, 1.0, 84.0), vec3(59.0, 82.0, 139.0), vec3(33.0, 145.0, 140.0),
        vec3(94.0, 201.0, 98.0), vec3(253.0, 231.0, 37.0),
    );
    return along_stops(viridis, 5u, (cell.y - 1.0) / 4.0);
}

// The first corner of the cell whose colour grid point `point` takes: its own cell, the last
// row and column that of the cell before them.
fn colour_cell(point: u32, grid: u32) -> u32 {
    let last = grid - 2u;
    return min(point / grid, last) * grid + min(point % grid, last);
}
