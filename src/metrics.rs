//! How well a set of unit vectors covers the sphere, and how well a mapped grid stays a map.
//!
//! The sphere metrics are those of the reference's `sphere_metrics.py`, computed in `f64`:
//! coverage and the largest empty cap are measured at a 20,000-point Fibonacci probe lattice,
//! each probe's nearest mapped point found through a k-d tree instead of a dense scan.

use std::f64::consts::PI;

/// Probe directions the coverage is measured at.
pub const PROBES: usize = 20_000;
/// Temperature of the reported uniformity (the reference's `T_UNIF`).
const UNIFORMITY_TEMPERATURE: f64 = 2.0;
/// Adjacent grid points further apart than this, in degrees, count as torn apart.
pub const STRETCH_LIMIT_DEG: f64 = 10.0;

/// How well a set of unit vectors covers the sphere.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SphereMetrics {
    /// Number of points.
    pub points: usize,
    /// Share of the probe directions within `arccos(1 - 8/N)` of some point: the radius of a
    /// cap holding four points' worth of area.
    pub coverage: f64,
    /// The largest angle, in degrees, from a probe direction to its nearest point.
    pub largest_empty_cap_deg: f64,
    /// Length of the points' mean (0 when balanced, 1 when collapsed to one point).
    pub mean_resultant: f64,
    /// Wang & Isola's `log mean_{i<j} exp(-2 |vᵢ - vⱼ|²)` over all pairs (-2.0797 for the
    /// uniform distribution; lower is more uniform).
    pub uniformity: f64,
}

/// How faithfully a mapped grid keeps the image together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridMetrics {
    /// Share of horizontally or vertically adjacent grid pairs mapped more than
    /// [`STRETCH_LIMIT_DEG`] apart.
    pub torn_pairs: f64,
    /// Share of the sphere's probe directions covered by two or more grid cells: where the
    /// image would show twice.
    pub overlap: f64,
}

/// `n` points of the Fibonacci lattice: `z = 1 - (2i + 1)/n`, longitude `i` times the golden
/// angle.
pub fn fibonacci_sphere(n: usize) -> Vec<[f64; 3]> {
    let golden = PI * (3.0 - 5f64.sqrt());
    (0..n)
        .map(|i| {
            let z = 1.0 - (2.0 * i as f64 + 1.0) / n as f64;
            let rho = (1.0 - z * z).max(0.0).sqrt();
            let phi = i as f64 * golden;
            [rho * phi.cos(), rho * phi.sin(), z]
        })
        .collect()
}

/// Measures a set of directions (renormalised to unit length).
pub fn sphere_metrics(points: &[[f32; 3]]) -> SphereMetrics {
    let v = normalised(points);
    let n = v.len();
    if n < 2 {
        return SphereMetrics {
            points: n,
            coverage: 0.0,
            largest_empty_cap_deg: 180.0,
            mean_resultant: 1.0,
            uniformity: 0.0,
        };
    }
    let cos_radius = 1.0 - 8.0 / n as f64;
    let tree = KdTree::new(&v);
    let nearest: Vec<f64> = fibonacci_sphere(PROBES)
        .iter()
        .map(|p| tree.max_dot(p))
        .collect();
    let covered = nearest.iter().filter(|&&c| c >= cos_radius).count();
    let least = nearest.iter().copied().fold(1.0, f64::min).clamp(-1.0, 1.0);
    let sum = v.iter().fold([0.0; 3], |s, p| add(s, *p));
    SphereMetrics {
        points: n,
        coverage: covered as f64 / PROBES as f64,
        largest_empty_cap_deg: least.acos().to_degrees(),
        mean_resultant: norm(sum) / n as f64,
        uniformity: uniformity(&v, UNIFORMITY_TEMPERATURE),
    }
}

/// Measures a `grid × grid` lattice mapped to `mapped` (row-major, as
/// [`grid_points`](crate::grid_points)): torn neighbours and overlapping cells.
pub fn grid_metrics(grid: usize, mapped: &[[f32; 3]]) -> GridMetrics {
    let v = normalised(mapped);
    if grid < 2 || v.len() != grid * grid {
        return GridMetrics {
            torn_pairs: 0.0,
            overlap: 0.0,
        };
    }
    let at = |row: usize, col: usize| v[row * grid + col];

    let limit = STRETCH_LIMIT_DEG.to_radians().cos();
    let mut torn = 0;
    for row in 0..grid {
        for col in 0..grid {
            let here = at(row, col);
            let right = (col + 1 < grid).then(|| at(row, col + 1));
            let down = (row + 1 < grid).then(|| at(row + 1, col));
            torn += [right, down]
                .into_iter()
                .flatten()
                .filter(|&n| dot(here, n) < limit)
                .count();
        }
    }

    // Each cell is two triangles; count how many contain each probe direction.
    let probes = fibonacci_sphere(PROBES);
    let index = KdTree::new(&probes);
    let mut hits = vec![0u8; PROBES];
    for row in 0..grid - 1 {
        for col in 0..grid - 1 {
            let [a, b, c, d] = [
                at(row, col),
                at(row, col + 1),
                at(row + 1, col + 1),
                at(row + 1, col),
            ];
            for triangle in [[a, b, c], [a, c, d]] {
                for probe in index.inside_triangle(&triangle) {
                    hits[probe] = hits[probe].saturating_add(1);
                }
            }
        }
    }
    let twice = hits.iter().filter(|&&h| h >= 2).count();
    GridMetrics {
        torn_pairs: torn as f64 / (2 * grid * (grid - 1)) as f64,
        overlap: twice as f64 / PROBES as f64,
    }
}

