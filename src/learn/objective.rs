//! The training objectives.
//!
//! The notebook's loss ([`Objective::Seed`]): the outputs of one dropout pass are shuffled into
//! halves `a` and `b`, and the pass adds `(Σᵢ cos(aᵢ, bᵢ))²`. Its floor is reached by any output
//! distribution with mean 0 and second moment I/3, which is why the sphere it learns stays open.
//!
//! Wang & Isola's uniformity ([`Objective::Uniformity`]) pushes every pair of outputs apart:
//! `log mean_{i<j} exp(-t |vᵢ - vⱼ|²)`. It is only minimal for the uniform distribution, and with
//! a sharp temperature `t` and a wider network it closes the sphere.
//!
//! The equal-area term ([`equal_area_loss`]) asks each small patch of the square to cover the
//! same area of the sphere. The uniformity loss only sees the outputs blurred at its kernel's
//! width (several degrees at t = 40), so it leaves a sliver open along the seam where the
//! square's edges meet; the area term works at the scale of a grid cell. The shape term
//! ([`shape_loss`]) asks the same patches to keep their shape.

use std::str::FromStr;

use burn::prelude::*;

use crate::Error;

/// `eps` of PyTorch's `CosineSimilarity`.
const COSINE_EPS: f64 = 1e-8;

/// Where [`shape_loss`] stops growing: `4 s1² s2² / (s1² + s2²)²` at s1/s2 ≈ 200. The fused GPU
/// step's `objective.wgsl` cuts at the same value.
const SHAPE_KEPT_MIN: f64 = 1e-4;

/// The loss a network trains on.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Objective {
    /// The notebook's `(Σ cos(aᵢ, bᵢ))²` over random pairs ([`seed_loss`]).
    Seed,
    /// Wang & Isola's uniformity over all pairs of the batch ([`uniformity_loss`]).
    Uniformity,
}

impl Objective {
    /// Every objective, in the order menus list them.
    pub const ALL: [Objective; 2] = [Objective::Seed, Objective::Uniformity];

    /// The objective's name on the command line and in the panel.
    pub fn name(self) -> &'static str {
        match self {
            Objective::Seed => "seed",
            Objective::Uniformity => "uniformity",
        }
    }
}

impl FromStr for Objective {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|o| o.name() == s)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown objective '{s}' (expected seed or uniformity)"
                ))
            })
    }
}

/// Row-wise cosine similarity of two `[n, 3]` tensors, as a `[n, 1]` tensor.
pub fn cosine_similarity<B: Backend>(a: Tensor<B, 2>, b: Tensor<B, 2>) -> Tensor<B, 2> {
    let norm = |x: Tensor<B, 2>| x.square().sum_dim(1).sqrt().clamp_min(COSINE_EPS);
    let dot = (a.clone() * b.clone()).sum_dim(1);
    dot / (norm(a) * norm(b))
}

/// The notebook's loss, summed over passes.
///
/// `a` and `b` hold `passes` blocks of equal size, one per dropout pass, stacked along the
/// first dimension: row `i` of `a` is paired with row `i` of `b`. Each block adds
/// `(Σᵢ cos(aᵢ, bᵢ))²`. Returns a one-element tensor.
pub fn seed_loss<B: Backend>(a: Tensor<B, 2>, b: Tensor<B, 2>, passes: usize) -> Tensor<B, 1> {
    let pairs = a.dims()[0] / passes;
    let per_pass = cosine_similarity(a, b).reshape([passes, pairs]).sum_dim(1);
    per_pass.square().sum()
}

/// Wang & Isola's uniformity with temperature `t`, summed over passes.
///
/// `outputs` holds `passes` blocks of `n` unit vectors stacked along the first dimension; each
/// block adds `log mean_{i<j} exp(-t |vᵢ - vⱼ|²)`. For unit vectors `|vᵢ - vⱼ|² = 2 - 2 vᵢ·vⱼ`,
/// so one matrix product per pass gives every pair. The exponent is at most 0, so nothing
/// overflows however sharp `t` is, and only the pairs i < j are summed, so well-spread points
/// whose kernel values are tiny are not lost next to the diagonal's ones. Returns a one-element
/// tensor.
pub fn uniformity_loss<B: Backend>(outputs: Tensor<B, 2>, passes: usize, t: f64) -> Tensor<B, 1> {
    let n = outputs.dims()[0] / passes;
    let v = outputs.reshape([passes, n, 3]);
    let dots = v.clone().matmul(v.swap_dims(1, 2));
    let kernel = ((dots - 1.0) * (2.0 * t)).exp().triu(1);
    let pairs = (n * (n - 1) / 2) as f64;
    (kernel.sum_dim(2).sum_dim(1) / pairs).log().sum()
}

