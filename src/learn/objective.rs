//! The training objectives.
//!
//! The notebook's loss ([`Objective::Seed`]): the outputs of one dropout pass are shuffled into
//! halves `a` and `b`, and the pass adds `(Σᵢ cos(aᵢ, bᵢ))²`. Its floor is reached by any output
//! distribution with mean 0 and second moment I/3, which is why the sphere it learns stays open.
//!
//! Wang & Isola's uniformity ([`Objective::Uniformity`]) pushes every pair of outputs apart:
//! `log mean_{i<j} exp(-t |vᵢ - vⱼ|²)`. It is only minimal for the uniform distribution, and with
//! a sharp temperature `t` and a wider network it closes the sphere.

use std::str::FromStr;

use burn::prelude::*;

use crate::Error;

/// `eps` of PyTorch's `CosineSimilarity`.
const COSINE_EPS: f64 = 1e-8;

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
