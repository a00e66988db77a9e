//! The mapped grid as a surface: one vertex per grid point, two triangles per cell, no
//! triangle across a tear, and stitches across the seam where the map glues the square's edges.

use super::metrics::{cross, direction, distance_squared, dot, torn_apart};

/// How many times longer than the seam segments it joins a stitch's glued side may be: longer,
/// and the edges are not glued there (a hole's rim, say), so the stitch is left out.
pub(crate) const STITCH_GAP: f64 = 3.0;

/// How many seam segments apart grid points `p` and `q`, glued by a stitch, may lie on the
/// sphere: [`STITCH_GAP`], or half the grid steps between them where that is less, so that an
/// edge that runs on unglued (a straight rim keeps them all those steps apart) is not stitched
/// to itself about its midpoint. Neighbours on the edge pass whatever their distance.
fn glue_limit(grid: usize, p: usize, q: usize) -> f64 {
    let steps = (p % grid).abs_diff(q % grid) + (p / grid).abs_diff(q / grid);
    match steps {
        0 | 1 => STITCH_GAP,
        _ => STITCH_GAP.min(steps as f64 / 2.0),
    }
}

/// The two triangles of a cell or a stitch `[a, b, c, d]` (sides `a b`, `c d`, `a c` and
/// `b d`), as indices into it: `a c b` and `b c d`.
pub(crate) const QUAD_TRIANGLES: [[usize; 3]; 2] = [[0, 2, 1], [1, 2, 3]];

/// The cells of a `grid × grid` lattice, row by row, each as its four points
/// `[top-left, top-right, bottom-left, bottom-right]`.
pub(crate) fn cell_quads(grid: usize) -> impl Iterator<Item = [usize; 4]> {
    (0..grid.saturating_sub(1)).flat_map(move |row| {
        (row * grid..(row + 1) * grid - 1).map(move |a| [a, a + 1, a + grid, a + grid + 1])
    })
}

/// The seam's stitches of a `grid × grid` lattice, four grid points each, `[a, b, a', b']`:
/// a segment `a b` of the first half of an edge of the square, and `a' b'`, its mirror image
/// in the edge's midpoint, the points a map that folds the edge shut there (as the octahedral
/// map, and the `closed` preset's, do) glues to `a` and `b`; then the four corners, which
/// such a map sends to one point, as `[top-left, top-right, bottom-left, bottom-right]`.
/// A stitch is drawn as a cell is ([`QUAD_TRIANGLES`]): triangles `a a' b` and `b a' b'`.
pub(crate) fn seam_quads(grid: usize) -> Vec<[usize; 4]> {
    if grid < 3 {
        return Vec::new();
    }
    let n = grid;
    // Point `i` along one side of the square: the first row, the last, the first column, the last.
    let edge = move |side: usize, i: usize| match side {
        0 => i,
        1 => n * (n - 1) + i,
        2 => i * n,
        _ => i * n + n - 1,
    };
    let mut quads: Vec<[usize; 4]> = (0..4)
        .flat_map(|side| {
            (0..(n - 1) / 2).map(move |j| [j, j + 1, n - 1 - j, n - 2 - j].map(|i| edge(side, i)))
        })
        .collect();
    quads.push([0, n - 1, n * (n - 1), n * n - 1]);
    quads
}

/// Whether the stitch of `grid` points `quad`, `[a, b, a', b']`, at unit directions `ends`
/// closes a seam: no side of it torn, its glued sides `a a'` and `b b'` within their
/// [`glue_limit`]s times its longer seam segment, and not both of them nothing (the edges
/// already meet).
fn stitches(grid: usize, quad: [usize; 4], [a, b, c, d]: [[f64; 3]; 4]) -> bool {
    let chord = |p, q| distance_squared(p, q).sqrt();
    let sides = [[a, b], [c, d], [a, c], [b, d]];
    let segment = chord(a, b).max(chord(c, d));
    let gaps = [chord(a, c), chord(b, d)];
    let limits = [(quad[0], quad[2]), (quad[1], quad[3])].map(|(p, q)| glue_limit(grid, p, q));
    !sides.iter().any(|&[p, q]| torn_apart(p, q))
        && (gaps.iter().zip(limits)).all(|(&g, limit)| g <= limit * segment)
        && gaps.iter().any(|&g| g > 1e-6)
}

