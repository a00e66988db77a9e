//! One backend's training loop: the optimiser step, going back after a non-finite one, and
//! evaluation. The public trainer runs it on the backend its device asks for. The training
//! loop is generic over burn's backends only here, so that it is compiled once, in this crate,
//! and not again in every program that trains.

use burn::module::{AutodiffModule, Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::lr_scheduler::LrScheduler;
use burn::optim::lr_scheduler::step::{StepLrScheduler, StepLrSchedulerConfig};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use std::pin::Pin;

use burn::prelude::*;
use burn::tensor::backend::{AutodiffBackend, ExecutionError};
use futures_lite::future::{block_on, poll_once};
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use super::average::ParameterAverage;
use super::config::TrainConfig;
use super::fused::{FusedBackend, fused_silu, fused_uniformity_loss};
use super::model::{SphereNet, dropout_mask};
use super::objective::{Objective, equal_area_loss, seed_loss};
use super::recovery::{RECOVERY_LR_FACTOR, Recovery, Snapshot, Snapshots, SphereAdam};
use crate::Error;

/// What one training step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// Index of the step, from 0.
    pub step: usize,
    /// The step's loss, summed over passes.
    pub loss: f32,
    /// The learning rate the step used.
    pub lr: f64,
}

/// The read of a chunk's losses from the device.
type LossRead = Pin<Box<dyn Future<Output = Result<TensorData, ExecutionError>> + Send>>;

/// Steps taken whose losses are on their way back from the device; the trainer's `collect`
/// takes them in.
pub struct PendingSteps {
    /// How often the trainer had gone back to an earlier state when the steps were taken:
    /// going back again undoes them.
    went_back: usize,
    stats: Vec<StepStats>,
    read: Option<LossRead>,
    /// The read, if it finished when it was queued (always, on the CPU).
    done: Option<Result<TensorData, ExecutionError>>,
}

impl PendingSteps {
    fn new(
        went_back: usize,
        stats: Vec<StepStats>,
        read: Option<impl Future<Output = Result<TensorData, ExecutionError>> + Send + 'static>,
    ) -> Self {
        let mut read = read.map(|r| Box::pin(r) as LossRead);
        // The first poll queues the read on the device; it completes at once on the CPU.
        let done = read.as_mut().and_then(|r| block_on(poll_once(r)));
        Self {
            went_back,
            stats,
            read,
            done,
        }
    }

    /// Steps taken.
    pub fn len(&self) -> usize {
        self.stats.len()
    }

    /// Whether no step was taken.
    pub fn is_empty(&self) -> bool {
        self.stats.is_empty()
    }

    /// Waits for the losses and returns what each step did.
    fn wait(self) -> Vec<StepStats> {
        let Self {
            mut stats,
            read,
            done,
            ..
        } = self;
        let data = match (done, read) {
            (Some(data), _) => data,
            (None, Some(read)) => block_on(read),
            (None, None) => return stats,
        };
        let values = (data.expect("reading the losses from the device failed"))
            .into_vec::<f32>()
            .expect("the loss is f32");
        for (s, loss) in stats.iter_mut().zip(values) {
            s.loss = loss;
        }
        stats
    }
}

/// Points of each step at which the equal-area term is measured.
const AREA_POINTS: usize = 250;

/// The finite-difference step of the equal-area term: about the 100×100 grid's spacing.
const AREA_STEP: f64 = 0.01;

/// Trains a [`SphereNet`] on one burn autodiff backend.
pub(crate) struct Engine<B: FusedBackend> {
    config: TrainConfig,
    device: B::Device,
    model: SphereNet<B>,
    optimizer: SphereAdam<B>,
    scheduler: StepLrScheduler,
    rng: Xoshiro256PlusPlus,
    steps_done: usize,
    /// The points of the latest step.
    last_batch: Vec<[f32; 2]>,
    /// Dropout masks for [`Engine::map_with_dropout`], apart from the training stream.
    view_rng: Xoshiro256PlusPlus,
    /// The network shown, when [`TrainConfig::average`] is not 0.
    average: Option<ParameterAverage<B::InnerBackend>>,
    /// States to go back to when the run goes non-finite.
    snapshots: Snapshots<B>,
    recoveries: Vec<Recovery>,
    /// How often the network went back to an earlier state.
    went_back: usize,
    /// Why training stopped for good, once it has.
    stuck: Option<String>,
}

