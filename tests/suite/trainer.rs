//! The training loop on the CPU backend.

use bevy_neural_sphere::{
    Preset, TrainConfig,
    learn::{
        Checkpoint, SphereNet, StepStats, Trainer, TrainingDevice, grid_metrics, grid_points,
        sphere_metrics,
    },
};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

fn trainer(config: TrainConfig) -> Trainer {
    Trainer::new(config, &TrainingDevice::Cpu).unwrap()
}

/// Every parameter of a network, flattened.
fn parameters<Be: Backend>(model: &SphereNet<Be>) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl<Be: Backend> ModuleVisitor<Be> for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<Be, D>>) {
            self.0.extend(param.val().into_data().iter::<f32>());
        }
    }
    let mut collect = Collect(Vec::new());
    model.visit(&mut collect);
    collect.0
}

fn losses(stats: &[StepStats]) -> Vec<f32> {
    stats.iter().map(|s| s.loss).collect()
}

fn mean(xs: &[f32]) -> f32 {
    xs.iter().sum::<f32>() / xs.len() as f32
}

#[test]
fn learns_on_the_step_lr_schedule() {
    let mut t = trainer(TrainConfig::new().with_seed(1));
    let stats = t.train(3000).unwrap();
    assert_eq!(stats.len(), 3000);
    assert!(stats.iter().enumerate().all(|(i, s)| s.step == i));

    let lr = |step: usize| stats[step].lr;
    for (step, expected) in [
        (0, 0.05),
        (999, 0.05),
        (1000, 0.04),
        (2000, 0.032),
        (2999, 0.032),
    ] {
        assert!(
            (lr(step) - expected).abs() < 1e-12,
            "lr at step {step} is {}",
            lr(step)
        );
    }

    let first = stats[0].loss;
    let last = mean(&losses(&stats[2900..]));
    assert!(
        last < first / 100.0,
        "first loss {first}, mean of the last 100 {last}"
    );
}

#[test]
fn parameters_stay_clamped_and_keep_learning() {
    let mut t = trainer(TrainConfig::new().with_lr(1000.0));
    t.train(1).unwrap();
    let after_one = parameters(&t.network());
    assert!(
        after_one.iter().all(|p| (-2.0..=2.0).contains(p)),
        "{after_one:?}"
    );
    assert!(
        after_one.iter().any(|p| p.abs() == 2.0),
        "a huge step should hit the bounds"
    );

    t.train(1).unwrap();
    let after_two = parameters(&t.network());
    assert!(after_two.iter().all(|p| (-2.0..=2.0).contains(p)));
    assert_ne!(
        after_one, after_two,
        "the clamped parameters must still be trained"
    );
}

#[test]
fn one_seed_gives_one_loss_trace() {
    let trace = |seed| {
        losses(
            &trainer(TrainConfig::new().with_seed(seed))
                .train(50)
                .unwrap(),
        )
    };
    assert_eq!(trace(4), trace(4));
    assert_ne!(trace(4), trace(5));
}

