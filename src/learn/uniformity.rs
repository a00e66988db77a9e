//! Wang & Isola's uniformity as one fused operation with an analytic gradient: a burn backend
//! extension with its own backward step.
//!
//! For unit vectors `vᵢ`, `wᵢⱼ = exp(2t(vᵢ·vⱼ − 1)) ≤ 1`, `S = Σ_{i<j} wᵢⱼ` and
//! `L = log(S / (n(n−1)/2))`, so `∂L/∂vᵢ = (2t/S) Σ_{j≠i} wᵢⱼ vⱼ`: one pass over the pairs gives
//! the loss and its gradient, where autodiff through [`uniformity_loss`] keeps the `n × n`
//! kernel for its backward pass and makes a dozen passes over it. On the CPU backend the pass
//! runs on the host, vectorised and split over the cores; elsewhere it is the same formula in
//! tensor operations. The L2 normalisation before it stays in autodiff.
//!
//! [`uniformity_loss`]: super::objective::uniformity_loss

use std::any::TypeId;

use burn::backend::Autodiff;
use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::prelude::*;
use burn::tensor::TensorPrimitive;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::ops::FloatTensor;

/// An autodiff backend with the fused uniformity loss. Every burn `Autodiff` backend has it.
pub trait UniformityBackend: AutodiffBackend {
    /// [`fused_uniformity_loss`] on primitives.
    fn uniformity(outputs: FloatTensor<Self>, passes: usize, t: f64) -> FloatTensor<Self>;
}

/// Wang & Isola's uniformity with temperature `t`, summed over passes: the value of
/// [`uniformity_loss`](super::objective::uniformity_loss), computed with its gradient in one
/// pass over the pairs. `outputs` holds `passes` blocks of unit vectors, `[rows, 3]`.
pub fn fused_uniformity_loss<B: UniformityBackend>(
    outputs: Tensor<B, 2>,
    passes: usize,
    t: f64,
) -> Tensor<B, 1> {
    let loss = B::uniformity(outputs.into_primitive().tensor(), passes, t);
    Tensor::from_primitive(TensorPrimitive::Float(loss))
}

/// The backward step: the gradient was computed with the loss, so it only scales it by the
/// loss's own gradient.
#[derive(Debug)]
struct UniformityBackward;

impl<B: Backend> Backward<B, 1> for UniformityBackward {
    /// `∂L/∂outputs`.
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [outputs] = ops.parents;
        let upstream = grads.consume::<B>(&ops.node);
        if let Some(node) = outputs {
            let gradient = Tensor::<B, 2>::from_primitive(TensorPrimitive::Float(ops.state));
            let upstream = Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(upstream));
            let gradient = gradient * upstream.reshape([1, 1]);
            grads.register::<B>(node.id, gradient.into_primitive().tensor());
        }
    }
}

impl<B: Backend, C: CheckpointStrategy> UniformityBackend for Autodiff<B, C> {
    fn uniformity(outputs: FloatTensor<Self>, passes: usize, t: f64) -> FloatTensor<Self> {
        let inner = Tensor::<B, 2>::from_primitive(TensorPrimitive::Float(outputs.primitive));
        let (loss, gradient) = loss_and_gradient(inner, passes, t);
        let loss = loss.into_primitive().tensor();
        match UniformityBackward
            .prepare::<C>([outputs.node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(gradient.into_primitive().tensor(), loss),
            OpsKind::UnTracked(prep) => prep.finish(loss),
        }
    }
}

/// The loss (one element) and its gradient with respect to `outputs`.
fn loss_and_gradient<B: Backend>(
    outputs: Tensor<B, 2>,
    passes: usize,
    t: f64,
) -> (Tensor<B, 1>, Tensor<B, 2>) {
    // Rust cannot specialise the impl for one backend; the host pass is generic code that
    // reads the tensor back, which only pays where the tensor already lives on the host.
    if TypeId::of::<B>() == TypeId::of::<Flex>() {
        on_host(outputs, passes, t)
    } else {
        in_tensor_ops(outputs, passes, t)
    }
}

/// The formula in tensor operations: two matrix products and one `exp` over the pairs.
fn in_tensor_ops<B: Backend>(
    outputs: Tensor<B, 2>,
    passes: usize,
    t: f64,
) -> (Tensor<B, 1>, Tensor<B, 2>) {
    let [rows, _] = outputs.dims();
    let n = rows / passes;
    let device = outputs.device();
    let v = outputs.reshape([passes, n, 3]);
    let dots = v.clone().matmul(v.clone().swap_dims(1, 2));
    let off_diagonal = Tensor::<B, 2>::eye(n, &device)
        .neg()
        .add_scalar(1.0)
        .unsqueeze::<3>();
    let kernel = ((dots - 1.0) * (2.0 * t)).exp() * off_diagonal;
    // Every pair is counted twice.
    let sums = kernel.clone().sum_dim(2).sum_dim(1) / 2.0;
    let pairs = (n * (n - 1) / 2) as f64;
    let loss = (sums.clone() / pairs).log().sum();
    let gradient = kernel.matmul(v) * (sums.recip() * (2.0 * t));
    (loss, gradient.reshape([rows, 3]))
}

/// The formula on the host, rows split over the cores.
fn on_host<B: Backend>(
    outputs: Tensor<B, 2>,
    passes: usize,
    t: f64,
) -> (Tensor<B, 1>, Tensor<B, 2>) {
    let [rows, _] = outputs.dims();
    let n = rows / passes;
    let device = outputs.device();
    let flat = outputs
        .into_data()
        .into_vec::<f32>()
        .expect("the outputs are f32");
    let mut gradient = vec![0.0f32; rows * 3];
    let mut loss = 0.0f64;
    let pairs = (n * (n - 1) / 2) as f64;
    for (block, out) in flat
        .chunks_exact(n * 3)
        .zip(gradient.chunks_exact_mut(n * 3))
    {
        let sum = pair_pass(block, (2.0 * t) as f32, out) / 2.0;
        loss += (sum / pairs).ln();
        let scale = (2.0 * t / sum) as f32;
        out.iter_mut().for_each(|g| *g *= scale);
    }
    (
        Tensor::from_data(TensorData::new(vec![loss as f32], [1]), &device),
        Tensor::from_data(TensorData::new(gradient, [rows, 3]), &device),
    )
}

/// For the `n` vectors `block` (`[n, 3]`, row-major), writes `Σ_{j≠i} wᵢⱼ vⱼ` into row `i` of
/// `out` and returns `Σ_{i≠j} wᵢⱼ`, with `wᵢⱼ = exp(k (vᵢ·vⱼ − 1))`.
fn pair_pass(block: &[f32], k: f32, out: &mut [f32]) -> f64 {
    let n = block.len() / 3;
    // Columns apart, so that the inner loop reads each coordinate contiguously.
    let [xs, ys, zs]: [Vec<f32>; 3] =
        std::array::from_fn(|c| block[c..].iter().step_by(3).copied().collect());
    let columns = [xs.as_slice(), ys.as_slice(), zs.as_slice()];
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(n.div_ceil(64))
        .max(1);
    let rows_per_thread = n.div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = out
            .chunks_mut(rows_per_thread * 3)
            .enumerate()
            .map(|(part, out)| {
                let first = part * rows_per_thread;
                scope.spawn(move || rows_pass_fastest(columns, k, first, out))
            })
            .collect();
        parts
            .into_iter()
            .map(|p| p.join().expect("a pair pass panicked"))
            .sum()
    })
}

