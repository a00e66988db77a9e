//! How much the map distorts each grid cell, and the colour scales the distortion views paint
//! it with.
//!
//! A cell's **area** is that of its two spherical triangles, over an equal share of the sphere
//! (`4π / cells`): 1 everywhere for an equal-area map that covers the sphere once. Its **shape
//! distortion** is `s1 / s2`, the singular values of its Jacobian: the forward differences along
//! u and along v from the cell's first corner, projected onto the sphere's tangent plane there.
//! 1 keeps shapes; a cell drawn out twice as long one way as the other measures 2.
//!
//! The same rules run on the GPU, in `colours.wgsl`: a grid point takes the colour of the cell
//! whose first corner it is (the last row and column, of the cell before them).

use std::f64::consts::PI;

use super::metrics::{cross, direction, dot};

/// One grid cell's distortion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellDistortion {
    /// The cell's area on the sphere over an equal share of it (`4π / cells`).
    pub area: f64,
    /// `s1 / s2 ≥ 1`: how much the map draws the cell out one way more than the other
    /// (infinite where it squashes the cell flat; NaN where a corner has no direction).
    pub shape: f64,
}

/// The distortion of each cell of a `grid × grid` lattice mapped to `mapped` (row-major, as
/// [`grid_points`](super::grid::grid_points)): `(grid - 1)²` cells, row-major by their first
/// corner. Points that have no direction (not finite, or at the origin) make their cells NaN.
///
/// # Panics
/// If `mapped` does not hold `grid²` points.
pub fn cell_distortion(grid: usize, mapped: &[[f32; 3]]) -> Vec<CellDistortion> {
    assert_eq!(
        mapped.len(),
        grid * grid,
        "a {grid}×{grid} grid has {} points",
        grid * grid
    );
    let v: Vec<_> = mapped.iter().map(|&p| direction(p)).collect();
    let cells = grid.saturating_sub(1);
    let share = 4.0 * PI / (cells * cells).max(1) as f64;
    let mut out = Vec::with_capacity(cells * cells);
    for row in 0..cells {
        for col in 0..cells {
            let first = row * grid + col;
            let corners = [first, first + 1, first + grid + 1, first + grid].map(|i| v[i]);
            out.push(match corners {
                [Some(a), Some(b), Some(c), Some(d)] => CellDistortion {
                    area: (triangle_area([a, b, c]) + triangle_area([a, c, d])) / share,
                    shape: shape_distortion(a, b, d),
                },
                _ => CellDistortion {
                    area: f64::NAN,
                    shape: f64::NAN,
                },
            });
        }
    }
    out
}

/// Each grid point's distortion: that of the cell whose first corner it is, the last row and
/// column taking the cell before them (NaN for a grid with no cells). The rule the distortion
/// views colour points by.
pub fn point_distortion(grid: usize, mapped: &[[f32; 3]]) -> Vec<CellDistortion> {
    let cells = cell_distortion(grid, mapped);
    let last = grid.saturating_sub(2);
    let none = CellDistortion {
        area: f64::NAN,
        shape: f64::NAN,
    };
    (0..grid * grid)
        .map(|i| {
            let cell = (i / grid).min(last) * (grid - 1) + (i % grid).min(last);
            cells.get(cell).copied().unwrap_or(none)
        })
        .collect()
}

/// `s1 / s2` of the cell with first corner `a`, its neighbour along u `b` and along v `d`.
fn shape_distortion(a: [f64; 3], b: [f64; 3], d: [f64; 3]) -> f64 {
    let tangent = |p: [f64; 3]| {
        let along = [p[0] - a[0], p[1] - a[1], p[2] - a[2]];
        let normal = dot(along, a);
        [0, 1, 2].map(|k| along[k] - normal * a[k])
    };
    let (ju, jv) = (tangent(b), tangent(d));
    // The eigenvalues of the Gram matrix JᵀJ are s1² and s2².
    let (uu, vv, uv) = (dot(ju, ju), dot(jv, jv), dot(ju, jv));
    let half_trace = (uu + vv) / 2.0;
    let root = (((uu - vv) / 2.0).powi(2) + uv * uv).sqrt();
    ((half_trace + root) / (half_trace - root).max(0.0)).sqrt()
}

/// Area of the spherical triangle with unit corners `a`, `b`, `c`, whichever their order
/// (Van Oosterom and Strackee's formula).
fn triangle_area([a, b, c]: [[f64; 3]; 3]) -> f64 {
    let triple = dot(a, cross(b, c)).abs();
    2.0 * triple.atan2(1.0 + dot(a, b) + dot(b, c) + dot(c, a))
}

/// The distortion views' colour scales: piecewise linear between sRGB stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistortionScale {
    /// `log₂` of a cell's [`area`](CellDistortion::area), from -1 (half its share: blue)
    /// through 0 (white) to 1 (twice: red), diverging.
    Area,
    /// [`shape`](CellDistortion::shape) from 1 (shapes kept: dark violet) to 5 and over
    /// (yellow), sequential (viridis).
    Shape,
}

/// The diverging scale's stops (Moreland's cool-warm ends and centre).
const AREA_STOPS: [[u8; 3]; 3] = [[59, 76, 192], [221, 221, 221], [180, 4, 38]];
/// The sequential scale's stops (viridis at 0, ¼, ½, ¾ and 1).
const SHAPE_STOPS: [[u8; 3]; 5] = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
];

impl std::str::FromStr for DistortionScale {
    type Err = crate::Error;

    /// `area` or `shape`.
    fn from_str(s: &str) -> Result<Self, crate::Error> {
        match s {
            "area" => Ok(Self::Area),
            "shape" => Ok(Self::Shape),
            _ => Err(crate::Error::Config(format!(
                "unknown distortion '{s}' (expected area or shape)"
            ))),
        }
    }
}

impl DistortionScale {
    /// The ends of the scale, in the units of the value it paints: `log₂` area, or `s1 / s2`.
    pub fn range(self) -> [f64; 2] {
        match self {
            Self::Area => [-1.0, 1.0],
            Self::Shape => [1.0, 5.0],
        }
    }

    /// The value a cell is painted by: `log₂` of its area, or its shape distortion.
    pub fn value(self, cell: CellDistortion) -> f64 {
        match self {
            Self::Area => cell.area.log2(),
            Self::Shape => cell.shape,
        }
    }

    /// The sRGB colour of `value` (outside the range: its end; NaN: black).
    pub fn colour(self, value: f64) -> [u8; 3] {
        if value.is_nan() {
            return [0; 3];
        }
        let [low, high] = self.range();
        let stops: &[[u8; 3]] = match self {
            Self::Area => &AREA_STOPS,
            Self::Shape => &SHAPE_STOPS,
        };
        let t = ((value - low) / (high - low)).clamp(0.0, 1.0) * (stops.len() - 1) as f64;
        let i = (t.floor() as usize).min(stops.len() - 2);
        let f = t - i as f64;
        [0, 1, 2].map(|k| {
            let (a, b) = (stops[i][k] as f64, stops[i + 1][k] as f64);
            (a + (b - a) * f).round() as u8
        })
    }

    /// Each grid point's colour on this scale, by [`point_distortion`]'s rule.
    pub fn point_colours(self, grid: usize, mapped: &[[f32; 3]]) -> Vec<[u8; 3]> {
        point_distortion(grid, mapped)
            .into_iter()
            .map(|cell| self.colour(self.value(cell)))
            .collect()
    }
}