/// `log mean_{i<j} exp(-t |vᵢ - vⱼ|²)` over all pairs, split over the machine's threads.
fn uniformity(v: &[[f64; 3]], t: f64) -> f64 {
    let n = v.len();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Row i has n - 1 - i pairs; interleaving rows across threads balances the work.
    let total: f64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|k| {
                scope.spawn(move || {
                    let mut sum = 0.0;
                    for i in (k..n).step_by(threads) {
                        let vi = v[i];
                        for vj in &v[i + 1..] {
                            sum += (-t * (2.0 - 2.0 * dot(vi, *vj)).max(0.0)).exp();
                        }
                    }
                    sum
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a uniformity worker panicked"))
            .sum()
    });
    (total / (n * (n - 1) / 2) as f64).ln()
}

fn normalised(points: &[[f32; 3]]) -> Vec<[f64; 3]> {
    points
        .iter()
        .map(|p| {
            let p = p.map(f64::from);
            let length = norm(p);
            p.map(|c| c / length)
        })
        .filter(|p| p.iter().all(|c| c.is_finite()))
        .collect()
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn add(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

fn distance_squared(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|k| (a[k] - b[k]).powi(2)).sum()
}

/// A k-d tree over points in 3-D, stored as a balanced tree in one array: the median of each
/// range is its node, split along the axis of its depth.
struct KdTree {
    points: Vec<([f64; 3], usize)>,
}

impl KdTree {
    fn new(points: &[[f64; 3]]) -> Self {
        let mut points: Vec<_> = points.iter().copied().zip(0..).collect();
        build(&mut points, 0);
        Self { points }
    }

    /// The largest cosine from `query` (a unit vector) to any point: for unit vectors the
    /// nearest point in space is the nearest in angle, and `cos = 1 - d²/2`.
    fn max_dot(&self, query: &[f64; 3]) -> f64 {
        let mut best = f64::INFINITY;
        self.nearest(&self.points, 0, *query, &mut best);
        1.0 - best / 2.0
    }

    fn nearest(&self, nodes: &[([f64; 3], usize)], depth: usize, q: [f64; 3], best: &mut f64) {
        if nodes.is_empty() {
            return;
        }
        let mid = nodes.len() / 2;
        let (point, _) = nodes[mid];
        *best = best.min(distance_squared(point, q));
        let axis = depth % 3;
        let offset = q[axis] - point[axis];
        let (near, far) = if offset < 0.0 {
            (&nodes[..mid], &nodes[mid + 1..])
        } else {
            (&nodes[mid + 1..], &nodes[..mid])
        };
        self.nearest(near, depth + 1, q, best);
        if offset * offset < *best {
            self.nearest(far, depth + 1, q, best);
        }
    }

    /// Indices of the points inside the spherical triangle `[a, b, c]`, whichever its
    /// orientation: those whose direction lies on the inner side of all three great circles.
    fn inside_triangle(&self, [a, b, c]: &[[f64; 3]; 3]) -> Vec<usize> {
        let centre = add(add(*a, *b), *c);
        let length = norm(centre);
        if length < 1e-12 {
            return Vec::new();
        }
        let centre = centre.map(|x| x / length);
        let reach = [a, b, c]
            .iter()
            .map(|v| distance_squared(**v, centre))
            .fold(0.0, f64::max);
        let normals = [cross(*a, *b), cross(*b, *c), cross(*c, *a)];
        let mut found = Vec::new();
        self.within(&self.points, 0, centre, reach, &mut found);
        found
            .into_iter()
            .filter(|&(p, _)| {
                let sides = normals.map(|n| dot(n, p));
                dot(p, centre) > 0.0
                    && (sides.iter().all(|&s| s > 0.0) || sides.iter().all(|&s| s < 0.0))
            })
            .map(|(_, i)| i)
            .collect()
    }

    fn within(
        &self,
        nodes: &[([f64; 3], usize)],
        depth: usize,
        q: [f64; 3],
        reach: f64,
        found: &mut Vec<([f64; 3], usize)>,
    ) {
        if nodes.is_empty() {
            return;
        }
        let mid = nodes.len() / 2;
        let (point, _) = nodes[mid];
        if distance_squared(point, q) <= reach {
            found.push(nodes[mid]);
        }
        let axis = depth % 3;
        let offset = q[axis] - point[axis];
        if offset < 0.0 || offset * offset <= reach {
            self.within(&nodes[..mid], depth + 1, q, reach, found);
        }
        if offset >= 0.0 || offset * offset <= reach {
            self.within(&nodes[mid + 1..], depth + 1, q, reach, found);
        }
    }
}

fn build(points: &mut [([f64; 3], usize)], depth: usize) {
    if points.len() <= 1 {
        return;
    }
    let axis = depth % 3;
    let mid = points.len() / 2;
    points.select_nth_unstable_by(mid, |a, b| a.0[axis].total_cmp(&b.0[axis]));
    let (left, right) = points.split_at_mut(mid);
    build(left, depth + 1);
    build(&mut right[1..], depth + 1);
}
