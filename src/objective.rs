//! The training objective.
//!
//! The notebook's loss: the outputs of one dropout pass are shuffled into halves `a` and `b`,
//! and the pass adds `(Σᵢ cos(aᵢ, bᵢ))²`. Its floor is reached by any output distribution
//! with mean 0 and second moment I/3, which is why the sphere it learns stays open.

use burn::prelude::*;

/// `eps` of PyTorch's `CosineSimilarity`.
const COSINE_EPS: f64 = 1e-8;

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
