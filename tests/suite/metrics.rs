//! The sphere metrics against the reference script, and the grid metrics on maps whose answer
//! is known.

use bevy_neural_sphere::learn::{fibonacci_sphere, grid_metrics, grid_points, sphere_metrics};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn expected(key: &str) -> f64 {
    let text = std::fs::read_to_string(format!("{FIXTURES}/metrics_expected.txt")).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} is not in the fixture"))
        .parse()
        .unwrap()
}

#[test]
fn match_the_reference_script_on_the_fixture() {
    let text = std::fs::read_to_string(format!("{FIXTURES}/metrics_points.csv")).unwrap();
    let points: Vec<[f32; 3]> = text
        .lines()
        .skip(1)
        .map(|line| {
            let v: Vec<f32> = line.split(',').map(|x| x.parse().unwrap()).collect();
            [v[0], v[1], v[2]]
        })
        .collect();
    let m = sphere_metrics(&points);
    assert_eq!(m.points as f64, expected("N"));
    // One probe direction is 1/20,000 of the coverage.
    assert!((m.coverage - expected("coverage")).abs() <= 1e-4, "{m:?}");
    assert!(
        (m.largest_empty_cap_deg - expected("largest_empty_cap_deg")).abs() < 1e-6,
        "{m:?}"
    );
    assert!(
        (m.mean_resultant - expected("mean_resultant")).abs() < 1e-9,
        "{m:?}"
    );
    assert!(
        (m.uniformity - expected("uniformity")).abs() < 1e-9,
        "{m:?}"
    );
}

#[test]
fn a_fibonacci_lattice_covers_everything() {
    let lattice: Vec<[f32; 3]> = fibonacci_sphere(10_000)
        .into_iter()
        .map(|p| p.map(|c| c as f32))
        .collect();
    let m = sphere_metrics(&lattice);
    assert_eq!(m.coverage, 1.0);
    // BASELINE.md: 1.4 deg and uniformity -2.0805.
    assert!((m.largest_empty_cap_deg - 1.4).abs() < 0.1, "{m:?}");
    assert!((m.uniformity - -2.0805).abs() < 1e-3, "{m:?}");
}

