//! The network and the objective on hand-checkable inputs.

use bevy_neural_sphere::{
    CpuBackend, SphereNetConfig, dropout_mask, eval, seed_loss, uniformity_loss,
};
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus as Rng;

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