#[test]
fn checkpoints_round_trip() {
    let mut t = trainer(TrainConfig::new().with_seed(2));
    t.train(20).unwrap();
    let dir = std::env::temp_dir().join(format!("neural-sphere-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let checkpoint = Checkpoint {
        config: t.config().clone(),
        steps: 20,
        model: t.network(),
    };
    let path = checkpoint.save(&dir.join("model")).unwrap();

    let device = Default::default();
    let loaded = Checkpoint::load(&path).unwrap();
    assert_eq!(loaded.steps, 20);
    assert_eq!(&loaded.config, t.config());
    let points = grid_points(25);
    assert_eq!(
        bevy_neural_sphere::learn::eval(&loaded.model, &points, &device),
        t.eval(&points).unwrap()
    );

    // A corrupt file and a missing one are errors, not panics.
    let corrupt = dir.join("corrupt.mpk");
    std::fs::write(&corrupt, b"not a checkpoint").unwrap();
    let err = Checkpoint::load(&corrupt).unwrap_err().to_string();
    assert!(err.contains("corrupt.mpk"), "{err}");
    assert!(Checkpoint::load(&dir.join("missing.mpk")).is_err());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_checkpoint_older_than_its_settings_loads_with_their_defaults() {
    // Written before the running average, the equal-area and shape terms and the input
    // encoding existed: the notebook's network after 3 steps.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/checkpoint_from_before_the_local_terms.mpk");
    let loaded = Checkpoint::load(&path).unwrap();
    assert_eq!(loaded.steps, 3);
    assert_eq!(loaded.config, TrainConfig::new());
    let mut resumed = Trainer::resume(loaded, &TrainingDevice::Cpu).unwrap();
    assert_eq!(resumed.train(2).unwrap().len(), 2);
}

/// Sets every parameter to one value.
pub struct Fill(pub f32);

impl<Be: Backend> ModuleMapper<Be> for Fill {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<Be, D>>) -> Param<Tensor<Be, D>> {
        let value = self.0;
        param.map(|t| t.zeros_like().add_scalar(value))
    }
}

#[test]
fn checkpoints_with_values_no_run_writes_are_refused() {
    let dir = std::env::temp_dir().join(format!("neural-sphere-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let t = trainer(TrainConfig::new());
    let save = |name: &str, config: TrainConfig, fill: Option<f32>| {
        let model = t.network();
        let model = match fill {
            Some(value) => model.map(&mut Fill(value)),
            None => model,
        };
        let checkpoint = Checkpoint {
            config,
            steps: 1,
            model,
        };
        checkpoint.save(&dir.join(name)).unwrap()
    };
    // The notebook's clamp is 2.
    for (name, config, fill, says) in [
        ("nan", TrainConfig::new(), Some(f32::NAN), "not finite"),
        (
            "infinite",
            TrainConfig::new(),
            Some(f32::INFINITY),
            "not finite",
        ),
        (
            "unclamped",
            TrainConfig::new(),
            Some(2.5),
            "outside the clamp",
        ),
        (
            "odd-batch",
            TrainConfig::new().with_batch(7),
            None,
            "batch 7",
        ),
        (
            "no-lr",
            TrainConfig::new().with_lr(-1.0),
            None,
            "learning rate",
        ),
    ] {
        let path = save(name, config, fill);
        let err = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(err.contains(name) && err.contains(says), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // Values at the clamp itself are what clamping writes.
    let at_clamp = save("at-clamp", TrainConfig::new(), Some(2.0));
    assert!(Checkpoint::load(&at_clamp).is_ok());

    // A cut-off file: burn's own message runs to a paragraph, the error stays one line.
    let bytes = std::fs::read(&at_clamp).unwrap();
    let truncated = dir.join("truncated.mpk");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = Checkpoint::load(&truncated).unwrap_err().to_string();
    assert!(err.contains("not a checkpoint"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn files_the_fuzzer_found_are_errors_not_panics() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    // Checkpoints with a byte changed: burn panics reading either.
    for (file, says) in [
        ("checkpoint_invalid_param_id.mpk", "a parameter id of"),
        ("checkpoint_tensor_bytes_not_f32.mpk", "a tensor whose data"),
        // Tensor data written as an array, whose i16 values burn converted to as many f32s
        // as its shape said: an allocation of 5.6e17 bytes, and an abort.
        ("checkpoint_tensor_as_array.mpk", "a tensor whose data"),
    ] {
        let err = Checkpoint::load(&fixtures.join(file))
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{file}: {err}");
        assert_eq!(err.lines().count(), 1, "{file}: {err}");
    }
}

#[test]
fn a_resumed_network_carries_on_its_schedule() {
    let mut t = trainer(TrainConfig::new().with_seed(4));
    t.train(1000).unwrap();
    let mut resumed = Trainer::resume(
        Checkpoint {
            config: t.config().clone(),
            steps: t.steps_done(),
            model: t.network(),
        },
        &TrainingDevice::Cpu,
    )
    .unwrap();
    assert_eq!(resumed.steps_done(), 1000);
    let points = grid_points(10);
    assert_eq!(resumed.eval(&points).unwrap(), t.eval(&points).unwrap());
    let next = resumed.train(1).unwrap()[0];
    assert_eq!(next.step, 1000);
    assert!((next.lr - 0.04).abs() < 1e-12, "lr {}", next.lr);
}

#[test]
fn retuning_changes_lr_and_batch_from_the_next_step() {
    let mut t = trainer(TrainConfig::new());
    t.train(1500).unwrap();
    t.retune(0.01, 200).unwrap();
    let next = t.train(1).unwrap()[0];
    assert!(
        (next.lr - 0.008).abs() < 1e-12,
        "the new lr keeps its place in the schedule"
    );
    assert_eq!(t.last_batch().len(), 200);
    assert!(t.retune(0.01, 201).is_err(), "an odd batch is refused");
    assert_eq!(t.config().batch, 200, "and changes nothing");
}

#[test]
fn looking_at_the_training_batch_does_not_change_training() {
    let (mut looked, mut plain) = (trainer(TrainConfig::new()), trainer(TrainConfig::new()));
    looked.train(10).unwrap();
    plain.train(10).unwrap();
    let batch = looked.last_batch().to_vec();
    assert_eq!(batch.len(), 1000);
    let first = looked.map_with_dropout(&batch).unwrap();
    let second = looked.map_with_dropout(&batch).unwrap();
    assert_eq!(first.len(), 1000);
    assert_ne!(first, second, "fresh dropout masks each time");
    assert_ne!(first, looked.eval(&batch).unwrap(), "dropout is on");
    assert_eq!(
        losses(&looked.train(10).unwrap()),
        losses(&plain.train(10).unwrap())
    );
}

#[test]
fn the_closed_preset_closes_within_1200_steps_and_stays_closed() {
    let grid = grid_points(100);
    let mut t = trainer(Preset::Closed.config());
    t.train(1200).unwrap();
    for _ in 0..10 {
        let mapped = t.eval(&grid).unwrap();
        let (sphere, sheet) = (sphere_metrics(&mapped), grid_metrics(100, &mapped));
        assert!(
            sphere.is_closed() && sheet.is_clean(),
            "at step {}: {sphere:?}, {sheet:?}",
            t.steps_done()
        );
        t.train(100).unwrap();
    }
}

#[test]
fn the_shown_network_is_the_running_average_of_the_trained_one() {
    let weight = 0.9;
    let mut t = trainer(Preset::Closed.config().with_average(weight));
    let mut average = parameters(&t.shown());
    assert_eq!(average, parameters(&t.network()));
    for k in 0..30 {
        t.train(1).unwrap();
        let keep = weight.min((1.0 + k as f64) / (10.0 + k as f64)) as f32;
        for (a, p) in average.iter_mut().zip(parameters(&t.network())) {
            *a = keep * *a + (1.0 - keep) * p;
        }
        let shown = parameters(&t.shown());
        let worst = (shown.iter().zip(&average))
            .map(|(s, a)| (s - a).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-6, "step {}: off by {worst}", k + 1);
    }
    assert_ne!(
        average,
        parameters(&t.network()),
        "the average lags the network"
    );
    let saved = t.checkpoint().model;
    assert_eq!(parameters(&saved), parameters(&t.shown()));

    let mut plain = trainer(Preset::Closed.config().with_average(0.0));
    plain.train(3).unwrap();
    assert_eq!(parameters(&plain.shown()), parameters(&plain.network()));
}

#[test]
fn bad_configs_are_refused() {
    for config in [
        TrainConfig::new().with_batch(999),
        TrainConfig::new().with_batch(0),
        TrainConfig::new().with_lr(-1.0),
        TrainConfig::new().with_passes(0),
        TrainConfig::new().with_temperature(0.0),
        TrainConfig::new().with_average(1.0),
        TrainConfig::new().with_average(-0.1),
    ] {
        assert!(Trainer::new(config, &TrainingDevice::Cpu).is_err());
    }
}

/// Parameters this free and steps this long overflow f32 in the forward pass within a few
/// steps.
pub(crate) fn diverging() -> TrainConfig {
    TrainConfig::new().with_clamp(1e30).with_lr(1e9)
}

#[test]
fn a_run_that_goes_non_finite_goes_back_and_carries_on() {
    let mut t = trainer(diverging());
    let stats = t.train(300).unwrap();

    assert!(stats.iter().enumerate().all(|(i, s)| s.step == i));
    assert!(
        stats.iter().all(|s| s.loss.is_finite()),
        "{:?}",
        losses(&stats)
    );
    let recoveries = t.recoveries();
    assert!(!recoveries.is_empty(), "the run never went non-finite");
    let mut lr = diverging().lr;
    for r in recoveries {
        assert!(r.back_to <= r.step, "{r}");
        assert!(r.lr < lr, "{r} after a learning rate of {lr}");
        lr = r.lr;
    }
    assert_eq!(t.config().lr, lr);
    assert!(parameters(&t.network()).iter().all(|p| p.is_finite()));
    let mapped = t.eval(&grid_points(20)).unwrap();
    assert!(mapped.iter().flatten().all(|c| c.is_finite()));
}

#[test]
fn a_network_whose_gradient_is_not_finite_stops_training_with_an_error() {
    // All zeros: every output is the zero vector, whose cosines are 0, so the loss is 0; the
    // gradient of its length, sqrt(0), is not finite.
    let config = TrainConfig::new();
    let zeros = trainer(config.clone()).network().map(&mut Fill(0.0));
    let checkpoint = Checkpoint {
        config,
        steps: 0,
        model: zeros,
    };
    let mut t = Trainer::resume(checkpoint, &TrainingDevice::Cpu).unwrap();
    let err = t.train(50).unwrap_err().to_string();
    assert!(err.contains("gradient"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(t.stuck().is_some());

    let steps = t.steps_done();
    assert!(
        t.train(10).is_err(),
        "a stopped trainer takes no more steps"
    );
    assert_eq!(t.steps_done(), steps);
    assert!(
        parameters(&t.network()).iter().all(|&p| p == 0.0),
        "back to the last finite network"
    );
}
