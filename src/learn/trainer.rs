//! The trainer: a network, its optimiser and its schedule on the device it trains on, whichever
//! backend that is. Its API names no burn backend, so programs that train link the training loop
//! this crate compiled instead of compiling burn's generic code again.

use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};

use burn::module::AutodiffModule;
use futures_lite::future::block_on;

use super::backend::{BackendKind, CpuBackend, GpuBackend, HostBackend, TrainingDevice};
use super::checkpoint::Checkpoint;
use super::config::TrainConfig;
use super::device_read::{DeviceRead, ready};
use super::engine::{Engine, Network, PendingSteps, StepStats};
use super::gpu_copy::{GpuTarget, copy_to_buffer};
use super::gpu_step::FusedNetwork;
use super::model::SphereNet;
use super::ops::OpNetwork;
use super::recovery::Recovery;
use crate::Error;

/// Trains a [`SphereNet`] on the CPU or on a wgpu device.
///
/// ```
/// use bevy_neural_sphere::Preset;
/// use bevy_neural_sphere::learn::{Trainer, TrainingDevice, grid_points};
///
/// let mut trainer = Trainer::new(Preset::Seed.config(), &TrainingDevice::Cpu)?;
/// let stats = trainer.train(10)?;
/// assert_eq!(stats.len(), 10);
/// let on_sphere = trainer.eval(&grid_points(10))?;
/// assert_eq!(on_sphere.len(), 100);
/// # Ok::<(), bevy_neural_sphere::Error>(())
/// ```
pub struct Trainer {
    /// Dropped by `Trainer`'s own `Drop`, compiled in this crate: were it dropped field by field,
    /// every program that drops a `Trainer` would compile the drop code of each backend's
    /// engine, and with it much of burn's and cubecl's generic GPU code (90 s of each
    /// example's build).
    engine: ManuallyDrop<Engines>,
    /// Why a wgpu device trains through burn's ops instead of the fused step, if it does.
    op_path: Option<String>,
}

impl Drop for Trainer {
    fn drop(&mut self) {
        // SAFETY: the engine is dropped here once, and `self` is not used again.
        unsafe { ManuallyDrop::drop(&mut self.engine) }
    }
}

/// The training loop on whichever backend trains.
enum Engines {
    Cpu(Engine<OpNetwork<CpuBackend>>),
    /// burn's op path on wgpu: for networks the fused step does not fit, and for comparison.
    Gpu(Engine<OpNetwork<GpuBackend>>),
    Fused(Engine<FusedNetwork>),
}

/// How a wgpu device trains a run.
enum GpuPath {
    /// The fused step where it fits the network.
    Fastest,
    /// burn's ops, whatever the network.
    Ops,
}

/// Runs `$body` with `$e` bound to the engine, whatever its backend.
macro_rules! with_engine {
    ($engines:expr, $e:ident => $body:expr) => {
        match $engines {
            Engines::Cpu($e) => $body,
            Engines::Gpu($e) => $body,
            Engines::Fused($e) => $body,
        }
    };
}

impl Trainer {
    /// A fresh network on `device`, initialised from `config.seed`. On a wgpu device the
    /// fused step trains it when it fits the network ([`Trainer::op_path`] says why not).
    pub fn new(config: TrainConfig, device: &TrainingDevice) -> Result<Self, Error> {
        Self::start(config, None, device, GpuPath::Fastest)
    }

    /// [`Trainer::new`] that trains through burn's autodiff and optimiser on a wgpu device
    /// even where the fused step fits: the path to compare the fused step with.
    pub fn with_burn_ops(config: TrainConfig, device: &TrainingDevice) -> Result<Self, Error> {
        Self::start(config, None, device, GpuPath::Ops)
    }

    /// Goes on training a saved network on `device` from where it stopped: its steps and
    /// learning-rate schedule carry on, the optimiser's moments start afresh.
    pub fn resume(checkpoint: Checkpoint, device: &TrainingDevice) -> Result<Self, Error> {
        let Checkpoint {
            config,
            steps,
            model,
        } = checkpoint;
        Self::start(config, Some((steps, model)), device, GpuPath::Fastest)
    }

    fn start(
        config: TrainConfig,
        resume: Option<(usize, SphereNet<HostBackend>)>,
        device: &TrainingDevice,
        path: GpuPath,
    ) -> Result<Self, Error> {
        fn engine<N: Network>(
            config: TrainConfig,
            resume: Option<(usize, SphereNet<HostBackend>)>,
            device: &N::Device,
        ) -> Result<Engine<N>, Error> {
            match resume {
                None => Engine::new(config, device),
                Some((steps, model)) => Engine::resume(config, steps, model, device),
            }
        }
        let op_path = match (device, path) {
            (TrainingDevice::Cpu, _) => None,
            (TrainingDevice::Wgpu(_), GpuPath::Ops) => Some("burn's op path was asked for".into()),
            (TrainingDevice::Wgpu(_), GpuPath::Fastest) => FusedNetwork::unfit(&config),
        };
        if cfg!(target_arch = "wasm32")
            && let Some(why) = &op_path
        {
            // burn's op path reads the GPU back by blocking, which a page cannot do.
            return Err(Error::Gpu(format!(
                "in a browser only the fused step trains on the GPU, and {why}; ?backend=cpu \
                 trains on the CPU"
            )));
        }
        let engine = match (device, &op_path) {
            (TrainingDevice::Cpu, _) => Engines::Cpu(engine(config, resume, &Default::default())?),
            (TrainingDevice::Wgpu(device), Some(_)) => {
                Engines::Gpu(engine::<OpNetwork<GpuBackend>>(config, resume, device)?)
            }
            (TrainingDevice::Wgpu(device), None) => {
                Engines::Fused(engine::<FusedNetwork>(config, resume, device)?)
            }
        };
        Ok(Self {
            engine: ManuallyDrop::new(engine),
            op_path,
        })
    }

