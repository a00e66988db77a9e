//! Wang & Isola's uniformity loss and its gradient in one pass over the pairs; see
//! [`fused_uniformity_loss`](super::fused_uniformity_loss) for the formulas. On the host each
//! pair is visited once: its weight adds to both of its rows.

use std::ops::Range;

use burn::prelude::*;

use super::exp::exp_nonpositive;
#[cfg(target_arch = "x86_64")]
use super::exp::exp8_nonpositive;

/// The loss (one element) and its gradient with respect to `outputs`.
pub(super) fn loss_and_gradient<B: Backend>(
    outputs: Tensor<B, 2>,
    passes: usize,
    t: f64,
) -> (Tensor<B, 1>, Tensor<B, 2>) {
    match super::host_backend::<B>() {
        true => on_host(outputs, passes, t),
        false => in_tensor_ops(outputs, passes, t),
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
        let sum = pair_pass(block, (2.0 * t) as f32, out);
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
/// `out` and returns `Σ_{i<j} wᵢⱼ`, with `wᵢⱼ = exp(k (vᵢ·vⱼ − 1))`.
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
    // Row i pairs with the n − 1 − i rows after it, so the first n (1 − √(1 − f)) rows hold the
    // share f of the pairs: these bounds give each thread as many pairs.
    let bounds: Vec<usize> = (0..=threads)
        .map(|p| {
            let share = p as f64 / threads as f64;
            (n as f64 * (1.0 - (1.0 - share).sqrt())).round() as usize
        })
        .collect();
    // The first share runs on this thread, so one share (the only one in a browser, which has
    // no threads) spawns none.
    let parts: Vec<(f64, [Vec<f32>; 3])> = std::thread::scope(|scope| {
        let others: Vec<_> = bounds[1..]
            .windows(2)
            .map(|rows| {
                let rows = rows[0]..rows[1];
                scope.spawn(move || rows_pass_fastest(columns, k, rows))
            })
            .collect();
        let first = rows_pass_fastest(columns, k, bounds[0]..bounds[1]);
        std::iter::once(first)
            .chain(
                others
                    .into_iter()
                    .map(|p| p.join().expect("a pair pass panicked")),
            )
            .collect()
    });
    out.fill(0.0);
    let mut sum = 0.0;
    for (part_sum, gradient) in parts {
        sum += part_sum;
        for (row, g) in out.chunks_exact_mut(3).enumerate() {
            for c in 0..3 {
                g[c] += gradient[c][row];
            }
        }
    }
    sum
}

/// [`rows_pass`] with the fastest row kernel this CPU has.
fn rows_pass_fastest(columns: [&[f32]; 3], k: f32, rows: Range<usize>) -> (f64, [Vec<f32>; 3]) {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: this CPU has AVX2 and FMA.
        return unsafe { rows_pass_avx2(columns, k, rows) };
    }
    rows_pass(columns, k, rows, row_pairs)
}

/// [`rows_pass`] with [`row_pairs_avx2`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn rows_pass_avx2(columns: [&[f32]; 3], k: f32, rows: Range<usize>) -> (f64, [Vec<f32>; 3]) {
    rows_pass(columns, k, rows, |v, k, columns, gradient, weights| {
        row_pairs_avx2(v, k, columns, gradient, weights)
    })
}

/// The pairs `(i, j)` with `i` in `rows` and `j > i`: returns `Σ wᵢⱼ` and, for every row, its
/// share of `Σ_{j≠i} wᵢⱼ vⱼ` (in columns).
#[inline(always)]
fn rows_pass(
    columns: [&[f32]; 3],
    k: f32,
    rows: Range<usize>,
    row_pairs: impl Fn([f32; 3], f32, [&[f32]; 3], [&mut [f32]; 3], &mut Vec<f32>) -> [f32; 4],
) -> (f64, [Vec<f32>; 3]) {
    let n = columns[0].len();
    let mut gradient: [Vec<f32>; 3] = std::array::from_fn(|_| vec![0.0; n]);
    let mut weights = Vec::with_capacity(n);
    let mut sum = 0.0f64;
    for row in rows {
        let v = columns.map(|c| c[row]);
        let [gx, gy, gz] = &mut gradient;
        let sums = row_pairs(
            v,
            k,
            columns.map(|c| &c[row + 1..]),
            [&mut gx[row + 1..], &mut gy[row + 1..], &mut gz[row + 1..]],
            &mut weights,
        );
        sum += f64::from(sums[0]);
        for (c, g) in gradient.iter_mut().enumerate() {
            g[row] += sums[c + 1];
        }
    }
    (sum, gradient)
}

/// Lanes of the portable kernel's sums: wide enough for AVX, and kept in registers.
const LANES: usize = 8;

