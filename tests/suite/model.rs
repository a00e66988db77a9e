//! The network and the objective on hand-checkable inputs.

use bevy_neural_sphere::learn::{
    CpuBackend, FusedBackend, InputEncoding, SphereNetConfig, dropout_factor, dropout_mask,
    equal_area_loss, eval, fused_silu, fused_uniformity_loss, seed_loss, shape_loss,
    uniformity_loss,
};
use burn::backend::{Autodiff, NdArray};
use burn::prelude::*;
use rand::rngs::Xoshiro256PlusPlus as Rng;
use rand::{RngExt, SeedableRng};

type B = CpuBackend;

fn rows(rows: &[[f32; 3]], n: usize) -> Tensor<B, 2> {
    let data: Vec<f32> = rows.iter().cycle().take(n).flatten().copied().collect();
    Tensor::from_data(TensorData::new(data, [n, 3]), &Default::default())
}

fn loss(a: &[[f32; 3]], b: &[[f32; 3]], passes: usize) -> f32 {
    seed_loss(rows(a, 500 * passes), rows(b, 500 * passes), passes).into_scalar()
}

#[test]
fn uniformity_is_the_log_mean_pair_kernel() {
    let t = 20.0;
    // Two orthogonal unit vectors are √2 apart: log exp(-2t) = -2t.
    let orthogonal = uniformity_loss(rows(&[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], 2), 1, t);
    assert!((orthogonal.into_scalar() + 40.0).abs() < 1e-4);
    // Three copies of one vector: every pair at distance 0, log 1 = 0, twice for two passes.
    let same = uniformity_loss(rows(&[[0.0, 0.0, 1.0]], 6), 2, t).into_scalar();
    assert!(same.abs() < 1e-5, "{same}");
}

/// The equal-area term of `map` at points `p`, `p + (h, 0)` and `p + (0, h)` for a 20×20
/// lattice of `p` away from the poles.
fn area_loss(map: impl Fn(f32, f32) -> [f32; 3]) -> f32 {
    local_loss(map, |at, u, v, h| equal_area_loss(at, u, v, h))
}

/// The shape term of `map` at the same points.
fn shape(map: impl Fn(f32, f32) -> [f32; 3]) -> f32 {
    local_loss(map, |at, u, v, _| shape_loss(at, u, v))
}

type Rows = burn::tensor::Tensor<CpuBackend, 2>;

/// A term of `map`'s images at points `p`, `p + (h, 0)` and `p + (0, h)`, with `h`.
fn local_loss(
    map: impl Fn(f32, f32) -> [f32; 3],
    term: impl Fn(Rows, Rows, Rows, f64) -> burn::tensor::Tensor<CpuBackend, 1>,
) -> f32 {
    let h = 0.01;
    let lattice = (0..400).map(|i| {
        (
            -0.45 + 0.045 * (i % 20) as f32,
            -0.4 + 0.04 * (i / 20) as f32,
        )
    });
    let images = |du: f32, dv: f32| {
        let images: Vec<[f32; 3]> = lattice.clone().map(|(u, v)| map(u + du, v + dv)).collect();
        rows(&images, images.len())
    };
    term(images(0.0, 0.0), images(h, 0.0), images(0.0, h), h as f64).into_scalar()
}

/// Lambert's cylindrical equal-area map, its height scaled by `z_scale`: the square's area 1
/// covers `4π · z_scale` of the sphere, and `mirror` reverses it.
fn lambert(z_scale: f32, mirror: f32) -> impl Fn(f32, f32) -> [f32; 3] {
    move |u, v| {
        let (z, lon) = (2.0 * v * z_scale, mirror * std::f32::consts::TAU * u);
        let r = (1.0 - z * z).sqrt();
        [r * lon.cos(), r * lon.sin(), z]
    }
}

