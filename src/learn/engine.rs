//! The training loop, whatever trains the network: the optimiser steps in chunks whose losses
//! come back later, going back after a non-finite one, and the batches. A [`Network`] is what
//! a step changes: burn's autodiff and optimiser on one backend ([`OpNetwork`](super::ops::OpNetwork)),
//! or the fused GPU step ([`FusedNetwork`](super::gpu_step::FusedNetwork)). The loop is
//! compiled once, in this crate, and not again in every program that trains.

use burn::optim::lr_scheduler::LrScheduler;
use burn::optim::lr_scheduler::step::{StepLrScheduler, StepLrSchedulerConfig};
use futures_lite::future::{block_on, poll_once};
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use super::backend::HostBackend;
use super::config::TrainConfig;
use super::device_read::DeviceRead;
use super::model::SphereNet;
use super::recovery::{RECOVERY_LR_FACTOR, Recovery, Snapshot, Snapshots};
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
pub(crate) type LossRead = DeviceRead<Vec<f32>>;

/// Steps taken whose losses are on their way back from the device; the trainer's `collect`
/// takes them in.
pub struct PendingSteps {
    /// How often the trainer had gone back to an earlier state when the steps were taken:
    /// going back again undoes them.
    went_back: usize,
    stats: Vec<StepStats>,
    read: Option<LossRead>,
    /// The read, if it finished when it was queued (always, on the CPU).
    done: Option<Result<Vec<f32>, String>>,
}

impl PendingSteps {
    fn new(went_back: usize, stats: Vec<StepStats>, mut read: Option<LossRead>) -> Self {
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

    /// Whether the losses are back, so that collecting the steps waits for nothing; looks
    /// without waiting.
    pub fn is_ready(&mut self) -> bool {
        if self.done.is_none()
            && let Some(read) = self.read.as_mut()
        {
            self.done = block_on(poll_once(read));
        }
        self.done.is_some() || self.read.is_none()
    }

    /// Waits for the losses and returns what each step did, or why they could not be read (a
    /// lost device).
    fn wait(self) -> Result<Vec<StepStats>, Error> {
        let Self {
            mut stats,
            read,
            done,
            ..
        } = self;
        let values = match (done, read) {
            (Some(values), _) => values,
            (None, Some(read)) => block_on(read),
            (None, None) => return Ok(stats),
        };
        for (s, loss) in stats.iter_mut().zip(values.map_err(Error::DeviceRead)?) {
            s.loss = loss;
        }
        Ok(stats)
    }
}

/// Points of each step at which the equal-area term is measured.
const AREA_POINTS: usize = 250;

/// The finite-difference step of the equal-area term: about the 100×100 grid's spacing.
pub(crate) const AREA_STEP: f64 = 0.01;

/// The points of one step.
pub(crate) struct Batch {
    /// The step the batch is for.
    pub step: usize,
    /// `rows × 2` values: the batch shuffled once per pass, the passes one after another.
    pub points: Vec<f32>,
    /// The equal-area term's points moved along u, then the same moved along v (`2m × 2`
    /// values), when the term counts at this step. Its points are the first `m` rows.
    pub moved: Option<Vec<f32>>,
}

impl Batch {
    /// Rows of [`Batch::points`].
    pub fn rows(&self) -> usize {
        self.points.len() / 2
    }

    /// Points of the equal-area term (0 when it does not count).
    pub fn area_points(&self) -> usize {
        self.moved.as_ref().map_or(0, |m| m.len() / 4)
    }
}

/// What an optimiser step changes: the network's parameters and the optimiser's moments, on
/// the device that trains.
pub(crate) trait Network: Sized {
    /// Where the network trains.
    type Device;
    /// The parameters and moments, to go back to.
    type State: Clone;

    /// `model` on `device`, ready to train with `config`, its optimiser moments at zero.
    fn new(
        config: &TrainConfig,
        model: SphereNet<HostBackend>,
        device: &Self::Device,
    ) -> Result<Self, Error>;

    /// The parameters and moments now.
    fn state(&self) -> Self::State;

    /// Puts back the parameters of `state` and, if `keep_moments`, its moments (else they
    /// restart at zero); the running average restarts from the parameters.
    fn restore(&mut self, config: &TrainConfig, state: &Self::State, keep_moments: bool);