    /// [`Trainer::resume`] from a checkpoint file.
    pub fn load(path: &Path, device: &TrainingDevice) -> Result<Self, Error> {
        Self::resume(Checkpoint::load(path)?, device)
    }

    /// The backend that trains: [`BackendKind::Cpu`] or [`BackendKind::Wgpu`].
    pub fn backend(&self) -> BackendKind {
        match *self.engine {
            Engines::Cpu(_) => BackendKind::Cpu,
            Engines::Gpu(_) | Engines::Fused(_) => BackendKind::Wgpu,
        }
    }

    /// How a step is computed, in one line: the fused GPU step, or burn's autodiff and
    /// optimiser (on wgpu, with why).
    pub fn training_path(&self) -> String {
        match (&*self.engine, &self.op_path) {
            (Engines::Cpu(_), _) => "steps: burn's autodiff and Adam on the CPU (flex)".into(),
            (Engines::Fused(_), _) => "steps: the fused GPU step, 4 kernels a step".into(),
            (Engines::Gpu(_), why) => format!(
                "steps: burn's autodiff and Adam on wgpu, a kernel an operation ({})",
                why.as_deref().unwrap_or("asked for")
            ),
        }
    }

    /// Kernels the fused step has queued so far, counted as they are launched (snapshots and
    /// evaluations included); `None` on burn's op paths.
    pub fn fused_launches(&self) -> Option<usize> {
        match &*self.engine {
            Engines::Fused(e) => Some(e.network().launches()),
            _ => None,
        }
    }

    /// Why a wgpu device trains this run through burn's autodiff and optimiser, one kernel an
    /// operation, instead of the fused step: `None` when the fused step trains it, or on the
    /// CPU.
    pub fn op_path(&self) -> Option<&str> {
        self.op_path.as_deref()
    }

    /// The run's hyper-parameters.
    pub fn config(&self) -> &TrainConfig {
        with_engine!(&*self.engine, e => e.config())
    }

    /// Steps taken so far.
    pub fn steps_done(&self) -> usize {
        with_engine!(&*self.engine, e => e.steps_done())
    }

    /// Changes the learning rate and the batch size from the next step on; the schedule keeps
    /// its place (the new rate decays as if it had been the initial one).
    pub fn retune(&mut self, lr: f64, batch: usize) -> Result<(), Error> {
        with_engine!(&mut *self.engine, e => e.retune(lr, batch))
    }

    /// Runs `steps` optimiser steps and returns what each did, one [`StepStats`] per step
    /// index from [`Trainer::steps_done`] on, every loss finite.
    ///
    /// The losses stay on the device until the last step, then come back in one read. Steps
    /// whose loss comes back non-finite are taken again after a [`Recovery`]. A run that keeps
    /// going non-finite from the same network (its gradient is not finite while its loss is)
    /// stops with an error, and takes no more steps.
    pub fn train(&mut self, steps: usize) -> Result<Vec<StepStats>, Error> {
        let mut stats = Vec::with_capacity(steps);
        while stats.len() < steps {
            let pending = self.train_deferred(steps - stats.len());
            stats.extend(self.collect(pending)?);
            if let Some(why) = self.stuck() {
                return Err(Error::Training(why.to_string()));
            }
        }
        Ok(stats)
    }

    /// Runs `steps` optimiser steps without waiting for their losses: the read of all of them
    /// is queued on the device behind the steps, and [`Trainer::collect`] takes it in. On a
    /// GPU, the next steps can be submitted meanwhile, so the device never idles for a read.
    /// Once training has [stopped](Trainer::stuck), no step is taken.
    pub fn train_deferred(&mut self, steps: usize) -> PendingSteps {
        with_engine!(&mut *self.engine, e => e.train_deferred(steps))
    }

    /// Waits for the losses of steps taken by [`Trainer::train_deferred`] and returns what
    /// each did.
    ///
    /// When a loss is not finite, the network, Adam's moments and the random stream go back to
    /// the newest state whose loss was finite, the learning rate is halved, training goes on
    /// from the step that failed (recorded in [`Trainer::recoveries`]), and only the steps
    /// before it are returned. Steps taken after the failed one, still pending, are then
    /// returned as nothing: they were undone. Losses that cannot be read back (a lost device)
    /// are [`Error::DeviceRead`].
    pub fn collect(&mut self, pending: PendingSteps) -> Result<Vec<StepStats>, Error> {
        with_engine!(&mut *self.engine, e => e.collect(pending))
    }