/// The equal-area term: the mean of `(a / 4π − 1)²` over points, where `a` is the map's local
/// area scale (a one-to-one map of the unit square onto the sphere that is equal-area has
/// `a = 4π` everywhere).
///
/// `at`, `along_u` and `along_v` are `[m, 3]` images of points `p`, `p + (step, 0)` and
/// `p + (0, step)`: `a = ((f(p + step·u) − f(p)) × (f(p + step·v) − f(p))) · f(p) / step²`, the
/// parallelogram's area signed by which way it faces. Its sign flips where the sheet folds
/// over, so the term pushes folds back; which way is outwards is whichever way most points
/// face. Returns a one-element tensor.
pub fn equal_area_loss<B: Backend>(
    at: Tensor<B, 2>,
    along_u: Tensor<B, 2>,
    along_v: Tensor<B, 2>,
    step: f64,
) -> Tensor<B, 1> {
    let du = along_u - at.clone();
    let dv = along_v - at.clone();
    // The triple product f(p) · (du × dv).
    let [x, y, z] = cross(&du, &dv);
    let column = |i: usize| at.clone().narrow(1, i, 1);
    let signed = column(0) * x + column(1) * y + column(2) * z;
    let outwards = signed.clone().mean().sign().detach().unsqueeze::<2>();
    let ratio = signed * outwards / (4.0 * std::f64::consts::PI * step * step);
    (ratio - 1.0).square().mean()
}

/// The shape term: the mean over points of `q²`, where `q = −ln(4 s1² s2² / (s1² + s2²)²)
/// = 2 ln((s1/s2 + s2/s1) / 2)` for the singular values `s1 ≥ s2` of the map's local Jacobian:
/// 0 where the map keeps shapes (conformal), `q` = 0.45 where it draws a patch out twice as
/// long one way as the other, growing without bound as the patch is squashed flat (`q` cut at
/// `−ln 10⁻⁴` ≈ 9.2, s1/s2 ≈ 200). No map of the square onto the whole sphere is both
/// equal-area and conformal, so with the equal-area term the question is where the shape
/// distortion goes. A bounded penalty such as `((s1² − s2²)/(s1² + s2²))²` charges at most 1
/// however flat a patch gets and lets it pile up along the seam's diamond; `q` alone spreads
/// it; `q²`, nearly flat about 1 and steep beyond 2, spreads it evenly: the 95th percentile
/// comes down to the median's neighbourhood.
///
/// `at`, `along_u` and `along_v` are as [`equal_area_loss`] takes them; the term does not
/// depend on the step. Returns a one-element tensor.
pub fn shape_loss<B: Backend>(
    at: Tensor<B, 2>,
    along_u: Tensor<B, 2>,
    along_v: Tensor<B, 2>,
) -> Tensor<B, 1> {
    let du = along_u - at.clone();
    let dv = along_v - at;
    // |du × dv|² = s1² s2² (from the cross product: uu vv − uv² cancels badly in f32 where
    // the patch is nearly flat), and |du|² + |dv|² = s1² + s2².
    let [x, y, z] = cross(&du, &dv);
    let squashed = x.square() + y.square() + z.square();
    let spread = (du.square().sum_dim(1) + dv.square().sum_dim(1)).square();
    let kept = squashed * 4.0 / spread.clamp_min(1e-30);
    kept.clamp_min(SHAPE_KEPT_MIN).log().square().mean()
}

/// The columns of the row-wise cross product `a × b` of two `[n, 3]` tensors.
fn cross<B: Backend>(a: &Tensor<B, 2>, b: &Tensor<B, 2>) -> [Tensor<B, 2>; 3] {
    let c = |t: &Tensor<B, 2>, i: usize| t.clone().narrow(1, i, 1);
    [
        c(a, 1) * c(b, 2) - c(a, 2) * c(b, 1),
        c(a, 2) * c(b, 0) - c(a, 0) * c(b, 2),
        c(a, 0) * c(b, 1) - c(a, 1) * c(b, 0),
    ]
}
