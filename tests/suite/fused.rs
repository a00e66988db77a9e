//! The fused GPU training step against burn's autodiff on the CPU, on whatever adapter exists
//! (software Vulkan on a machine without a GPU).

use bevy_neural_sphere::{
    Preset, TrainConfig,
    learn::{
        HostBackend, InputEncoding, SphereNet, SphereNetConfig, Trainer, TrainingDevice,
        grid_metrics, grid_points, sphere_metrics,
    },
};

use super::gpu::gpu;
use super::trainer::diverging;

fn parameters(network: &SphereNet<HostBackend>) -> Vec<f32> {
    network.parameters()
}

/// Trains `config` for `steps` steps with the fused step and on the CPU, from the same seed:
/// the same network, batches and dropout masks.
fn both_ways(config: TrainConfig, steps: usize) {
    let mut fused = Trainer::new(config.clone(), &gpu()).unwrap();
    assert_eq!(fused.op_path(), None, "the fused step fits {config:?}");
    let mut cpu = Trainer::new(config.clone(), &TrainingDevice::Cpu).unwrap();
    let (a, b) = (fused.train(steps).unwrap(), cpu.train(steps).unwrap());
    // The closed preset's loss is a sum of terms near 1 of both signs, and the local terms
    // take differences of nearby outputs, which f32 rounds differently on each device: the
    // tolerance is relative to the terms' size, not to their sum's.
    for (f, c) in a.iter().zip(&b) {
        assert!(
            (f.loss - c.loss).abs() <= 1e-3 * c.loss.abs().max(1.0),
            "step {}: fused loss {}, cpu loss {}",
            f.step,
            f.loss,
            c.loss
        );
    }
    let (f, c) = (parameters(&fused.network()), parameters(&cpu.network()));
    assert_eq!(f.len(), c.len());
    let far = f
        .iter()
        .zip(&c)
        .filter(|(a, b)| (*a - *b).abs() > 1e-3)
        .count();
    // Adam moves every parameter by about the learning rate a step whatever its gradient's
    // size, so a gradient of the wrong sign or size shows in many parameters.
    assert!(
        far * 100 <= f.len(),
        "{far} of {} parameters differ by more than 1e-3 after {steps} steps",
        f.len()
    );
    let (f, c) = (parameters(&fused.shown()), parameters(&cpu.shown()));
    let far = f
        .iter()
        .zip(&c)
        .filter(|(a, b)| (*a - *b).abs() > 1e-3)
        .count();
    assert!(far * 100 <= f.len(), "{far} averaged parameters differ");
}

#[test]
fn the_fused_step_takes_the_cpu_steps_on_the_closed_preset() {
    // Past step 500, so the equal-area term counts too.
    let config = Preset::Closed.config().with_area_from(3);
    both_ways(config.clone().with_shape_weight(0.0), 8);
    // And the shape term, once the first steps have spread the initial network's thin sliver
    // of the sphere: there its patches are nearly flat, where the term's logarithm turns the
    // devices' different f32 rounding into differences of 1e-3 in the loss.
    both_ways(config.with_area_from(20).with_shape_weight(0.5), 26);
}

#[test]
fn the_fused_step_takes_the_cpu_steps_on_the_seed_preset() {
    // Dropout, two passes, the notebook's loss.
    both_ways(Preset::Seed.config(), 8);
}

#[test]
fn the_fused_step_takes_the_cpu_steps_with_every_activation() {
    use bevy_neural_sphere::learn::Activation::*;
    let model = SphereNetConfig::new()
        .with_hidden(vec![5, 64, 7])
        .with_activations(vec![Tanh, Relu, Silu])
        .with_dropout(vec![0.1, 0.0, 0.3]);
    both_ways(TrainConfig::new().with_model(model).with_batch(66), 6);
}

#[test]
fn the_fused_step_takes_the_cpu_steps_from_cone_features_on_a_narrow_network() {
    use bevy_neural_sphere::learn::Activation::*;
    // Hidden layers narrower than the 10 encoded inputs.
    let model = SphereNetConfig::new()
        .with_hidden(vec![4, 6])
        .with_activations(vec![Silu, Relu])
        .with_dropout(vec![0.0, 0.2])
        .with_encoding(InputEncoding::Cones);
    both_ways(TrainConfig::new().with_model(model).with_batch(66), 6);
}

#[test]
fn a_network_the_fused_step_does_not_fit_trains_on_burns_ops_and_says_why() {
    let model = SphereNetConfig::new()
        .with_hidden(vec![80])
        .with_activations(vec![bevy_neural_sphere::learn::Activation::Silu])
        .with_dropout(vec![0.0]);
    let mut trainer = Trainer::new(TrainConfig::new().with_model(model), &gpu()).unwrap();
    let why = trainer.op_path().expect("a layer 80 wide is too wide");
    assert!(why.contains("80"), "{why}");
    assert_eq!(trainer.train(2).unwrap().len(), 2);
    assert_eq!(trainer.fused_launches(), None);
}