    /// Every time the run went non-finite and came back, oldest first.
    pub fn recoveries(&self) -> &[Recovery] {
        with_engine!(&*self.engine, e => e.recoveries())
    }

    /// Why training stopped for good, if it did: after going back to the same network several
    /// times, each time with a lower learning rate, its steps still went non-finite. The
    /// network stays at that last finite state; [`Trainer::new`] or [`Trainer::resume`] start
    /// again.
    pub fn stuck(&self) -> Option<&str> {
        with_engine!(&*self.engine, e => e.stuck())
    }

    /// The network shown (the averaged one, when [`TrainConfig::average`] is not 0) and what
    /// it was trained with, ready to save. Training resumed from it starts from the shown
    /// network.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            config: self.config().clone(),
            steps: self.steps_done(),
            model: self.shown(),
        }
    }

    /// [`Trainer::checkpoint`], read back without waiting: the form a browser page can use.
    pub(crate) fn checkpoint_later(&self) -> DeviceRead<Checkpoint> {
        let (config, steps) = (self.config().clone(), self.steps_done());
        let model = match &*self.engine {
            Engines::Fused(e) => e.network().shown_later(),
            _ => ready(self.shown()),
        };
        Box::pin(async move {
            let model = model.await?;
            Ok(Checkpoint {
                config,
                steps,
                model,
            })
        })
    }

    /// Saves [`Trainer::checkpoint`] to `path` (its extension becomes `.mpk`) and returns the
    /// path written.
    pub fn save(&self, path: &Path) -> Result<PathBuf, Error> {
        self.checkpoint().save(path)
    }

    /// The network that evaluation shows, copied to the CPU: the running average of the
    /// parameters when [`TrainConfig::average`] is not 0, else [`Trainer::network`].
    pub fn shown(&self) -> SphereNet<HostBackend> {
        match &*self.engine {
            Engines::Cpu(e) => e.network().shown(),
            Engines::Gpu(e) => e.network().shown().to_backend(&Default::default()),
            Engines::Fused(e) => e.network().shown(),
        }
    }

    /// The network being trained, as the last step left it, copied to the CPU.
    pub fn network(&self) -> SphereNet<HostBackend> {
        match &*self.engine {
            Engines::Cpu(e) => e.network().model().valid(),
            Engines::Gpu(e) => (e.network().model().valid()).to_backend(&Default::default()),
            Engines::Fused(e) => e.network().network(),
        }
    }

    /// Maps points of the plane through the [shown](Trainer::shown) network in evaluation mode
    /// (no dropout). A read from the GPU that fails (a lost device) is an error.
    pub fn eval(&self, points: &[[f32; 2]]) -> Result<Vec<[f32; 3]>, Error> {
        block_on(self.eval_later(points)).map_err(Error::DeviceRead)
    }

    /// [`Trainer::eval`], read back without waiting: the form a browser page can use.
    pub(crate) fn eval_later(&self, points: &[[f32; 2]]) -> DeviceRead<Vec<[f32; 3]>> {
        match &*self.engine {
            Engines::Fused(e) => e.network().eval_later(points),
            Engines::Cpu(e) => ready(e.network().eval(points)),
            Engines::Gpu(e) => ready(e.network().eval(points)),
        }
    }

    /// Maps points through the shown network into `target`, a buffer on the GPU that trains,
    /// without a round trip through the host. Points the network maps to no finite position
    /// land at the origin. The CPU backend has no GPU to write from.
    pub fn eval_into(&self, points: &[[f32; 2]], target: &GpuTarget) -> Result<(), String> {
        match &*self.engine {
            Engines::Cpu(_) => Err("the CPU backend maps on the host".into()),
            Engines::Gpu(e) => copy_to_buffer(e.network().eval_on_device(points), target),
            Engines::Fused(e) => e.network().eval_into(points, target),
        }
    }

    /// The points the latest step trained on (empty before the first step).
    pub fn last_batch(&self) -> &[[f32; 2]] {
        with_engine!(&*self.engine, e => e.last_batch())
    }

    /// Maps points through the network in training mode, with fresh dropout masks: the
    /// notebook's "random points" picture when given [`Trainer::last_batch`]. The masks come
    /// from their own stream, so looking does not change training. A read from the GPU that
    /// fails (a lost device) is an error.
    pub fn map_with_dropout(&mut self, points: &[[f32; 2]]) -> Result<Vec<[f32; 3]>, Error> {
        block_on(self.map_with_dropout_later(points)).map_err(Error::DeviceRead)
    }

    /// [`Trainer::map_with_dropout`], read back without waiting.
    pub(crate) fn map_with_dropout_later(
        &mut self,
        points: &[[f32; 2]],
    ) -> DeviceRead<Vec<[f32; 3]>> {
        with_engine!(&mut *self.engine, e => {
            let (config, network, rng) = e.viewing();
            network.map_with_dropout(config, points, rng)
        })
    }
}