#[test]
fn the_equal_area_term_is_zero_for_an_equal_area_map_whichever_way_it_faces() {
    for mirror in [1.0, -1.0] {
        let equal = area_loss(lambert(1.0, mirror));
        assert!(equal < 1e-3, "equal-area map: {equal}");
        // Half the height covers half the area everywhere: (0.5 − 1)².
        let half = area_loss(lambert(0.5, mirror));
        assert!((half - 0.25).abs() < 5e-3, "half the area: {half}");
    }
    // A sheet folded over left of u = -0.2: there the areas count negative, (−1 − 1)² each.
    let folded = area_loss(|u, v| lambert(1.0, 1.0)((u + 0.2).abs() - 0.2, v));
    assert!(folded > 1.0, "folded: {folded}");
}

#[test]
fn the_shape_term_is_zero_for_a_conformal_map_and_grows_with_the_stretch() {
    // Stereographic projection from the south pole: conformal.
    let conformal = shape(|u, v| {
        let (x, y) = (2.0 * u, 2.0 * v);
        let r2 = x * x + y * y;
        [2.0 * x, 2.0 * y, 1.0 - r2].map(|c| c / (1.0 + r2))
    });
    assert!(conformal < 1e-3, "conformal map: {conformal}");
    // Lambert's map at height z stretches s1/s2 = ρ or 1/ρ with ρ = π (1 − z²): the term is
    // (2 ln((ρ + 1/ρ) / 2))², averaged over the lattice's rows.
    let expected = (0..20)
        .map(|row| {
            let z = 2.0 * (-0.4 + 0.04 * row as f32);
            let rho = std::f32::consts::PI * (1.0 - z * z);
            (2.0 * ((rho + 1.0 / rho) / 2.0).ln()).powi(2) / 20.0
        })
        .sum::<f32>();
    let stretched = shape(lambert(1.0, 1.0));
    assert!(
        (stretched - expected).abs() < 0.02,
        "Lambert's map: {stretched}, not {expected}"
    );
}

#[test]
fn identical_pairs_give_500_squared_per_pass() {
    let v = [[0.6, 0.0, 0.8], [0.0, 1.0, 0.0]];
    let l = loss(&v, &v, 1);
    assert!((l - 250_000.0).abs() < 1.0, "{l}");
}

#[test]
fn opposite_pairs_give_500_squared_per_pass() {
    assert_eq!(loss(&[[1.0, 0.0, 0.0]], &[[-1.0, 0.0, 0.0]], 1), 250_000.0);
}

#[test]
fn orthogonal_pairs_give_zero() {
    assert_eq!(loss(&[[1.0, 0.0, 0.0]], &[[0.0, 0.0, 3.0]], 1), 0.0);
}

#[test]
fn passes_are_squared_separately_then_summed() {
    // Pass 1: identical pairs, 500². Pass 2: half identical, half opposite, 0.
    let a = rows(&[[1.0, 0.0, 0.0]], 1000);
    let b_data: Vec<f32> = (0..1000)
        .flat_map(|i| {
            if i < 500 || i % 2 == 0 {
                [1.0, 0.0, 0.0]
            } else {
                [-1.0, 0.0, 0.0]
            }
        })
        .collect();
    let b = Tensor::from_data(TensorData::new(b_data, [1000, 3]), &Default::default());
    assert_eq!(seed_loss(a, b, 2).into_scalar(), 250_000.0);
    assert_eq!(loss(&[[0.0, 1.0, 0.0]], &[[0.0, 2.0, 0.0]], 2), 500_000.0);
}

fn square(n: usize) -> Vec<[f32; 2]> {
    (0..n * n)
        .map(|i| {
            [
                (i % n) as f32 / n as f32 - 0.5,
                (i / n) as f32 / n as f32 - 0.5,
            ]
        })
        .collect()
}

#[test]
fn outputs_are_unit_vectors() {
    let device = Default::default();
    for seed in 0..5 {
        let net = SphereNetConfig::new().init::<B>(&mut Rng::seed_from_u64(seed), &device);
        for v in eval(&net, &square(30), &device) {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "|{v:?}| = {norm}");
        }
    }
}

