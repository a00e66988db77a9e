//! burn's op path: the network trained through burn's autodiff and optimiser on one backend
//! (the CPU's, or wgpu where the fused GPU step does not fit the network), with the crate's
//! fused uniformity loss and SiLU.

use burn::module::{AutodiffModule, Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{Adam, AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use rand::rngs::Xoshiro256PlusPlus;

use super::average::ParameterAverage;
use super::backend::HostBackend;
use super::config::TrainConfig;
use super::device_read::{DeviceRead, ready};
use super::engine::{AREA_STEP, Batch, LossRead, Network};
use super::fused::{FusedBackend, fused_silu, fused_uniformity_loss};
use super::model::{SphereNet, dropout_mask, step_masks};
use super::objective::{Objective, equal_area_loss, seed_loss, shape_loss};
use crate::Error;

/// The trainer's optimiser.
type SphereAdam<B> = OptimizerAdaptor<Adam, SphereNet<B>, B>;

/// Adam's moments, per parameter.
type AdamRecord<B> = <SphereAdam<B> as Optimizer<SphereNet<B>, B>>::Record;

/// A [`SphereNet`] with burn's Adam, on an autodiff backend.
pub(crate) struct OpNetwork<B: FusedBackend> {
    device: B::Device,
    model: SphereNet<B>,
    optimizer: SphereAdam<B>,
    /// The network shown, when [`TrainConfig::average`] is not 0.
    average: Option<ParameterAverage<B::InnerBackend>>,
    /// The losses of the chunk's steps so far, on the device.
    losses: Vec<Tensor<B::InnerBackend, 1>>,
}

/// The network and Adam's moments. Cheap to take: burn tensors are shared, not copied.
pub(crate) struct OpState<B: FusedBackend> {
    model: SphereNet<B>,
    optimizer: AdamRecord<B>,
}

impl<B: FusedBackend> Clone for OpState<B> {
    fn clone(&self) -> Self {
        Self {
            model: self.model.clone(),
            optimizer: self.optimizer.clone(),
        }
    }
}

impl<B: FusedBackend> Network for OpNetwork<B> {
    type Device = B::Device;
    type State = OpState<B>;

    fn new(
        config: &TrainConfig,
        model: SphereNet<HostBackend>,
        device: &B::Device,
    ) -> Result<Self, Error> {
        let model = model.to_backend(device);
        Ok(Self {
            device: device.clone(),
            average: start_average(config, &model),
            model,
            optimizer: adam(),
            losses: Vec::new(),
        })
    }

    fn state(&self) -> OpState<B> {
        OpState {
            model: self.model.clone(),
            optimizer: self.optimizer.to_record(),
        }
    }

    fn restore(&mut self, config: &TrainConfig, state: &OpState<B>, keep_moments: bool) {
        self.model = state.model.clone();
        self.optimizer = match keep_moments {
            true => self.optimizer.clone().load_record(state.optimizer.clone()),
            false => adam(),
        };
        // The average took in the steps that went wrong: it starts again from the good state.
        self.average = start_average(config, &self.model);
        self.losses.clear();
    }

    fn start_chunk(&mut self, steps: usize) {
        self.losses = Vec::with_capacity(steps);
    }

    fn step(&mut self, config: &TrainConfig, batch: &Batch, lr: f64) {
        let loss = self.loss(config, batch);
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let model = self.optimizer.step(lr, self.model.clone(), grads);
        self.model = model.map(&mut ClampParams {
            limit: config.clamp,
        });
        if let Some(average) = &mut self.average {
            average.update(&self.model.valid());
        }
        self.losses.push(loss.inner());
    }

    fn losses(&mut self) -> Option<LossRead> {
        let losses = std::mem::take(&mut self.losses);
        let read = Tensor::cat(losses, 0).into_data_async();
        Some(Box::pin(async move {
            let data = read.await.map_err(|e| format!("{e:?}"))?;
            data.into_vec::<f32>().map_err(|e| format!("{e:?}"))
        }))
    }

    fn gradient_is_finite(&mut self, config: &TrainConfig, batch: &Batch) -> bool {
        let grads = self.loss(config, batch).backward();
        let mut check = AllFinite {
            grads: &grads,
            finite: true,
        };
        self.model.visit(&mut check);
        check.finite
    }
}

impl<B: FusedBackend> OpNetwork<B> {
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

    /// Maps points of the plane through the [shown](OpNetwork::shown) network in evaluation
    /// mode (no dropout).
    pub(crate) fn eval(&self, points: &[[f32; 2]]) -> Vec<[f32; 3]> {
        eval(&self.shown(), points, &self.device)
    }

    /// [`OpNetwork::eval`] that leaves the `[n, 3]` result on the device. Points the network
    /// maps to no finite position come out at the origin.
    pub(crate) fn eval_on_device(&self, points: &[[f32; 2]]) -> Tensor<B::InnerBackend, 2> {
        let mapped = self
            .shown()
            .forward(points_tensor(points, &self.device), None);
        // The output is L2-normalised: a non-finite input gives NaN, never an infinity.
        mapped.clone().mask_fill(mapped.is_nan(), 0.0)
    }

    /// Maps points through the network in training mode, with dropout masks from `rng`: a read
    /// that is done at once, in the fused step's form.
    pub(crate) fn map_with_dropout(
        &self,
        config: &TrainConfig,
        points: &[[f32; 2]],
        rng: &mut Xoshiro256PlusPlus,
    ) -> DeviceRead<Vec<[f32; 3]>> {
        let model = self.model.valid();
        let masks: Vec<_> = (config.model.hidden.iter())
            .zip(&config.model.dropout)
            .filter(|(_, p)| **p > 0.0)
            .map(|(&width, &p)| dropout_mask(rng, [points.len(), width], p, &self.device))
            .collect();
        ready(forward_points(&model, points, Some(&masks), &self.device))
    }

    /// The loss of `batch`, with its autodiff graph. The batch and the points of the local
    /// terms (moved along u, then v) go through the network as one tensor.
    fn loss(&self, config: &TrainConfig, batch: &Batch) -> Tensor<B, 1> {
        let (rows, passes, pass) = (batch.rows(), config.passes, config.batch);
        let moved = batch.moved.as_deref().unwrap_or_default();
        let points: Vec<f32> = batch.points.iter().chain(moved).copied().collect();
        let total = points.len() / 2;
        let x = Tensor::from_data(TensorData::new(points, [total, 2]), &self.device);
        // The local terms need a network without dropout: masks cover the batch's rows alone.
        let masks = step_masks(&config.model, config.seed, batch.step, rows, &self.device);
        let all = self.model.forward_with(x, Some(&masks), fused_silu);
        let outputs = all.clone().narrow(0, 0, rows);
        let loss = match config.objective {
            Objective::Seed => {
                let halves = outputs.reshape([passes, 2, pass / 2, 3]);
                let a = halves.clone().narrow(1, 0, 1).reshape([rows / 2, 3]);
                let b = halves.narrow(1, 1, 1).reshape([rows / 2, 3]);
                seed_loss(a, b, passes)
            }
            Objective::Uniformity => fused_uniformity_loss(outputs, passes, config.temperature),
        };
        match batch.area_points() {
            0 => loss,
            m => loss + local_terms(config, all, rows, m),
        }
    }
}

/// The weighted [`equal_area_loss`] and [`shape_loss`] of `all`: the batch's `rows` outputs,
/// then those of its first `m` points moved along u, then along v.
fn local_terms<B: Backend>(
    config: &TrainConfig,
    all: Tensor<B, 2>,
    rows: usize,
    m: usize,
) -> Tensor<B, 1> {
    let at = all.clone().narrow(0, 0, m);
    let along_u = all.clone().narrow(0, rows, m);
    let along_v = all.narrow(0, rows + m, m);
    let area = equal_area_loss(at.clone(), along_u.clone(), along_v.clone(), AREA_STEP);
    let mut terms = area * config.area_weight;
    if config.shape_weight > 0.0 {
        terms = terms + shape_loss(at, along_u, along_v) * config.shape_weight;
    }
    terms
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