impl<B: FusedBackend> Engine<B> {
    /// A fresh network, initialised from `config.seed`.
    pub(crate) fn new(config: TrainConfig, device: &B::Device) -> Result<Self, Error> {
        config.validate()?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
        let model = config.model.init(&mut rng, device);
        Ok(Self::with_model(config, model, rng, 0, device))
    }

    /// Goes on training a saved network, trained for `steps` steps, from where it stopped: its
    /// steps and learning-rate schedule carry on, the optimiser's moments start afresh.
    pub(crate) fn resume(
        config: TrainConfig,
        steps: usize,
        model: SphereNet<B>,
        device: &B::Device,
    ) -> Result<Self, Error> {
        config.validate()?;
        let rng = Xoshiro256PlusPlus::seed_from_u64(config.seed ^ steps as u64);
        Ok(Self::with_model(config, model, rng, steps, device))
    }

    fn with_model(
        config: TrainConfig,
        model: SphereNet<B>,
        rng: Xoshiro256PlusPlus,
        steps_done: usize,
        device: &B::Device,
    ) -> Self {
        let optimizer = adam();
        Self {
            average: start_average(&config, &model),
            scheduler: scheduler_at(&config, steps_done),
            view_rng: Xoshiro256PlusPlus::seed_from_u64(!config.seed),
            snapshots: Snapshots::new(Snapshot::take(steps_done, &model, &optimizer, &rng)),
            recoveries: Vec::new(),
            went_back: 0,
            stuck: None,
            config,
            device: device.clone(),
            model,
            optimizer,
            rng,
            steps_done,
            last_batch: Vec::new(),
        }
    }

    /// Changes the learning rate and the batch size from the next step on; the schedule keeps
    /// its place (the new rate decays as if it had been the initial one).
    pub(crate) fn retune(&mut self, lr: f64, batch: usize) -> Result<(), Error> {
        let config = self.config.clone().with_lr(lr).with_batch(batch);
        config.validate()?;
        self.scheduler = scheduler_at(&config, self.steps_done);
        self.config = config;
        Ok(())
    }

    /// The run's hyper-parameters.
    pub(crate) fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The network being trained, as the last step left it.
    pub(crate) fn model(&self) -> &SphereNet<B> {
        &self.model
    }

    /// The network that evaluation shows: the running average of the parameters when
    /// [`TrainConfig::average`] is not 0, else the network being trained.
    pub(crate) fn shown(&self) -> SphereNet<B::InnerBackend> {
        match &self.average {
            Some(average) => average.network().clone(),
            None => self.model.valid(),
        }
    }

    /// Steps taken so far.
    pub(crate) fn steps_done(&self) -> usize {
        self.steps_done
    }

    /// Runs `steps` optimiser steps without waiting for their losses: the read of all of them
    /// is queued on the device behind the steps, and [`Engine::collect`] takes it in. On a
    /// GPU, the next steps can be submitted meanwhile, so the device never idles for a read.
    pub(crate) fn train_deferred(&mut self, steps: usize) -> PendingSteps {
        let steps = if self.stuck.is_some() { 0 } else { steps };
        if steps > 0 {
            let state = Snapshot::take(self.steps_done, &self.model, &self.optimizer, &self.rng);
            self.snapshots.push(state);
        }
        let mut losses = Vec::with_capacity(steps);
        let mut stats = Vec::with_capacity(steps);
        for _ in 0..steps {
            let (loss, lr) = self.step();
            losses.push(loss);
            stats.push(StepStats {
                step: self.steps_done - 1,
                loss: 0.0,
                lr,
            });
        }
        let read = (!losses.is_empty()).then(|| Tensor::cat(losses, 0).into_data_async());
        PendingSteps::new(self.went_back, stats, read)
    }