#[test]
fn eval_is_deterministic_and_ignores_dropout() {
    let device = Default::default();
    let config = SphereNetConfig::new();
    let net = config.init::<B>(&mut Rng::seed_from_u64(7), &device);
    let points = square(20);
    let first = eval(&net, &points, &device);
    assert_eq!(first, eval(&net, &points, &device));

    // Evaluation equals a training pass whose masks keep every unit unscaled ...
    let x = || {
        let flat: Vec<f32> = points.iter().flatten().copied().collect();
        Tensor::<B, 2>::from_data(TensorData::new(flat, [points.len(), 2]), &device)
    };
    let keep_all: Vec<Tensor<B, 2>> = [12, 6]
        .map(|w| Tensor::ones([points.len(), w], &device))
        .to_vec();
    let kept: Vec<f32> = net
        .forward(x(), Some(&keep_all))
        .into_data()
        .into_vec()
        .unwrap();
    let evaluated: Vec<f32> = first.iter().flatten().copied().collect();
    assert_eq!(kept, evaluated);

    // ... and differs from one with real dropout masks.
    let mut rng = Rng::seed_from_u64(1);
    let dropped: Vec<Tensor<B, 2>> = [12, 6]
        .map(|w| dropout_mask(&mut rng, [points.len(), w], 0.2, &device))
        .to_vec();
    let noisy: Vec<f32> = net
        .forward(x(), Some(&dropped))
        .into_data()
        .into_vec()
        .unwrap();
    assert_ne!(noisy, evaluated);
}

#[test]
fn dropout_masks_drop_about_p_and_rescale_the_rest() {
    let mask: Vec<f32> = dropout_mask::<B>(
        &mut Rng::seed_from_u64(3),
        [1000, 12],
        0.2,
        &Default::default(),
    )
    .into_data()
    .into_vec()
    .unwrap();
    let dropped = mask.iter().filter(|&&m| m == 0.0).count() as f64 / mask.len() as f64;
    assert!((dropped - 0.2).abs() < 0.01, "dropped {dropped}");
    assert!(mask.iter().all(|&m| m == 0.0 || m == 1.25));
}

#[test]
fn hashed_dropout_drops_about_p_apart_in_every_step_row_layer_and_unit() {
    let factors = |seed, step, layer| -> Vec<f32> {
        (0..12_000)
            .map(|i| dropout_factor(seed, step, layer, i / 12, i % 12, 0.2))
            .collect()
    };
    let mask = factors(0, 7, 1);
    let dropped = mask.iter().filter(|&&m| m == 0.0).count() as f64 / mask.len() as f64;
    assert!((dropped - 0.2).abs() < 0.01, "dropped {dropped}");
    assert!(mask.iter().all(|&m| m == 0.0 || m == 1.25));
    assert_eq!(mask, factors(0, 7, 1), "a hash, not a stream");
    for other in [factors(1, 7, 1), factors(0, 8, 1), factors(0, 7, 2)] {
        let same = mask.iter().zip(&other).filter(|(a, b)| a == b).count();
        // Independent masks agree where both keep or both drop: 0.8² + 0.2² = 68 %.
        assert!((same as f64 / 12_000.0 - 0.68).abs() < 0.02, "{same}");
    }
    assert!((0..100).all(|i| dropout_factor(0, 0, 0, i, 0, 0.0) == 1.0));
}

#[test]
fn config_lists_must_agree() {
    let bad = SphereNetConfig::new().with_dropout(vec![0.0, 0.2]);
    assert!(bad.validate().unwrap_err().contains("must match"));
    assert!(
        SphereNetConfig::new()
            .with_dropout(vec![0.0, 1.0, 0.2])
            .validate()
            .is_err()
    );
}

