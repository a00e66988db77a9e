//! How well a set of unit vectors covers the sphere, and how well a mapped grid stays a map.
//!
//! The sphere metrics are those of the reference's `sphere_metrics.py`, computed in `f64`:
//! coverage and the largest empty cap are measured at a 20,000-point Fibonacci probe lattice,
//! each probe's nearest mapped point found through a k-d tree instead of a dense scan, and the
//! uniformity summed through the kernel's spherical harmonic series instead of over all pairs.

use std::f64::consts::PI;

use super::distortion::cell_distortion;

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

impl SphereMetrics {
    /// Whether the points close the sphere: coverage of at least 99 % and no empty cap wider
    /// than 5°. With [`GridMetrics::is_clean`], the bar the `closed` preset is held to.
    pub fn is_closed(&self) -> bool {
        self.coverage >= 0.99 && self.largest_empty_cap_deg <= 5.0
    }
}

/// How faithfully a mapped grid keeps the image together, and how much it distorts it (per cell:
/// [`cell_distortion`](crate::cell_distortion)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridMetrics {
    /// Share of horizontally or vertically adjacent grid pairs mapped more than
    /// [`STRETCH_LIMIT_DEG`] apart.
    pub torn_pairs: f64,
    /// Share of the sphere's probe directions covered by two or more grid cells: where the
    /// image would show twice.
    pub overlap: f64,
    /// The grid cells' areas on the sphere, summed, over 4π: 1 for a one-to-one cover, less
    /// where there is a hole, more where the sheet folds over itself.
    pub area_sum: f64,
    /// Coefficient of variation of the cells' areas: 0 for an equal-area map, whose texture is
    /// nowhere stretched (Clarberg's octahedral map: 0.011 on the 100×100 grid; the
    /// equirectangular map: 0.48).
    pub area_cv: f64,
    /// The median of the cells' shape distortion `s1 / s2` (1: shapes kept; see
    /// [`CellDistortion::shape`](crate::CellDistortion::shape)). Clarberg's map: 2.03; the
    /// equirectangular map: 1.76.
    pub shape_median: f64,
    /// The 95th percentile of the cells' shape distortion (Clarberg's map: 2.61; the
    /// equirectangular map: 7.89).
    pub shape_p95: f64,
    /// Share of the cells whose shape distortion is above 2.
    pub shape_over_2: f64,
}

