//! SiLU and its derivative in one pass: `y = x σ(x)`, `y' = σ(x) (1 + x (1 − σ(x)))`.

use burn::prelude::*;

use super::exp::exp_nonpositive;

/// `(x σ(x), σ(x) (1 + x (1 − σ(x))))`, element by element.
pub(super) fn value_and_derivative<B: Backend>(x: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
    match super::host_backend::<B>() {
        true => on_host(x),
        false => in_tensor_ops(x),
    }
}

/// The formulas in tensor operations.
fn in_tensor_ops<B: Backend>(x: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let s = burn::tensor::activation::sigmoid(x.clone());
    let derivative = s.clone() * (x.clone() * (s.clone().neg() + 1.0) + 1.0);
    (x * s, derivative)
}

/// The formulas on the host, in one vectorised pass.
fn on_host<B: Backend>(x: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let (shape, device) = (x.dims(), x.device());
    let x = x
        .into_data()
        .into_vec::<f32>()
        .expect("activations are f32");
    let mut value = vec![0.0; x.len()];
    let mut derivative = vec![0.0; x.len()];
    fill_fastest(&x, &mut value, &mut derivative);
    let tensor = |v| Tensor::from_data(TensorData::new(v, shape), &device);
    (tensor(value), tensor(derivative))
}

/// [`fill`] with the widest vectors this CPU has.
fn fill_fastest(x: &[f32], value: &mut [f32], derivative: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        // SAFETY: this CPU has AVX2.
        return unsafe { fill_avx2(x, value, derivative) };
    }
    fill(x, value, derivative)
}

/// [`fill`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn fill_avx2(x: &[f32], value: &mut [f32], derivative: &mut [f32]) {
    fill(x, value, derivative)
}

/// Writes each element's value and derivative.
#[inline(always)]
fn fill(x: &[f32], value: &mut [f32], derivative: &mut [f32]) {
    for ((&x, y), d) in x.iter().zip(value).zip(derivative) {
        // exp(−|x|) ≤ 1 never overflows: σ(x) = 1 / (1 + e) for x ≥ 0, e / (1 + e) below.
        let e = exp_nonpositive(-x.abs());
        let r = 1.0 / (1.0 + e);
        let s = if x >= 0.0 { r } else { e * r };
        *y = x * s;
        *d = s * (1.0 + x * (1.0 - s));
    }
}