/// The loss and its gradient with respect to the unit rows `v` (the op's input), by the fused
/// op or by autodiff through the tensor-op version.
fn loss_and_gradient<Be: FusedBackend>(
    v: &[f32],
    passes: usize,
    t: f64,
    fused: bool,
) -> (f32, Vec<f32>) {
    let rows = v.len() / 3;
    let data = TensorData::new(v.to_vec(), [rows, 3]);
    let v = Tensor::<Be, 2>::from_data(data, &Default::default()).require_grad();
    let loss = match fused {
        true => fused_uniformity_loss(v.clone(), passes, t),
        false => uniformity_loss(v.clone(), passes, t),
    };
    let gradient = v.grad(&loss.backward()).unwrap();
    let gradient = gradient.into_data().into_vec::<f32>().unwrap();
    (loss.into_scalar().elem::<f32>(), gradient)
}

/// `n` random unit vectors around `centre`, up to `spread` from it in each coordinate.
fn unit_rows(rng: &mut Rng, n: usize, centre: [f32; 3], spread: f32) -> Vec<f32> {
    (0..n)
        .flat_map(|_| {
            let v = centre.map(|c| c + spread * (rng.random::<f32>() - 0.5));
            let norm = v.iter().map(|c| c * c).sum::<f32>().sqrt();
            v.map(|c| c / norm)
        })
        .collect()
}

/// Checks the fused loss against the tensor-op version on `Be`, spread and nearly collapsed.
fn fused_matches_tensor_ops<Be: FusedBackend>() {
    let mut rng = Rng::seed_from_u64(3);
    let (passes, n) = (2, 300);
    let spread = unit_rows(&mut rng, passes * n, [0.0; 3], 1.0);
    let collapsed = unit_rows(&mut rng, passes * n, [0.3, 0.4, 1.0], 0.02);
    for (set, v) in [("spread", &spread), ("collapsed", &collapsed)] {
        for t in [2.0, 20.0, 80.0] {
            let (loss, gradient) = loss_and_gradient::<Be>(v, passes, t, true);
            let (expected, expected_gradient) = loss_and_gradient::<Be>(v, passes, t, false);
            let what = format!("{set} at t = {t}: loss {loss}, tensor ops {expected}");
            // Relative, or absolute where the loss is near 0 (a collapsed set at low t).
            let tolerance = 1e-5 * expected.abs().max(1.0);
            assert!((loss - expected).abs() <= tolerance, "{what}");
            let scale = expected_gradient.iter().fold(0.0f32, |m, g| m.max(g.abs()));
            let worst = (gradient.iter().zip(&expected_gradient))
                .fold(0.0f32, |m, (g, e)| m.max((g - e).abs()));
            assert!(
                worst <= 1e-5 * scale,
                "{what}: gradients differ by {worst} of {scale}"
            );
        }
    }
}

#[test]
fn the_fused_uniformity_loss_and_gradient_match_the_tensor_ops() {
    // On the CPU backend, the pass over the pairs runs on the host.
    fused_matches_tensor_ops::<CpuBackend>();
    // Elsewhere, in tensor operations.
    fused_matches_tensor_ops::<Autodiff<NdArray>>();
}

/// SiLU and its gradient by the fused op, and by autodiff through burn's, at the same inputs.
fn silu_both_ways<Be: FusedBackend>(x: &[f32]) -> [(Vec<f32>, Vec<f32>); 2] {
    [true, false].map(|fused| {
        let data = TensorData::new(x.to_vec(), [x.len() / 4, 4]);
        let x = Tensor::<Be, 2>::from_data(data, &Default::default()).require_grad();
        let y = match fused {
            true => fused_silu(x.clone()),
            false => burn::tensor::activation::silu(x.clone()),
        };
        // A weighted sum, so that every element's gradient is checked with its own weight.
        let weights = Tensor::arange(0..x.dims().iter().product::<usize>() as i64, &x.device())
            .float()
            .reshape(x.dims())
            .sin();
        let gradient = x.grad(&(y.clone() * weights).sum().backward()).unwrap();
        let values = |t: Tensor<Be::InnerBackend, 2>| t.into_data().into_vec::<f32>().unwrap();
        (values(y.inner()), values(gradient))
    })
}