    /// Makes room for the losses of the next `steps` steps.
    fn start_chunk(&mut self, steps: usize);

    /// One optimiser step on `batch` with learning rate `lr`: the gradient of its loss, Adam,
    /// the clamp and the running average, with the dropout masks of [`dropout_factor`]. The
    /// loss stays on the device.
    ///
    /// [`dropout_factor`]: super::model::dropout_factor
    fn step(&mut self, config: &TrainConfig, batch: &Batch, lr: f64);

    /// The read of the losses of the steps since [`Network::start_chunk`], in order.
    fn losses(&mut self) -> Option<LossRead>;

    /// Whether the gradient of the loss on `batch` is finite everywhere; reads it back.
    fn gradient_is_finite(&mut self, config: &TrainConfig, batch: &Batch) -> bool;
}

/// Trains a network: the schedule, the batches, the steps in chunks, and going back after a
/// non-finite one.
pub(crate) struct Engine<N: Network> {
    config: TrainConfig,
    network: N,
    scheduler: StepLrScheduler,
    rng: Xoshiro256PlusPlus,
    steps_done: usize,
    /// The points of the latest step.
    last_batch: Vec<[f32; 2]>,
    /// Dropout masks for the "random points" picture, apart from the training stream.
    view_rng: Xoshiro256PlusPlus,
    /// States to go back to when the run goes non-finite.
    snapshots: Snapshots<N::State>,
    recoveries: Vec<Recovery>,
    /// How often the network went back to an earlier state.
    went_back: usize,
    /// Why training stopped for good, once it has.
    stuck: Option<String>,
}

impl<N: Network> Engine<N> {
    /// A fresh network, initialised from `config.seed`.
    pub(crate) fn new(config: TrainConfig, device: &N::Device) -> Result<Self, Error> {
        config.validate()?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
        let model = config.model.init(&mut rng, &Default::default());
        Self::with_model(config, model, rng, 0, device)
    }

    /// Goes on training a saved network, trained for `steps` steps, from where it stopped: its
    /// steps and learning-rate schedule carry on, the optimiser's moments start afresh.
    pub(crate) fn resume(
        config: TrainConfig,
        steps: usize,
        model: SphereNet<HostBackend>,
        device: &N::Device,
    ) -> Result<Self, Error> {
        config.validate()?;
        let rng = Xoshiro256PlusPlus::seed_from_u64(config.seed ^ steps as u64);
        Self::with_model(config, model, rng, steps, device)
    }

    fn with_model(
        config: TrainConfig,
        model: SphereNet<HostBackend>,
        rng: Xoshiro256PlusPlus,
        steps_done: usize,
        device: &N::Device,
    ) -> Result<Self, Error> {
        let network = N::new(&config, model, device)?;
        let start = Snapshot {
            step: steps_done,
            state: network.state(),
            rng: rng.clone(),
        };
        Ok(Self {
            scheduler: scheduler_at(&config, steps_done),
            view_rng: Xoshiro256PlusPlus::seed_from_u64(!config.seed),
            snapshots: Snapshots::new(start),
            recoveries: Vec::new(),
            went_back: 0,
            stuck: None,
            config,
            network,
            rng,
            steps_done,
            last_batch: Vec::new(),
        })
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

    /// What trains.
    pub(crate) fn network(&self) -> &N {
        &self.network
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
            self.snapshots.push(Snapshot {
                step: self.steps_done,
                state: self.network.state(),
                rng: self.rng.clone(),
            });
            self.network.start_chunk(steps);
        }
        let mut stats = Vec::with_capacity(steps);
        for _ in 0..steps {
            let batch = self.draw_batch();
            let lr = self.scheduler.step();
            self.network.step(&self.config, &batch, lr);
            stats.push(StepStats {
                step: self.steps_done,
                loss: 0.0,
                lr,
            });
            self.steps_done += 1;
        }
        let read = (steps > 0).then(|| self.network.losses()).flatten();
        PendingSteps::new(self.went_back, stats, read)
    }

