//! The training step's two hot operations, each computed together with its gradient as a burn
//! backend extension with its own backward step: Wang & Isola's uniformity loss
//! ([`uniformity`]) and SiLU ([`silu`]). Autodiff through the tensor-op versions keeps their
//! intermediate buffers for the backward pass and makes several passes over them; the fused
//! versions make one. On the CPU backend both run on the host in vectorised loops, with the
//! exponential of [`exp`]; elsewhere they are the same formulas in tensor operations.

mod exp;
mod silu;
mod uniformity;

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{TensorMetadata, TensorPrimitive};

/// An autodiff backend with the crate's fused operations. Every burn `Autodiff` backend has
/// them.
pub trait FusedBackend: AutodiffBackend {
    /// [`fused_uniformity_loss`] on primitives.
    fn uniformity(outputs: FloatTensor<Self>, passes: usize, t: f64) -> FloatTensor<Self>;

    /// [`fused_silu`] on primitives.
    fn silu(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// Wang & Isola's uniformity with temperature `t`, summed over passes: the value of
/// [`uniformity_loss`](super::objective::uniformity_loss), computed with its gradient in one
/// pass over the pairs. `outputs` holds `passes` blocks of unit vectors, `[rows, 3]`.
///
/// For unit vectors `vᵢ`, `wᵢⱼ = exp(2t(vᵢ·vⱼ − 1)) ≤ 1`, `S = Σ_{i<j} wᵢⱼ` and
/// `L = log(S / (n(n−1)/2))`, so `∂L/∂vᵢ = (2t/S) Σ_{j≠i} wᵢⱼ vⱼ`.
pub fn fused_uniformity_loss<B: FusedBackend>(
    outputs: Tensor<B, 2>,
    passes: usize,
    t: f64,
) -> Tensor<B, 1> {
    let loss = B::uniformity(outputs.into_primitive().tensor(), passes, t);
    Tensor::from_primitive(TensorPrimitive::Float(loss))
}

/// `x · sigmoid(x)`, as burn's `silu`, computed with its derivative
/// `σ(x) (1 + x (1 − σ(x)))` in one pass.
pub fn fused_silu<B: FusedBackend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let y = B::silu(x.into_primitive().tensor());
    Tensor::from_primitive(TensorPrimitive::Float(y))
}

/// The backward step of an operation whose derivative was computed with its value: the
/// gradient is that derivative times the upstream gradient (broadcast where the operation's
/// value is a single number, as a loss is).
#[derive(Debug)]
struct TimesDerivative;

impl<B: Backend> Backward<B, 1> for TimesDerivative {
    /// `∂ value / ∂ input`, element by element.
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [input] = ops.parents;
        let upstream = grads.consume::<B>(&ops.node);
        if let Some(node) = input {
            let derivative = ops.state;
            let shape = derivative.shape();
            let upstream = match upstream.shape().num_elements() {
                1 => B::float_reshape(upstream, Shape::from(vec![1; shape.num_dims()])),
                _ => upstream,
            };
            grads.register::<B>(node.id, B::float_mul(derivative, upstream));
        }
    }
}

impl<B: Backend, C: CheckpointStrategy> FusedBackend for Autodiff<B, C> {
    fn uniformity(outputs: FloatTensor<Self>, passes: usize, t: f64) -> FloatTensor<Self> {
        with_derivative::<B, C, 1>(outputs, |v| uniformity::loss_and_gradient(v, passes, t))
    }

    fn silu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        with_derivative::<B, C, 2>(x, silu::value_and_derivative)
    }
}

/// Computes `(value, derivative)` of `input` on the inner backend and records the value in
/// the autodiff graph, with the derivative kept for [`TimesDerivative`].
fn with_derivative<B: Backend, C: CheckpointStrategy, const D: usize>(
    input: FloatTensor<Autodiff<B, C>>,
    compute: impl FnOnce(Tensor<B, 2>) -> (Tensor<B, D>, Tensor<B, 2>),
) -> FloatTensor<Autodiff<B, C>> {
    let inner = Tensor::<B, 2>::from_primitive(TensorPrimitive::Float(input.primitive));
    let (value, derivative) = compute(inner);
    let value = value.into_primitive().tensor();
    match TimesDerivative
        .prepare::<C>([input.node])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(derivative.into_primitive().tensor(), value),
        OpsKind::UnTracked(prep) => prep.finish(value),
    }
}

/// Whether `B` is the CPU backend, whose tensors live in host memory: there the fused
/// operations run as host loops. (Rust cannot specialise an impl for one backend.)
fn host_backend<B: Backend>() -> bool {
    std::any::TypeId::of::<B>() == std::any::TypeId::of::<burn::backend::Flex>()
}