/// For the vector `v` against the vectors `[xs, ys, zs]`, with `wⱼ = exp(k (v·vⱼ − 1))`: adds
/// `wⱼ v` to each `[gxs, gys, gzs]ⱼ` and returns `[Σⱼ wⱼ, Σⱼ wⱼ xⱼ, Σⱼ wⱼ yⱼ, Σⱼ wⱼ zⱼ]`.
/// `weights` is scratch space.
///
/// Portable code in three loops that the compiler vectorises on its own (one loop doing all
/// three is not vectorised).
#[inline(always)]
fn row_pairs(
    v: [f32; 3],
    k: f32,
    [xs, ys, zs]: [&[f32]; 3],
    gradient: [&mut [f32]; 3],
    weights: &mut Vec<f32>,
) -> [f32; 4] {
    weights.clear();
    weights.extend(
        (xs.iter().zip(ys).zip(zs))
            .map(|((x, y), z)| exp_nonpositive(k * (v[0] * x + v[1] * y + v[2] * z - 1.0))),
    );
    let (w_chunks, w_rest) = weights.as_chunks::<LANES>();
    let (x_chunks, x_rest) = xs.as_chunks::<LANES>();
    let (y_chunks, y_rest) = ys.as_chunks::<LANES>();
    let (z_chunks, z_rest) = zs.as_chunks::<LANES>();
    // Sums in lanes: a float sum taken in order cannot be vectorised.
    let mut acc = [[0.0f32; LANES]; 4];
    for (((w, x), y), z) in w_chunks.iter().zip(x_chunks).zip(y_chunks).zip(z_chunks) {
        for l in 0..LANES {
            acc[0][l] += w[l];
            acc[1][l] += w[l] * x[l];
            acc[2][l] += w[l] * y[l];
            acc[3][l] += w[l] * z[l];
        }
    }
    let mut sums = acc.map(|lanes| lanes.iter().sum::<f32>());
    for (((w, x), y), z) in w_rest.iter().zip(x_rest).zip(y_rest).zip(z_rest) {
        sums[0] += w;
        sums[1] += w * x;
        sums[2] += w * y;
        sums[3] += w * z;
    }
    for (g, c) in gradient.into_iter().zip(v) {
        for (g, w) in g.iter_mut().zip(weights.iter()) {
            *g += w * c;
        }
    }
    sums
}

/// [`row_pairs`] in AVX2 and FMA instructions, eight pairs at a time: about 2.5 times as fast
/// as what the compiler makes of the portable loops.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn row_pairs_avx2(
    v: [f32; 3],
    k: f32,
    [xs, ys, zs]: [&[f32]; 3],
    [gxs, gys, gzs]: [&mut [f32]; 3],
    weights: &mut Vec<f32>,
) -> [f32; 4] {
    use std::arch::x86_64::*;
    let vs = v.map(|c| _mm256_set1_ps(c));
    let k8 = _mm256_set1_ps(k);
    let mut acc = [_mm256_setzero_ps(); 4];
    let whole = xs.len() / 8 * 8;
    for j in (0..whole).step_by(8) {
        // SAFETY: j + 8 ≤ whole ≤ the length of every slice (the rows' columns and gradient
        // columns are equally long).
        unsafe {
            let [x, y, z] = [xs, ys, zs].map(|c| _mm256_loadu_ps(c.as_ptr().add(j)));
            let dot = _mm256_fmadd_ps(vs[0], x, _mm256_fmadd_ps(vs[1], y, _mm256_mul_ps(vs[2], z)));
            let w = exp8_nonpositive(_mm256_fmsub_ps(k8, dot, k8));
            acc[0] = _mm256_add_ps(acc[0], w);
            acc[1] = _mm256_fmadd_ps(w, x, acc[1]);
            acc[2] = _mm256_fmadd_ps(w, y, acc[2]);
            acc[3] = _mm256_fmadd_ps(w, z, acc[3]);
            for (g, c) in [gxs.as_mut_ptr(), gys.as_mut_ptr(), gzs.as_mut_ptr()]
                .into_iter()
                .zip(vs)
            {
                let g = g.add(j);
                _mm256_storeu_ps(g, _mm256_fmadd_ps(w, c, _mm256_loadu_ps(g)));
            }
        }
    }
    let mut sums = acc.map(|lanes| {
        let mut out = [0.0f32; 8];
        // SAFETY: `out` holds eight floats.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), lanes) };
        out.iter().sum::<f32>()
    });
    let rest = row_pairs(
        v,
        k,
        [&xs[whole..], &ys[whole..], &zs[whole..]],
        [&mut gxs[whole..], &mut gys[whole..], &mut gzs[whole..]],
        weights,
    );
    for (s, r) in sums.iter_mut().zip(rest) {
        *s += r;
    }
    sums
}