#[test]
fn crowded_points_measure_as_a_dense_scan_does() {
    // A tight cluster is the k-d tree's hard case and the shape early training takes.
    let crowded: Vec<[f32; 3]> = fibonacci_sphere(2_000)
        .into_iter()
        .map(|[x, y, z]| [1.0, 0.05 * y as f32 + 0.02 * x as f32, 0.05 * z as f32])
        .collect();
    let m = sphere_metrics(&crowded);
    let unit: Vec<[f64; 3]> = crowded
        .iter()
        .map(|p| {
            let p = p.map(f64::from);
            let length = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt();
            p.map(|c| c / length)
        })
        .collect();
    let dot = |a: &[f64; 3], b: &[f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    let farthest = fibonacci_sphere(20_000)
        .iter()
        .map(|probe| unit.iter().map(|p| dot(p, probe)).fold(-1.0, f64::max))
        .fold(1.0, f64::min);
    let mut pairs = 0.0;
    for (i, a) in unit.iter().enumerate() {
        for b in &unit[i + 1..] {
            pairs += (-2.0 * (2.0 - 2.0 * dot(a, b))).exp();
        }
    }
    let uniformity = (pairs / (unit.len() * (unit.len() - 1) / 2) as f64).ln();
    assert!(
        (m.largest_empty_cap_deg - farthest.acos().to_degrees()).abs() < 1e-9,
        "{m:?}"
    );
    assert!(
        (m.uniformity - uniformity).abs() < 1e-9,
        "{m:?} vs {uniformity}"
    );
}

/// The grid mapped by `f` onto the sphere.
pub fn mapped(grid: usize, f: impl Fn(f32, f32) -> [f32; 3]) -> Vec<[f32; 3]> {
    grid_points(grid)
        .into_iter()
        .map(|[u, v]| f(u, v))
        .collect()
}

#[test]
fn grid_metrics_tell_a_map_from_a_fold_and_a_scatter() {
    let grid = 60;
    // A gnomonic patch: one-to-one and smooth.
    let patch = mapped(grid, |u, v| [u, v, 1.0]);
    let m = grid_metrics(grid, &patch);
    assert_eq!((m.torn_pairs, m.overlap), (0.0, 0.0), "{m:?}");

    // Folded along u = 0: both halves land on the same half-patch.
    let folded = mapped(grid, |u, v| [u.abs(), v, 1.0]);
    let m = grid_metrics(grid, &folded);
    assert_eq!(m.torn_pairs, 0.0);
    // The half-patch [0, 0.5] x [-0.5, 0.5] at z = 1 spans 3.2 % of the sphere.
    assert!((0.029..0.035).contains(&m.overlap), "{m:?}");

    // The same points in a shuffled order (7919 is prime, so i -> 7919 i mod n permutes):
    // neighbours torn apart.
    let n = patch.len();
    let shuffled: Vec<[f32; 3]> = (0..n).map(|i| patch[(i * 7919) % n]).collect();
    let m = grid_metrics(grid, &shuffled);
    assert!(m.torn_pairs > 0.3, "{m:?}");
}

/// Clarberg's equal-area octahedral map of [-0.5, 0.5]² onto the sphere: the square's four
/// corners fold onto the south pole.
pub fn octahedral(u: f32, v: f32) -> [f32; 3] {
    let (u, v) = (2.0 * u as f64, 2.0 * v as f64);
    let d = 1.0 - (u.abs() + v.abs());
    let r = 1.0 - d.abs();
    let phi = if r == 0.0 {
        0.0
    } else {
        ((v.abs() - u.abs()) / r + 1.0) * std::f64::consts::FRAC_PI_4
    };
    let s = r * (2.0 - r * r).max(0.0).sqrt();
    let z = (1.0 - r * r).copysign(d);
    [phi.cos() * s * u.signum(), phi.sin() * s * v.signum(), z].map(|c| c as f32)
}

/// Longitude along `u`, latitude along `v`.
fn equirectangular(u: f32, v: f32) -> [f32; 3] {
    let (lon, lat) = (std::f32::consts::TAU * u, std::f32::consts::PI * v);
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

#[test]
fn an_equal_area_map_measures_as_the_reference_figures_say() {
    let grid = 100;
    let octahedral_grid = mapped(grid, octahedral);
    let s = sphere_metrics(&octahedral_grid);
    let g = grid_metrics(grid, &octahedral_grid);
    assert_eq!(s.coverage, 1.0, "{s:?}");
    assert!((s.largest_empty_cap_deg - 1.42).abs() < 0.01, "{s:?}");
    assert_eq!(g.torn_pairs, 0.0, "{g:?}");
    assert!(g.overlap < 1e-3, "{g:?}");
    assert!((g.area_sum - 1.0).abs() < 1e-4, "{g:?}");
    assert!((g.area_cv - 0.0108).abs() < 5e-4, "{g:?}");
    assert!(
        s.is_closed() && g.is_clean(),
        "it meets the closed preset's bar"
    );

    // Covered once too, but stretched: cells shrink towards the poles.
    let g = grid_metrics(grid, &mapped(grid, equirectangular));
    assert!((g.area_sum - 1.0).abs() < 1e-3, "{g:?}");
    assert!((g.area_cv - 0.484).abs() < 2e-3, "{g:?}");

    // The middle of the octahedral map: 0.7² of the square, so of the sphere, and a hole.
    let g = grid_metrics(grid, &mapped(grid, |u, v| octahedral(0.7 * u, 0.7 * v)));
    assert!((g.area_sum - 0.49).abs() < 1e-3, "{g:?}");
}