impl GridMetrics {
    /// Whether the grid holds an image together: no neighbours torn apart, and under 0.5 % of
    /// the sphere covered twice.
    pub fn is_clean(&self) -> bool {
        self.torn_pairs == 0.0 && self.overlap < 0.005
    }
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
/// [`grid_points`](crate::learn::grid_points)): torn neighbours and overlapping cells.
pub fn grid_metrics(grid: usize, mapped: &[[f32; 3]]) -> GridMetrics {
    let v = normalised(mapped);
    if grid < 2 || v.len() != grid * grid {
        return GridMetrics {
            torn_pairs: 0.0,
            overlap: 0.0,
            area_sum: 0.0,
            area_cv: 0.0,
            shape_median: 0.0,
            shape_p95: 0.0,
            shape_over_2: 0.0,
        };
    }
    let at = |row: usize, col: usize| v[row * grid + col];

    let mut torn = 0;
    for row in 0..grid {
        for col in 0..grid {
            let here = at(row, col);
            let right = (col + 1 < grid).then(|| at(row, col + 1));
            let down = (row + 1 < grid).then(|| at(row + 1, col));
            torn += [right, down]
                .into_iter()
                .flatten()
                .filter(|&n| torn_apart(here, n))
                .count();
        }
    }

    // Each cell is two triangles: their areas, and how many contain each probe direction.
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

    let cells = cell_distortion(grid, mapped);
    let count = cells.len() as f64;
    // Areas over an equal share of the sphere: their mean is the area sum.
    let mean = cells.iter().map(|c| c.area).sum::<f64>() / count;
    let variance = cells.iter().map(|c| (c.area - mean).powi(2)).sum::<f64>() / count;
    let mut shapes: Vec<f64> = cells.iter().map(|c| c.shape).collect();
    shapes.sort_by(f64::total_cmp);
    let quantile = |q: f64| shapes[((count - 1.0) * q).round() as usize];
    GridMetrics {
        torn_pairs: torn as f64 / (2 * grid * (grid - 1)) as f64,
        overlap: twice as f64 / PROBES as f64,
        area_sum: mean,
        area_cv: if mean > 0.0 {
            variance.sqrt() / mean
        } else {
            0.0
        },
        shape_median: quantile(0.5),
        shape_p95: quantile(0.95),
        shape_over_2: shapes.iter().filter(|&&s| s > 2.0).count() as f64 / count,
    }
}

/// `log mean_{i<j} exp(-t |vᵢ - vⱼ|²)` over all pairs of unit vectors, through the spherical
/// harmonic expansion of the kernel: `exp(κ x) = Σ_l (2l + 1) i_l(κ) P_l(x)` with `κ = 2t` and
/// the modified spherical Bessel functions `i_l`, so by the addition theorem the sum over all
/// ordered pairs is `4π Σ_l i_l(κ) Σ_m |Σ_i Y_lm(vᵢ)|²`. Every term is positive, so the series
/// is cut where a term can no longer change the sum in `f64`: O(N L²) instead of O(N²).
fn uniformity(v: &[[f64; 3]], t: f64) -> f64 {
    let n = v.len();
    let kappa = 2.0 * t;
    let bessel = bessel_series(kappa);
    let degree = bessel.len() - 1;
    // Σ_i Y_lm(vᵢ), as complex sums over the points for m ≥ 0: index [m][l - m].
    let mut sums: Vec<Vec<[f64; 2]>> = (0..=degree)
        .map(|m| vec![[0.0; 2]; degree + 1 - m])
        .collect();
    // The recurrence p̄_l^m = a (z p̄_{l-1}^m - b p̄_{l-2}^m), its coefficients per [m][l - m].
    let coefficients: Vec<Vec<(f64, f64)>> = (0..=degree)
        .map(|m| {
            (m..=degree)
                .map(|l| {
                    let (l, m) = (l as f64, m as f64);
                    let a = ((4.0 * l * l - 1.0) / (l * l - m * m)).sqrt();
                    let b = (((l - 1.0).powi(2) - m * m) / (4.0 * (l - 1.0).powi(2) - 1.0)).sqrt();
                    (a, b)
                })
                .collect()
        })
        .collect();
    let mut legendre = vec![0.0; degree + 1];
    for p in v {
        let [x, y, z] = *p;
        // p̄_m^m / ρ^m, times (x + iy)^m = ρ^m e^{imφ}.
        let mut diagonal = (0.25 / PI).sqrt();
        let mut phase = [1.0, 0.0];
        for m in 0..=degree {
            if m > 0 {
                diagonal *= ((2 * m + 1) as f64 / (2 * m) as f64).sqrt();
                phase = [phase[0] * x - phase[1] * y, phase[0] * y + phase[1] * x];
            }
            legendre[0] = diagonal;
            if m < degree {
                legendre[1] = (2.0 * m as f64 + 3.0).sqrt() * z * diagonal;
            }
            for k in 2..=degree - m {
                let (a, b) = coefficients[m][k];
                legendre[k] = a * (z * legendre[k - 1] - b * legendre[k - 2]);
            }
            for (sum, p) in sums[m].iter_mut().zip(&legendre) {
                sum[0] += p * phase[0];
                sum[1] += p * phase[1];
            }
        }
    }
    let mut total = 0.0;
    for (l, i_l) in bessel.iter().enumerate() {
        let power: f64 = (0..=l)
            .map(|m| {
                let [re, im] = sums[m][l - m];
                let weight = if m == 0 { 1.0 } else { 2.0 };
                weight * (re * re + im * im)
            })
            .sum();
        total += i_l * power;
    }
    // All ordered pairs, the n diagonal ones included, of exp(κ (x - 1)).
    let ordered = 4.0 * PI * total * (-kappa).exp();
    let pairs = ((ordered - n as f64) / 2.0).max(f64::MIN_POSITIVE);
    (pairs / (n * (n - 1) / 2) as f64).ln()
}

/// `i_l(κ)` for l = 0, 1, … until `(2l + 1) i_l(κ)` falls below `f64`'s resolution of `i_0(κ)`:
/// the power series `i_l(κ) = κ^l / (2l + 1)!! Σ_k (κ²/2)^k / (k! (2l + 3)(2l + 5)⋯(2l + 2k + 1))`.
fn bessel_series(kappa: f64) -> Vec<f64> {
    let term = |l: usize| {
        let mut lead = 1.0;
        for j in 1..=l {
            lead *= kappa / (2 * j + 1) as f64;
        }
        let (mut sum, mut part, mut k) = (1.0, 1.0, 1);
        while part > sum * 1e-17 {
            part *= kappa * kappa / 2.0 / (k as f64 * (2 * l + 2 * k + 1) as f64);
            sum += part;
            k += 1;
        }
        lead * sum
    };
    let first = term(0);
    let mut out = vec![first];
    while (2 * out.len() + 1) as f64 * term(out.len()) > first * 1e-17 {
        out.push(term(out.len()));
    }
    out
}

/// The points' directions, leaving out those that have none (not finite, or at the origin).
fn normalised(points: &[[f32; 3]]) -> Vec<[f64; 3]> {
    points.iter().filter_map(|&p| direction(p)).collect()
}

/// The unit vector along `p`, if `p` has a direction.
pub(super) fn direction(p: [f32; 3]) -> Option<[f64; 3]> {
    let p = p.map(f64::from);
    let length = norm(p);
    let unit = p.map(|c| c / length);
    unit.iter().all(|c| c.is_finite()).then_some(unit)
}

/// Whether two neighbours' directions are more than [`STRETCH_LIMIT_DEG`] apart.
pub(super) fn torn_apart(a: [f64; 3], b: [f64; 3]) -> bool {
    dot(a, b) < STRETCH_LIMIT_DEG.to_radians().cos()
}

pub(super) fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn add(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

pub(super) fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

pub(super) fn distance_squared(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|k| (a[k] - b[k]).powi(2)).sum()
}

/// A k-d tree over points in 3-D, stored as a balanced tree in one array: the median of each
/// range is its node, split along the axis of its depth. Each node keeps the bounding box of
/// its range, so a search skips a whole range that cannot hold anything nearer, even where the
/// points crowd together far from the query.
struct KdTree {
    points: Vec<([f64; 3], usize)>,
    /// The bounding box of the range whose node sits at the same index in `points`.
    boxes: Vec<[[f64; 3]; 2]>,
}

impl KdTree {
    fn new(points: &[[f64; 3]]) -> Self {
        let mut points: Vec<_> = points.iter().copied().zip(0..).collect();
        let mut boxes = vec![[[0.0; 3]; 2]; points.len()];
        build(&mut points, &mut boxes, 0);
        Self { points, boxes }
    }

