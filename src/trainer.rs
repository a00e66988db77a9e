//! The training loop: hyper-parameters, one optimiser step, evaluation.

use burn::module::{AutodiffModule, ModuleMapper, Param};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::lr_scheduler::LrScheduler;
use burn::optim::lr_scheduler::step::{StepLrScheduler, StepLrSchedulerConfig};
use burn::optim::{Adam, AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use crate::Error;
use crate::model::{SphereNet, SphereNetConfig, dropout_mask};
use crate::objective::seed_loss;

/// Hyper-parameters of a training run. The defaults are the notebook's.
#[derive(Config, Debug, PartialEq)]
pub struct TrainConfig {
    /// The network's architecture.
    #[config(default = "SphereNetConfig::new()")]
    pub model: SphereNetConfig,
    /// Fresh uniform points drawn from [-0.5, 0.5)² each step.
    #[config(default = 1000)]
    pub batch: usize,
    /// Dropout passes over the batch each step; each adds its own loss term.
    #[config(default = 2)]
    pub passes: usize,
    /// Adam's initial learning rate.
    #[config(default = 0.05)]
    pub lr: f64,
    /// Steps between learning-rate decays.
    #[config(default = 1000)]
    pub lr_step: usize,
    /// Factor applied to the learning rate every `lr_step` steps.
    #[config(default = 0.8)]
    pub lr_gamma: f64,
    /// Every parameter is clamped to [-clamp, clamp] after each step.
    #[config(default = 2.0)]
    pub clamp: f32,
    /// Seeds the initialisation, the points, the permutations and dropout.
    #[config(default = 0)]
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl TrainConfig {
    /// Checks that the run can start.
    pub fn validate(&self) -> Result<(), Error> {
        self.model.validate().map_err(Error::Config)?;
        if self.batch < 2 || self.batch % 2 != 0 {
            return Err(Error::Config(format!(
                "batch {} must be even and at least 2 (it is split into two halves)",
                self.batch
            )));
        }
        if self.passes == 0 {
            return Err(Error::Config("passes must be at least 1".into()));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::Config(format!(
                "learning rate {} is not positive",
                self.lr
            )));
        }
        if self.lr_step == 0 {
            return Err(Error::Config("lr_step must be at least 1".into()));
        }
        if !(self.clamp.is_finite() && self.clamp > 0.0) {
            return Err(Error::Config(format!(
                "clamp {} is not positive",
                self.clamp
            )));
        }
        Ok(())
    }
}

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

/// Trains a [`SphereNet`] with the notebook's objective on any burn autodiff backend.
pub struct Trainer<B: AutodiffBackend> {
    config: TrainConfig,
    device: B::Device,
    model: SphereNet<B>,
    optimizer: OptimizerAdaptor<Adam, SphereNet<B>, B>,
    scheduler: StepLrScheduler,
    rng: Xoshiro256PlusPlus,
    steps_done: usize,
}

impl<B: AutodiffBackend> Trainer<B> {
    /// A fresh network, initialised from `config.seed`.
    pub fn new(config: TrainConfig, device: &B::Device) -> Result<Self, Error> {
        config.validate()?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
        let model = config.model.init(&mut rng, device);
        Ok(Self::with_model(config, model, rng, device))
    }

    fn with_model(
        config: TrainConfig,
        model: SphereNet<B>,
        rng: Xoshiro256PlusPlus,
        device: &B::Device,
    ) -> Self {
        let optimizer = AdamConfig::new()
            .with_beta_1(0.9)
            .with_beta_2(0.999)
            .with_epsilon(1e-8)
            .init();
        let scheduler = StepLrSchedulerConfig::new(config.lr, config.lr_step)
            .with_gamma(config.lr_gamma)
            .init()
            .expect("lr_step was validated");
        Self {
            config,
            device: device.clone(),
            model,
            optimizer,
            scheduler,
            rng,
            steps_done: 0,
        }
    }

    /// The run's hyper-parameters.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The network being trained.
    pub fn model(&self) -> &SphereNet<B> {
        &self.model
    }

    /// The device the network lives on.
    pub fn device(&self) -> &B::Device {
        &self.device
    }

    /// Steps taken so far.
    pub fn steps_done(&self) -> usize {
        self.steps_done
    }

    /// Runs `steps` optimiser steps and returns what each did.
    ///
    /// The losses stay on the device until the last step, then come back in one read.
    pub fn train(&mut self, steps: usize) -> Vec<StepStats> {
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
        if steps > 0 {
            let values = Tensor::cat(losses, 0).into_data().into_vec::<f32>();
            for (s, loss) in stats.iter_mut().zip(values.expect("the loss is f32")) {
                s.loss = loss;
            }
        }
        stats
    }

    /// One optimiser step; returns its loss (still on the device) and learning rate.
    fn step(&mut self) -> (Tensor<B::InnerBackend, 1>, f64) {
        let TrainConfig {
            batch,
            passes,
            clamp,
            ..
        } = self.config;
        let rows = batch * passes;
        let rng = &mut self.rng;

        // Each pass shuffles the batch into halves a and b. The network maps rows independently,
        // so shuffling its inputs is shuffling its outputs: rows [0, half) of a pass are a and
        // rows [half, batch) are b, and the loss needs slices instead of gathers.
        let batch_points: Vec<[f32; 2]> = (0..batch)
            .map(|_| rng.random::<[f32; 2]>().map(|c| c - 0.5))
            .collect();
        let mut order: Vec<usize> = (0..batch).collect();
        let mut points = Vec::with_capacity(rows * 2);
        for _ in 0..passes {
            order.shuffle(rng);
            points.extend(order.iter().flat_map(|&i| batch_points[i]));
        }
        let x = Tensor::from_data(TensorData::new(points, [rows, 2]), &self.device);
        let masks: Vec<Tensor<B, 2>> = (self.config.model.hidden.iter())
            .zip(&self.config.model.dropout)
            .filter(|(_, p)| **p > 0.0)
            .map(|(&width, &p)| dropout_mask(rng, [rows, width], p, &self.device))
            .collect();

        let halves = self
            .model
            .forward(x, Some(&masks))
            .reshape([passes, 2, batch / 2, 3]);
        let a = halves.clone().narrow(1, 0, 1).reshape([rows / 2, 3]);
        let b = halves.narrow(1, 1, 1).reshape([rows / 2, 3]);
        let loss = seed_loss(a, b, passes);

        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let lr = self.scheduler.step();
        let model = self.optimizer.step(lr, self.model.clone(), grads);
        self.model = model.map(&mut ClampParams { limit: clamp });
        self.steps_done += 1;
        (loss.inner(), lr)
    }

    /// Maps points of the plane through the network in evaluation mode (no dropout).
    pub fn eval(&self, points: &[[f32; 2]]) -> Vec<[f32; 3]> {
        eval(&self.model.valid(), points, &self.device)
    }
}

/// Maps points of the plane through `model` in evaluation mode (no dropout).
pub fn eval<B: Backend>(
    model: &SphereNet<B>,
    points: &[[f32; 2]],
    device: &B::Device,
) -> Vec<[f32; 3]> {
    if points.is_empty() {
        return Vec::new();
    }
    let flat: Vec<f32> = points.iter().flatten().copied().collect();
    let x = Tensor::from_data(TensorData::new(flat, [points.len(), 2]), device);
    let out = model
        .forward(x, None)
        .into_data()
        .into_vec::<f32>()
        .expect("the output is f32");
    out.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect()
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