    /// Waits for the losses of steps taken by [`Engine::train_deferred`] and returns what
    /// each did.
    ///
    /// When a loss is not finite, the network, Adam's moments and the random stream go back to
    /// the newest state whose loss was finite, the learning rate is halved, training goes on
    /// from the step that failed (recorded in [`Engine::recoveries`]), and only the steps
    /// before it are returned. Steps taken after the failed one, still pending, are then
    /// returned as nothing: they were undone.
    pub(crate) fn collect(&mut self, pending: PendingSteps) -> Vec<StepStats> {
        if pending.went_back != self.went_back {
            return Vec::new();
        }
        let mut stats = pending.wait();
        let Some(first) = stats.first().map(|s| s.step) else {
            return stats;
        };
        let losses: Vec<f32> = stats.iter().map(|s| s.loss).collect();
        if let Some(bad) = self.snapshots.check(first, &losses) {
            self.recover(bad);
            stats.truncate(bad - first);
        }
        stats
    }

    /// Goes back to the newest good state after step `bad`'s loss came back non-finite, or to
    /// the one before it when no step from the newest can be finite; stops training for good
    /// when neither can train.
    fn recover(&mut self, bad: usize) {
        let (mut state, mut keep_moments) = self.snapshots.go_back();
        self.went_back += 1;
        self.steps_done = bad;
        loop {
            self.restore(&state, keep_moments);
            // Steps from a network whose loss is finite and whose gradient is not go
            // non-finite whatever the learning rate, and the batch they draw is the same.
            if self.gradient_is_finite() {
                break;
            }
            match self.snapshots.fall_back() {
                Some(older) => (state, keep_moments) = (older, false),
                None => {
                    self.stuck = Some(format!(
                        "step {bad}: the loss of the network of step {} is finite but its \
                         gradient is not, so every step from it goes non-finite; reset or load \
                         a checkpoint",
                        state.step
                    ));
                    return;
                }
            }
        }
        self.config.lr *= RECOVERY_LR_FACTOR;
        self.scheduler = scheduler_at(&self.config, bad);
        self.recoveries.push(Recovery {
            step: bad,
            back_to: state.step,
            lr: self.config.lr,
        });
    }

    /// Puts back the network, the random stream and, if `keep_moments`, Adam's moments of
    /// `state`; the average starts again from it.
    fn restore(&mut self, state: &Snapshot<B>, keep_moments: bool) {
        self.model = state.model.clone();
        self.optimizer = match keep_moments {
            true => self.optimizer.clone().load_record(state.optimizer.clone()),
            false => adam(),
        };
        self.rng = state.rng.clone();
        // The average took in the steps that went wrong: it starts again from the good state.
        self.average = start_average(&self.config, &self.model);
    }

    /// Every time the run went non-finite and came back, oldest first.
    pub(crate) fn recoveries(&self) -> &[Recovery] {
        &self.recoveries
    }

    /// Why training stopped for good, if it did: steps asked for from then on are not taken.
    pub(crate) fn stuck(&self) -> Option<&str> {
        self.stuck.as_deref()
    }

    /// One optimiser step; returns its loss (still on the device) and learning rate.
    fn step(&mut self) -> (Tensor<B::InnerBackend, 1>, f64) {
        let loss = self.loss();
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let lr = self.scheduler.step();
        let model = self.optimizer.step(lr, self.model.clone(), grads);
        self.model = model.map(&mut ClampParams {
            limit: self.config.clamp,
        });
        if let Some(average) = &mut self.average {
            average.update(&self.model.valid());
        }
        self.steps_done += 1;
        (loss.inner(), lr)
    }

    /// Whether the gradient of the next step's loss is finite everywhere; reads it back.
    fn gradient_is_finite(&mut self) -> bool {
        let (rng, batch) = (self.rng.clone(), self.last_batch.clone());
        let grads = self.loss().backward();
        (self.rng, self.last_batch) = (rng, batch);
        let mut check = AllFinite {
            grads: &grads,
            finite: true,
        };
        self.model.visit(&mut check);
        check.finite
    }