    /// The largest cosine from `query` (a unit vector) to any point: for unit vectors the
    /// nearest point in space is the nearest in angle, and `cos = 1 - d²/2`.
    fn max_dot(&self, query: &[f64; 3]) -> f64 {
        let mut best = f64::INFINITY;
        self.nearest(0..self.points.len(), 0, *query, &mut best);
        1.0 - best / 2.0
    }

    fn nearest(&self, range: std::ops::Range<usize>, depth: usize, q: [f64; 3], best: &mut f64) {
        if range.is_empty() {
            return;
        }
        let node = range.start + range.len() / 2;
        if box_distance_squared(&self.boxes[node], q) >= *best {
            return;
        }
        let point = self.points[node].0;
        *best = best.min(distance_squared(point, q));
        let axis = depth % 3;
        let (left, right) = (range.start..node, node + 1..range.end);
        let (near, far) = if q[axis] < point[axis] {
            (left, right)
        } else {
            (right, left)
        };
        self.nearest(near, depth + 1, q, best);
        self.nearest(far, depth + 1, q, best);
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
        self.within(0..self.points.len(), centre, reach, &mut found);
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
        range: std::ops::Range<usize>,
        q: [f64; 3],
        reach: f64,
        found: &mut Vec<([f64; 3], usize)>,
    ) {
        if range.is_empty() {
            return;
        }
        let node = range.start + range.len() / 2;
        if box_distance_squared(&self.boxes[node], q) > reach {
            return;
        }
        if distance_squared(self.points[node].0, q) <= reach {
            found.push(self.points[node]);
        }
        self.within(range.start..node, q, reach, found);
        self.within(node + 1..range.end, q, reach, found);
    }
}

/// Orders `points` into a balanced k-d tree and fills the bounding box of each range at the
/// index of its node.
fn build(points: &mut [([f64; 3], usize)], boxes: &mut [[[f64; 3]; 2]], depth: usize) {
    if points.is_empty() {
        return;
    }
    let mut bounds = [[f64::INFINITY; 3], [f64::NEG_INFINITY; 3]];
    for (p, _) in points.iter() {
        for k in 0..3 {
            bounds[0][k] = bounds[0][k].min(p[k]);
            bounds[1][k] = bounds[1][k].max(p[k]);
        }
    }
    let axis = depth % 3;
    let mid = points.len() / 2;
    points.select_nth_unstable_by(mid, |a, b| a.0[axis].total_cmp(&b.0[axis]));
    boxes[mid] = bounds;
    let (left, right) = points.split_at_mut(mid);
    let (left_boxes, right_boxes) = boxes.split_at_mut(mid);
    build(left, left_boxes, depth + 1);
    build(&mut right[1..], &mut right_boxes[1..], depth + 1);
}

/// The squared distance from `q` to the nearest point of an axis-aligned box.
fn box_distance_squared([low, high]: &[[f64; 3]; 2], q: [f64; 3]) -> f64 {
    (0..3)
        .map(|k| (low[k] - q[k]).max(q[k] - high[k]).max(0.0).powi(2))
        .sum()
}