/// The learned sphere as an indexed triangle mesh, ready for a renderer or a file.
///
/// Vertex `i < grid²` is grid point `i` (as [`grid_points`](super::grid::grid_points) orders them)
/// where the network maps it. Each cell of the grid is two triangles, unless one of its four
/// sides spans more than [`STRETCH_LIMIT_DEG`](crate::learn::STRETCH_LIMIT_DEG) on the sphere: such a
/// cell is torn, and left out, so a tear shows as a gap rather than a smear across the sphere.
///
/// Where the map glues the square's edges shut, the points on either side of the seam lie a
/// fraction of a cell apart. Each seam stitch that closes that gap (a segment of an edge's first
/// half with its mirror image in the edge's midpoint, or the four corners) adds four vertices
/// past the grid's, copies of its points with the UVs of the points they are glued to, so that
/// the stitch shows the texture along the edge. Triangles wind counter-clockwise seen
/// from outside the sphere, whichever way round the network laid the square down.
#[derive(Debug, Clone, PartialEq)]
pub struct SphereSurface {
    /// Side of the grid.
    pub grid: usize,
    /// Each grid point's position.
    pub positions: Vec<[f32; 3]>,
    /// Unit normals: the sphere's, pointing outwards.
    pub normals: Vec<[f32; 3]>,
    /// Texture coordinates: `(u + 0.5, v + 0.5)` of the source point, `(0, 0)` at the
    /// image's top-left corner as in glTF and Bevy.
    pub uvs: Vec<[f32; 2]>,
    /// Three vertex indices a triangle.
    pub indices: Vec<u32>,
    /// Each vertex's grid point: `i` for vertex `i < grid²`, then the points the seam
    /// stitches copy.
    pub points: Vec<usize>,
}

impl SphereSurface {
    /// The surface of a `grid × grid` mapping, `mapped` in
    /// [`grid_points`](super::grid::grid_points) order.
    ///
    /// # Panics
    /// If `mapped` does not hold `grid²` points.
    pub fn new(grid: usize, mapped: &[[f32; 3]]) -> Self {
        assert_eq!(
            mapped.len(),
            grid * grid,
            "a {grid}×{grid} grid has {} points",
            grid * grid
        );
        let directions: Vec<_> = mapped.iter().map(|&p| direction(p)).collect();
        let close = |a: usize, b: usize| match (directions[a], directions[b]) {
            (Some(a), Some(b)) => !torn_apart(a, b),
            _ => false,
        };
        let mut indices = Vec::with_capacity(6 * grid.saturating_sub(1).pow(2));
        for quad @ [a, b, c, d] in cell_quads(grid) {
            if close(a, b) && close(c, d) && close(a, c) && close(b, d) {
                indices.extend(
                    QUAD_TRIANGLES
                        .as_flattened()
                        .iter()
                        .map(|&k| quad[k] as u32),
                );
            }
        }
        // Six times the signed volume the triangles enclose with the centre: negative when the
        // network laid the square down mirrored, so that the triangles face inwards.
        let volume: f64 = indices
            .chunks_exact(3)
            .map(|t| {
                let [a, b, c] = [0, 1, 2].map(|k| mapped[t[k] as usize].map(f64::from));
                dot(a, cross(b, c))
            })
            .sum();
        if volume < 0.0 {
            indices.chunks_exact_mut(3).for_each(|t| t.swap(1, 2));
        }
        let mut normals: Vec<_> = directions
            .iter()
            .map(|d| d.map_or([0.0, 0.0, 1.0], |d| d.map(|x| x as f32)))
            .collect();
        let mut uvs: Vec<_> = super::grid::grid_points(grid)
            .into_iter()
            .map(|[u, v]| [u + 0.5, v + 0.5])
            .collect();
        let mut positions = mapped.to_vec();
        let mut points: Vec<usize> = (0..grid * grid).collect();
        for quad in seam_quads(grid) {
            let [Some(a), Some(b), Some(c), Some(d)] = quad.map(|p| directions[p]) else {
                continue;
            };
            let ends = [a, b, c, d];
            if !stitches(grid, quad, ends) {
                continue;
            }
            let first = positions.len() as u32;
            for (k, &point) in quad.iter().enumerate() {
                positions.push(mapped[point]);
                points.push(point);
                normals.push(normals[point]);
                uvs.push(uvs[quad[k % 2]]);
            }
            for triangle in QUAD_TRIANGLES {
                let [a, b, c] = triangle.map(|k| ends[k]);
                let outward = dot(a, cross(b, c)) >= 0.0;
                let [a, b, c] = triangle.map(|k| first + k as u32);
                indices.extend(if outward { [a, b, c] } else { [a, c, b] });
            }
        }
        Self {
            grid,
            positions,
            normals,
            uvs,
            indices,
            points,
        }
    }

    /// Number of triangles.
    pub fn triangles(&self) -> usize {
        self.indices.len() / 3
    }

    /// Number of cells left out because they are torn.
    pub fn torn_cells(&self) -> usize {
        self.grid.saturating_sub(1).pow(2) - (self.triangles() - 2 * self.stitches()) / 2
    }

    /// Number of seam stitches that close the seam, two triangles and four vertices each.
    pub fn stitches(&self) -> usize {
        (self.positions.len() - self.grid * self.grid) / 4
    }
}