    /// The loss of a fresh batch drawn from the training stream, with its autodiff graph.
    fn loss(&mut self) -> Tensor<B, 1> {
        let TrainConfig { batch, passes, .. } = self.config;
        let rows = batch * passes;
        let rng = &mut self.rng;

        // Each pass shuffles the batch into halves a and b. The network maps rows independently,
        // so shuffling its inputs is shuffling its outputs: rows [0, half) of a pass are a and
        // rows [half, batch) are b, and the loss needs slices instead of gathers.
        self.last_batch = (0..batch)
            .map(|_| rng.random::<[f32; 2]>().map(|c| c - 0.5))
            .collect();
        let mut order: Vec<usize> = (0..batch).collect();
        let mut points = Vec::with_capacity(rows * 2);
        for _ in 0..passes {
            order.shuffle(rng);
            points.extend(order.iter().flat_map(|&i| self.last_batch[i]));
        }
        let area_term = self.config.area_weight > 0.0 && self.steps_done >= self.config.area_from;
        let area_points = match area_term {
            true => points[..2 * AREA_POINTS.min(rows)].to_vec(),
            false => Vec::new(),
        };
        let x = Tensor::from_data(TensorData::new(points, [rows, 2]), &self.device);
        let masks: Vec<Tensor<B, 2>> = (self.config.model.hidden.iter())
            .zip(&self.config.model.dropout)
            .filter(|(_, p)| **p > 0.0)
            .map(|(&width, &p)| dropout_mask(rng, [rows, width], p, &self.device))
            .collect();

        let outputs = self.model.forward_with(x, Some(&masks), fused_silu);
        let area = area_term.then(|| self.equal_area_term(&area_points, &outputs));
        let loss = match self.config.objective {
            Objective::Seed => {
                let halves = outputs.reshape([passes, 2, batch / 2, 3]);
                let a = halves.clone().narrow(1, 0, 1).reshape([rows / 2, 3]);
                let b = halves.narrow(1, 1, 1).reshape([rows / 2, 3]);
                seed_loss(a, b, passes)
            }
            Objective::Uniformity => {
                fused_uniformity_loss(outputs, passes, self.config.temperature)
            }
        };

        match area {
            Some(area) => loss + area * self.config.area_weight,
            None => loss,
        }
    }

    /// [`equal_area_loss`] at the first of this step's points (`points`, flat), whose images are
    /// the first rows of `outputs`.
    fn equal_area_term(&self, points: &[f32], outputs: &Tensor<B, 2>) -> Tensor<B, 1> {
        let m = points.len() / 2;
        let mut moved = Vec::with_capacity(4 * m);
        for axis in [0, 1] {
            for p in points.chunks_exact(2) {
                let mut p = [p[0], p[1]];
                p[axis] += AREA_STEP as f32;
                moved.extend(p);
            }
        }
        let x = Tensor::from_data(TensorData::new(moved, [2 * m, 2]), &self.device);
        let moved = self.model.forward_with(x, None, fused_silu);
        equal_area_loss(
            outputs.clone().narrow(0, 0, m),
            moved.clone().narrow(0, 0, m),
            moved.narrow(0, m, m),
            AREA_STEP,
        )
    }

    /// Maps points of the plane through the [shown](Engine::shown) network in evaluation mode
    /// (no dropout).
    pub(crate) fn eval(&self, points: &[[f32; 2]]) -> Vec<[f32; 3]> {
        eval(&self.shown(), points, &self.device)
    }

    /// [`Engine::eval`] that leaves the `[n, 3]` result on the device. Points the network
    /// maps to no finite position (it went non-finite, and [`Engine::collect`] has not seen
    /// it yet) come out at the origin.
    pub(crate) fn eval_on_device(&self, points: &[[f32; 2]]) -> Tensor<B::InnerBackend, 2> {
        let mapped = self
            .shown()
            .forward(points_tensor(points, &self.device), None);
        // The output is L2-normalised: a non-finite input gives NaN, never an infinity.
        mapped.clone().mask_fill(mapped.is_nan(), 0.0)
    }