/// [`rows_pass`] with the widest vectors this CPU has.
fn rows_pass_fastest(columns: [&[f32]; 3], k: f32, first: usize, out: &mut [f32]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: this CPU has AVX2.
        return unsafe { rows_pass_avx2(columns, k, first, out) };
    }
    rows_pass(columns, k, first, out)
}

/// [`rows_pass`] compiled for AVX2: eight lanes where the baseline x86-64 has four.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn rows_pass_avx2(columns: [&[f32]; 3], k: f32, first: usize, out: &mut [f32]) -> f64 {
    rows_pass(columns, k, first, out)
}

/// For the rows from `first` on, one per three floats of `out`, writes `Σ_{j≠i} wᵢⱼ vⱼ` there
/// and returns `Σ_{j≠i} wᵢⱼ` summed over the rows.
#[inline(always)]
fn rows_pass(columns: [&[f32]; 3], k: f32, first: usize, out: &mut [f32]) -> f64 {
    let mut sum = 0.0f64;
    for (row, g) in (first..).zip(out.chunks_exact_mut(3)) {
        let v = columns.map(|c| c[row]);
        // The pairs before and after the row itself.
        let before = row_sums(v, k, columns.map(|c| &c[..row]));
        let after = row_sums(v, k, columns.map(|c| &c[row + 1..]));
        sum += f64::from(before[0] + after[0]);
        for c in 0..3 {
            g[c] = before[c + 1] + after[c + 1];
        }
    }
    sum
}

/// Lanes of the inner loop: wide enough for AVX, and the compiler keeps them in registers.
const LANES: usize = 8;

/// `[Σⱼ wⱼ, Σⱼ wⱼ xⱼ, Σⱼ wⱼ yⱼ, Σⱼ wⱼ zⱼ]` over the vectors `[xs, ys, zs]`, with
/// `wⱼ = exp(k (v·vⱼ − 1))`.
#[inline(always)]
fn row_sums(v: [f32; 3], k: f32, [xs, ys, zs]: [&[f32]; 3]) -> [f32; 4] {
    let (x_chunks, x_rest) = xs.as_chunks::<LANES>();
    let (y_chunks, y_rest) = ys.as_chunks::<LANES>();
    let (z_chunks, z_rest) = zs.as_chunks::<LANES>();
    // Sums in lanes: a float sum taken in order cannot be vectorised.
    let mut acc = [[0.0f32; LANES]; 4];
    for ((x, y), z) in x_chunks.iter().zip(y_chunks).zip(z_chunks) {
        for l in 0..LANES {
            let w = exp_nonpositive(k * (v[0] * x[l] + v[1] * y[l] + v[2] * z[l] - 1.0));
            acc[0][l] += w;
            acc[1][l] += w * x[l];
            acc[2][l] += w * y[l];
            acc[3][l] += w * z[l];
        }
    }
    let mut sums = acc.map(|lanes| lanes.iter().sum::<f32>());
    for ((x, y), z) in x_rest.iter().zip(y_rest).zip(z_rest) {
        let w = exp_nonpositive(k * (v[0] * x + v[1] * y + v[2] * z - 1.0));
        sums[0] += w;
        sums[1] += w * x;
        sums[2] += w * y;
        sums[3] += w * z;
    }
    sums
}

/// `exp(x)` for `x ≤ 0` (a little above 0 is fine too), to about 1e-7 relative, in operations
/// the compiler vectorises: `x = n ln 2 + r` with `n` an integer and `|r| ≤ ln 2 / 2`, `exp(r)`
/// by its degree-7 Taylor polynomial, `2ⁿ` built in the exponent bits. Below −87, where
/// `exp` leaves the normal floats, it returns about 1e-38.
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    // 1.5 · 2²³: adding it rounds to an integer, which then sits in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 1.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r / 5040.0))))));
    let exponent = shifted
        .to_bits()
        .wrapping_sub(ROUND.to_bits())
        .wrapping_add(127)
        << 23;
    p * f32::from_bits(exponent)
}