#[test]
fn the_fused_steps_kernels_compile_for_every_network_within_its_width() {
    use bevy_neural_sphere::learn::Activation::*;
    let device = gpu();
    let activations = [Identity, Relu, Silu, Tanh];
    let widths: [&[usize]; 6] = [&[], &[1], &[64], &[3, 64], &[2, 63, 17], &[64, 64, 64, 64]];
    for (k, hidden) in widths.into_iter().enumerate() {
        let n = hidden.len();
        let model = SphereNetConfig::new()
            .with_hidden(hidden.to_vec())
            .with_activations((0..n).map(|i| activations[(k + i) % 4]).collect())
            .with_encoding(match k % 2 {
                0 => InputEncoding::Point,
                _ => InputEncoding::Cones,
            });
        // The notebook's loss with dropout, and the closed preset's with its local terms,
        // from one to the most dropout passes.
        let seed = model.clone().with_dropout(vec![0.2; n]);
        let closed = model.with_dropout(vec![0.0; n]);
        for config in [
            TrainConfig::new().with_model(seed).with_passes(1 + k),
            Preset::Closed
                .config()
                .with_model(closed)
                .with_passes(8 - k),
        ] {
            let trainer = Trainer::new(config.clone(), &device).unwrap();
            assert_eq!(trainer.op_path(), None, "{config:?}");
        }
    }
}

#[test]
fn a_fused_step_is_four_kernel_launches() {
    let mut trainer = Trainer::new(Preset::Closed.config(), &gpu()).unwrap();
    trainer.train(1).unwrap();
    let before = trainer.fused_launches().unwrap();
    let pending = trainer.train_deferred(10);
    let after = trainer.fused_launches().unwrap();
    trainer.collect(pending).unwrap();
    // One copy of the state to go back to, then four kernels a step.
    assert_eq!(after - before, 1 + 10 * 4);
}

#[test]
fn checkpoints_move_between_the_fused_step_and_the_cpu() {
    let points = grid_points(12);
    let close = |a: &[[f32; 3]], b: &[[f32; 3]]| {
        a.iter()
            .flatten()
            .zip(b.iter().flatten())
            .all(|(x, y)| (x - y).abs() < 1e-4)
    };
    let mut fused = Trainer::new(Preset::Closed.config(), &gpu()).unwrap();
    fused.train(20).unwrap();
    let on_cpu = Trainer::resume(fused.checkpoint(), &TrainingDevice::Cpu).unwrap();
    assert!(close(
        &fused.eval(&points).unwrap(),
        &on_cpu.eval(&points).unwrap()
    ));

    let mut cpu = Trainer::new(Preset::Closed.config(), &TrainingDevice::Cpu).unwrap();
    cpu.train(20).unwrap();
    let on_gpu = Trainer::resume(cpu.checkpoint(), &gpu()).unwrap();
    assert_eq!(on_gpu.op_path(), None);
    assert_eq!(on_gpu.steps_done(), 20);
    assert!(close(
        &cpu.eval(&points).unwrap(),
        &on_gpu.eval(&points).unwrap()
    ));
}

#[test]
fn the_closed_preset_closes_on_the_fused_step() {
    let mut trainer = Trainer::new(Preset::Closed.config(), &gpu()).unwrap();
    let grid = grid_points(100);
    let closed = (0..15).any(|_| {
        trainer.train(100).unwrap();
        let mapped = trainer.eval(&grid).unwrap();
        sphere_metrics(&mapped).is_closed() && grid_metrics(100, &mapped).is_clean()
    });
    assert!(closed, "not closed after 1,500 fused steps");
}

#[test]
fn a_fused_run_that_goes_non_finite_goes_back_on_the_gpu_and_carries_on() {
    // Going back puts a snapshot back with a kernel, without reading the GPU.
    let mut fused = Trainer::new(diverging(), &gpu()).unwrap();
    assert_eq!(fused.op_path(), None);
    let stats = fused.train(300).unwrap();
    assert!(stats.iter().enumerate().all(|(i, s)| s.step == i));
    assert!(stats.iter().all(|s| s.loss.is_finite()));
    let recoveries = fused.recoveries();
    assert!(!recoveries.is_empty(), "the run never went non-finite");
    assert!(
        recoveries.iter().all(|r| r.back_to <= r.step),
        "{recoveries:?}"
    );
    assert!(parameters(&fused.network()).iter().all(|p| p.is_finite()));
    assert!(parameters(&fused.shown()).iter().all(|p| p.is_finite()));
    let mapped = fused.eval(&grid_points(20)).unwrap();
    assert!(mapped.iter().flatten().all(|c| c.is_finite()));
}
