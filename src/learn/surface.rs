//! The mapped grid as a surface: one vertex per grid point, two triangles per cell, and no
//! triangle across a tear.

use super::metrics::{cross, direction, dot, torn_apart};

/// The learned sphere as an indexed triangle mesh, ready for a renderer or a file.
///
/// Vertex `i` is grid point `i` (as [`grid_points`](crate::grid_points) orders them) where the
/// network maps it. Each cell of the grid is two triangles, unless one of its four sides spans
/// more than [`STRETCH_LIMIT_DEG`](crate::STRETCH_LIMIT_DEG) on the sphere: such a cell is
/// torn, and left out, so a tear shows as a gap rather than a smear across the sphere.
/// Triangles wind counter-clockwise seen from outside the sphere, whichever way round the
/// network laid the square down.
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
}

impl SphereSurface {
    /// The surface of a `grid × grid` mapping, `mapped` in [`grid_points`](crate::grid_points)
    /// order.
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
        for row in 0..grid.saturating_sub(1) {
            for column in 0..grid - 1 {
                let [a, b] = [row * grid + column, row * grid + column + 1];
                let [c, d] = [a + grid, b + grid];
                if close(a, b) && close(c, d) && close(a, c) && close(b, d) {
                    indices.extend([a, c, b, b, c, d].map(|i| i as u32));
                }
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
        let normals = directions
            .iter()
            .map(|d| d.map_or([0.0, 0.0, 1.0], |d| d.map(|x| x as f32)))
            .collect();
        let uvs = super::grid::grid_points(grid)
            .into_iter()
            .map(|[u, v]| [u + 0.5, v + 0.5])
            .collect();
        Self {
            grid,
            positions: mapped.to_vec(),
            normals,
            uvs,
            indices,
        }
    }

    /// Number of triangles.
    pub fn triangles(&self) -> usize {
        self.indices.len() / 3
    }

    /// Number of cells left out because they are torn.
    pub fn torn_cells(&self) -> usize {
        self.grid.saturating_sub(1).pow(2) - self.triangles() / 2
    }
}
