//! The lattice of source points in the plane.

/// The `n × n` lattice over [-0.5, 0.5]², both edges included, `u` varying fastest: NumPy's
/// `meshgrid(linspace(-0.5, 0.5, n), linspace(-0.5, 0.5, n))`, raveled.
pub fn grid_points(n: usize) -> Vec<[f32; 2]> {
    let axis: Vec<f32> = (0..n)
        .map(|i| match n {
            1 => -0.5,
            _ => (-0.5 + i as f64 / (n - 1) as f64) as f32,
        })
        .collect();
    axis.iter()
        .flat_map(|&v| axis.iter().map(move |&u| [u, v]))
        .collect()
}

/// The notebook's colour for a source point: red = u·100 + 120, green = v·100 + 120, blue 0.
pub fn notebook_colour([u, v]: [f32; 2]) -> [u8; 3] {
    let channel = |x: f32| (x * 100.0 + 120.0).round().clamp(0.0, 255.0) as u8;
    [channel(u), channel(v), 0]
}