    /// The points the latest step trained on (empty before the first step).
    pub(crate) fn last_batch(&self) -> &[[f32; 2]] {
        &self.last_batch
    }

    /// Maps points through the network in training mode, with fresh dropout masks: the
    /// notebook's "random points" picture when given [`Engine::last_batch`]. The masks come
    /// from their own stream, so looking does not change training.
    pub(crate) fn map_with_dropout(&mut self, points: &[[f32; 2]]) -> Vec<[f32; 3]> {
        let model = self.model.valid();
        let masks: Vec<Tensor<B::InnerBackend, 2>> = (self.config.model.hidden.iter())
            .zip(&self.config.model.dropout)
            .filter(|(_, p)| **p > 0.0)
            .map(|(&width, &p)| {
                dropout_mask(&mut self.view_rng, [points.len(), width], p, &self.device)
            })
            .collect();
        forward_points(&model, points, Some(&masks), &self.device)
    }
}

/// The running average of `model`'s parameters that `config` asks for, starting at `model`.
fn start_average<B: AutodiffBackend>(
    config: &TrainConfig,
    model: &SphereNet<B>,
) -> Option<ParameterAverage<B::InnerBackend>> {
    (config.average > 0.0).then(|| ParameterAverage::new(model.valid(), config.average))
}

/// The notebook's Adam.
fn adam<B: AutodiffBackend>() -> SphereAdam<B> {
    AdamConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.999)
        .with_epsilon(1e-8)
        .init()
}

/// The learning-rate schedule of `config` after `steps` steps.
fn scheduler_at(config: &TrainConfig, steps: usize) -> StepLrScheduler {
    let mut scheduler = StepLrSchedulerConfig::new(config.lr, config.lr_step)
        .with_gamma(config.lr_gamma)
        .init()
        .expect("lr_step was validated");
    for _ in 0..steps {
        LrScheduler::step(&mut scheduler);
    }
    scheduler
}

/// Maps points of the plane through `model` in evaluation mode (no dropout).
pub fn eval<B: Backend>(
    model: &SphereNet<B>,
    points: &[[f32; 2]],
    device: &B::Device,
) -> Vec<[f32; 3]> {
    forward_points(model, points, None, device)
}

fn forward_points<B: Backend>(
    model: &SphereNet<B>,
    points: &[[f32; 2]],
    masks: Option<&[Tensor<B, 2>]>,
    device: &B::Device,
) -> Vec<[f32; 3]> {
    if points.is_empty() {
        return Vec::new();
    }
    let out = model
        .forward(points_tensor(points, device), masks)
        .into_data()
        .into_vec::<f32>()
        .expect("the output is f32");
    out.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect()
}

/// Points of the plane as an `[n, 2]` tensor.
fn points_tensor<B: Backend>(points: &[[f32; 2]], device: &B::Device) -> Tensor<B, 2> {
    let flat: Vec<f32> = points.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(flat, [points.len(), 2]), device)
}

/// Clamps every parameter in place of the optimiser's output, keeping it a tracked leaf so
/// that the next step's gradients reach it.
struct ClampParams {
    limit: f32,
}

impl<B: AutodiffBackend> ModuleMapper<B> for ClampParams {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let clamped = tensor.inner().clamp(-self.limit, self.limit);
        Param::from_mapped_value(id, Tensor::from_inner(clamped).require_grad(), mapper)
    }
}

/// Looks whether every parameter's gradient is finite.
struct AllFinite<'a, B: AutodiffBackend> {
    grads: &'a B::Gradients,
    finite: bool,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for AllFinite<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(grad) = param.val().grad(self.grads) {
            self.finite &= grad.into_data().iter::<f32>().all(f32::is_finite);
        }
    }
}