#[test]
fn the_fused_silu_and_its_gradient_match_burns() {
    let mut rng = Rng::seed_from_u64(5);
    // Both signs, the range where σ turns, saturated inputs, and 0.
    let mut x: Vec<f32> = (0..4000)
        .map(|_| 24.0 * (rng.random::<f32>() - 0.5))
        .collect();
    x.extend([0.0, -0.0, 90.0, -90.0, 1e-6, -1e-6, 3.5, -3.5]);
    for [(value, gradient), (expected, expected_gradient)] in [
        silu_both_ways::<CpuBackend>(&x),
        silu_both_ways::<Autodiff<NdArray>>(&x),
    ] {
        for (what, got, want) in [
            ("value", &value, &expected),
            ("gradient", &gradient, &expected_gradient),
        ] {
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                    "{what} at x = {}: {g}, burn's {w}",
                    x[i]
                );
            }
        }
    }
}

/// `encoding`'s values at `points`, row by row.
fn encoded(encoding: InputEncoding, points: &[[f32; 2]]) -> Vec<Vec<f32>> {
    let flat: Vec<f32> = points.iter().flatten().copied().collect();
    let tensor = Tensor::<B, 2>::from_data(
        TensorData::new(flat, [points.len(), 2]),
        &Default::default(),
    );
    let width = encoding.width();
    let values = encoding
        .encode(tensor)
        .into_data()
        .into_vec::<f32>()
        .unwrap();
    assert_eq!(values.len(), points.len() * width);
    values.chunks(width).map(<[f32]>::to_vec).collect()
}

#[test]
fn cone_features_double_the_angle_about_each_edge_midpoint() {
    let points = [
        [0.3, -0.2],
        [0.5, 0.0],
        [0.4, 0.0],
        [0.4, 0.1],
        [0.5, 0.2],
        [0.5, -0.2],
    ];
    assert_eq!(encoded(InputEncoding::Point, &points)[0], vec![0.3, -0.2]);
    let rows = encoded(InputEncoding::Cones, &points);
    let near = |a: f32, b: f32| (a - b).abs() < 1e-6;
    // The point first, then (r cos 2θ, r sin 2θ) about (0.5, 0) in columns 2 and 6.
    assert!(near(rows[0][0], 0.3) && near(rows[0][1], -0.2));
    let about_right = |row: &[f32]| [row[2], row[6]];
    assert_eq!(about_right(&rows[1]), [0.0, 0.0], "at the midpoint");
    // 0.1 inwards along the normal: θ = 0.
    let [c, s] = about_right(&rows[2]);
    assert!(near(c, 0.1) && near(s, 0.0), "{c} {s}");
    // 0.1 inwards and 0.1 along the edge: θ = ±45°, 2θ = ±90°, r = 0.1 √2.
    let [c, s] = about_right(&rows[3]);
    assert!(near(c, 0.0) && near(s.abs(), 0.1 * 2f32.sqrt()), "{c} {s}");
    // On the edge, θ = ±90°: the two points the fold glues see the same features.
    let (a, b) = (about_right(&rows[4]), about_right(&rows[5]));
    assert!(near(a[0], -0.2) && near(a[1], 0.0) && near(b[0], -0.2) && near(b[1], 0.0));
    // Every midpoint in turn: each feature pair vanishes at its own midpoint.
    let midpoints = [[0.5, 0.0], [-0.5, 0.0], [0.0, 0.5], [0.0, -0.5]];
    for (k, row) in encoded(InputEncoding::Cones, &midpoints).iter().enumerate() {
        assert_eq!([row[2 + k], row[6 + k]], [0.0, 0.0], "midpoint {k}");
    }
}