    /// Waits for the losses of steps taken by [`Engine::train_deferred`] and returns what
    /// each did.
    ///
    /// When a loss is not finite, the network, Adam's moments and the random stream go back to
    /// the newest state whose loss was finite, the learning rate is halved, training goes on
    /// from the step that failed (recorded in [`Engine::recoveries`]), and only the steps
    /// before it are returned. Steps taken after the failed one, still pending, are then
    /// returned as nothing: they were undone. Losses that cannot be read from the device are
    /// an error.
    pub(crate) fn collect(&mut self, pending: PendingSteps) -> Result<Vec<StepStats>, Error> {
        if pending.went_back != self.went_back {
            return Ok(Vec::new());
        }
        let mut stats = pending.wait()?;
        let Some(first) = stats.first().map(|s| s.step) else {
            return Ok(stats);
        };
        let losses: Vec<f32> = stats.iter().map(|s| s.loss).collect();
        if let Some(bad) = self.snapshots.check(first, &losses) {
            self.recover(bad);
            stats.truncate(bad - first);
        }
        Ok(stats)
    }

    /// Goes back to the newest good state after step `bad`'s loss came back non-finite, or to
    /// the one before it when no step from the newest can be finite; stops training for good
    /// when neither can train.
    fn recover(&mut self, bad: usize) {
        let (mut state, mut keep_moments) = self.snapshots.go_back();
        self.went_back += 1;
        self.steps_done = bad;
        loop {
            self.network
                .restore(&self.config, &state.state, keep_moments);
            self.rng = state.rng.clone();
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

    /// Every time the run went non-finite and came back, oldest first.
    pub(crate) fn recoveries(&self) -> &[Recovery] {
        &self.recoveries
    }

    /// Why training stopped for good, if it did: steps asked for from then on are not taken.
    pub(crate) fn stuck(&self) -> Option<&str> {
        self.stuck.as_deref()
    }

    /// Whether the gradient of the next step's loss is finite everywhere; reads it back and
    /// leaves the random stream as it was.
    fn gradient_is_finite(&mut self) -> bool {
        let (rng, last) = (self.rng.clone(), self.last_batch.clone());
        let batch = self.draw_batch();
        let finite = self.network.gradient_is_finite(&self.config, &batch);
        (self.rng, self.last_batch) = (rng, last);
        finite
    }

    /// A fresh batch from the training stream.
    ///
    /// Each pass shuffles the batch into halves a and b. The network maps rows independently,
    /// so shuffling its inputs is shuffling its outputs: rows [0, half) of a pass are a and rows
    /// [half, batch) are b, and the loss needs slices instead of gathers.
    fn draw_batch(&mut self) -> Batch {
        let TrainConfig { batch, passes, .. } = self.config;
        let rng = &mut self.rng;
        self.last_batch = (0..batch)
            .map(|_| rng.random::<[f32; 2]>().map(|c| c - 0.5))
            .collect();
        let mut order: Vec<usize> = (0..batch).collect();
        let mut points = Vec::with_capacity(batch * passes * 2);
        for _ in 0..passes {
            order.shuffle(rng);
            points.extend(order.iter().flat_map(|&i| self.last_batch[i]));
        }
        let area_term = self.config.local_terms() && self.steps_done >= self.config.area_from;
        let moved = area_term.then(|| {
            let at = &points[..2 * AREA_POINTS.min(batch * passes)];
            let mut moved = Vec::with_capacity(2 * at.len());
            for axis in [0, 1] {
                for p in at.chunks_exact(2) {
                    let mut p = [p[0], p[1]];
                    p[axis] += AREA_STEP as f32;
                    moved.extend(p);
                }
            }
            moved
        });
        Batch {
            step: self.steps_done,
            points,
            moved,
        }
    }

    /// The points the latest step trained on (empty before the first step).
    pub(crate) fn last_batch(&self) -> &[[f32; 2]] {
        &self.last_batch
    }

    /// The network and the stream of dropout masks for the "random points" picture, apart
    /// from the training stream, so that looking does not change training.
    pub(crate) fn viewing(&mut self) -> (&TrainConfig, &N, &mut Xoshiro256PlusPlus) {
        (&self.config, &self.network, &mut self.view_rng)
    }
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
