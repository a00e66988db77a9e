//! The bridge to each sphere's training thread: starts it once its device is ready, forwards
//! the sphere's settings, and collects each frame what it reported into the sphere's
//! [`TrainingState`], point buffers and [`SphereMapping`]. No system here waits for training.
//! In a browser, which has no threads, [`train_in_frame`] gives the spheres' training a slice
//! of each frame instead.

use std::collections::VecDeque;
use std::time::Duration;

use bevy::platform::time::Instant;
use bevy::prelude::*;
use bevy::render::renderer::RenderAdapterInfo;
use wgpu::AdapterInfo;

#[cfg(target_arch = "wasm32")]
use super::browser_adapter::BrowserAdapter;
use super::outcome::{Outcome, SphereOutcome};
use super::output_file::write_output;
use super::points::{PointWriter, SpherePoints};
use super::positions::SphereMapping;
use super::render_device::{BurnDeviceWanted, BurnWgpuDevice};
use super::settings::{NeuralSphere, SphereView};
use crate::Error;
use crate::learn::backend::{BackendKind, TrainingDevice};
use crate::learn::config::TrainConfig;
use crate::learn::history::LossHistory;
use crate::learn::recovery::Recovery;
use crate::learn::worker::{Report, Request, TrainingPhase, TrainingWorker};

/// One sphere's training progress, for display. Written by the plugin, on the sphere's entity.
#[derive(Component, Debug, Default)]
pub struct TrainingState {
    /// The loss of every step since the last reset or load, in constant memory.
    pub(crate) history: LossHistory,
    /// Steps the network has been trained for, including those of a loaded checkpoint.
    pub(crate) steps: usize,
    /// Steps per second of wall time, over the last second or so.
    pub(crate) steps_per_second: f64,
    /// What the training thread is doing.
    pub(crate) phase: TrainingPhase,
    /// The step of the current network whose positions the points show; `None` until its
    /// first mapping reaches them (meanwhile they lie on the square).
    pub(crate) positions_step: Option<usize>,
    /// The network writes the points' positions on the GPU, no read-back per frame (wgpu on
    /// Bevy's device); otherwise each mapping is uploaded from the host.
    pub(crate) positions_on_gpu: bool,
    /// Which backend trains, and why it was picked.
    pub(crate) backend: String,
    /// How the network's steps are computed: the fused GPU step, or burn's autodiff and
    /// optimiser (and why).
    pub(crate) training_path: String,
    /// The latest failure (no GPU, a checkpoint or export that did not work), until the next
    /// command succeeds.
    pub(crate) error: Option<String>,
    /// The latest success worth telling (a checkpoint saved, a grid exported).
    pub(crate) notice: Option<String>,
    /// The latest time a step's loss came back non-finite and training went back to an
    /// earlier network with a lower learning rate; cleared when the network is replaced.
    pub(crate) recovery: Option<Recovery>,
    /// What the current network was trained with.
    pub(crate) trained_with: String,
    /// What the current network trains with: the sphere's [`NeuralSphere::train`] when it
    /// started, a loaded checkpoint's, the learning rate a recovery lowered.
    pub(crate) config: TrainConfig,
    /// Outcomes to announce as [`SphereOutcome`] events at the end of the frame.
    outcomes: Vec<Outcome>,
}

/// What a game reads of a sphere's training; the plugin alone writes it.
impl TrainingState {
    /// The loss of every step since the last reset or load, in constant memory.
    pub fn history(&self) -> &LossHistory {
        &self.history
    }

    /// Steps the network has been trained for, including those of a loaded checkpoint.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Steps per second of wall time, over the last second or so.
    pub fn steps_per_second(&self) -> f64 {
        self.steps_per_second
    }

    /// What the training thread is doing.
    pub fn phase(&self) -> TrainingPhase {
        self.phase
    }

    /// The step of the current network whose positions the points show; `None` until its
    /// first mapping reaches them (meanwhile they lie on the square).
    pub fn positions_step(&self) -> Option<usize> {
        self.positions_step
    }

    /// Whether the network writes the points' positions on the GPU, with no read-back per
    /// frame (wgpu on Bevy's device); otherwise each mapping is uploaded from the host.
    pub fn positions_on_gpu(&self) -> bool {
        self.positions_on_gpu
    }

    /// Which backend trains, and why it was picked.
    pub fn backend(&self) -> &str {
        &self.backend
    }

    /// How the network's steps are computed: the fused GPU step, or burn's autodiff and
    /// optimiser (and why).
    pub fn training_path(&self) -> &str {
        &self.training_path
    }

    /// The latest failure (no GPU, a checkpoint or export that did not work), until the next
    /// command succeeds.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The latest success worth telling (a checkpoint saved, a grid exported).
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// The latest time a step's loss came back non-finite and training went back to an
    /// earlier network with a lower learning rate; cleared when the network is replaced.
    pub fn recovery(&self) -> Option<&Recovery> {
        self.recovery.as_ref()
    }

    /// What the current network was trained with.
    pub fn trained_with(&self) -> &str {
        &self.trained_with
    }

    /// What the current network trains with: the sphere's [`NeuralSphere::train`] when it
    /// started, a loaded checkpoint's, the learning rate a recovery lowered.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }
}

impl TrainingState {
    /// Shows a notice, and no error.
    pub(crate) fn notify(&mut self, notice: String) {
        self.notice = Some(notice);
        self.error = None;
    }

    /// Shows a success, and announces it.
    pub(crate) fn succeeded(&mut self, notice: String, outcome: Outcome) {
        self.notify(notice);
        self.outcomes.push(outcome);
    }

    /// Shows a failure, and announces it.
    pub(crate) fn failed(&mut self, error: impl ToString) {
        let error = error.to_string();
        self.notice = None;
        self.error = Some(error.clone());
        self.outcomes.push(Outcome::Failed(error));
    }

    /// Shows a command's notice or failure.
    pub(crate) fn report(&mut self, outcome: Result<String, Error>) {
        match outcome {
            Ok(notice) => self.notify(notice),
            Err(e) => self.failed(e),
        }
    }
}

/// Triggers each sphere's outcomes of the frame as [`SphereOutcome`]s on its entity.
pub(crate) fn announce_outcomes(
    mut commands: Commands,
    mut spheres: Query<(Entity, &mut TrainingState)>,
) {
    for (entity, mut state) in &mut spheres {
        if state.outcomes.is_empty() {
            continue;
        }
        for outcome in state.outcomes.drain(..) {
            commands.trigger(SphereOutcome { entity, outcome });
        }
    }
}

/// One sphere's training thread, once started, and the settings it was last sent.
#[derive(Component, Default)]
pub(crate) struct SphereTrainer {
    worker: Option<TrainingWorker>,
    /// Requests made before the thread started, sent when it does.
    queued: Vec<Request>,
    /// The backend the thread was asked for, and the one it trains on.
    requested: Option<BackendKind>,
    kind: Option<BackendKind>,
    /// The thread could not start or stopped; it starts again on reset.
    failed: bool,
    sent: Sent,
    speed: SpeedMeter,
    /// A recording holds the sphere still: no training while set, whatever the settings say.
    pub held: bool,
    /// The sphere waits for its checkpoint, or rests on it (paused): no thread starts until a
    /// command asks for one.
    pub wait: bool,
    /// The checkpoint the thread starts from: sent first when it starts.
    start_from: Option<Request>,
    /// The thread's latest word was an error (a thread that stops right after one stopped for
    /// it).
    last_failed: bool,
}

/// Settings the training thread has been sent.
#[derive(Default, PartialEq)]
struct Sent {
    running: bool,
    lr: f64,
    batch: usize,
    limit: Option<f64>,
    show_batch: bool,
}

impl Sent {
    fn of(settings: &NeuralSphere, held: bool) -> Self {
        Self {
            running: !settings.paused && !held,
            lr: settings.train.lr,
            batch: settings.train.batch,
            limit: settings.max_steps_per_second,
            show_batch: settings.view == SphereView::TrainingBatch,
        }
    }
}

impl SphereTrainer {
    /// Queues a request for the training thread, or for when it starts.
    pub fn send(&mut self, request: Request) {
        match &self.worker {
            Some(worker) => worker.send(request),
            None => self.queued.push(request),
        }
    }

    /// Whether the thread was started for `backend`.
    pub fn started_with(&self, backend: BackendKind) -> bool {
        self.worker.is_some() && self.requested == Some(backend)
    }

    /// Whether the thread could not start or stopped (until a reset starts it again).
    pub fn stopped(&self) -> bool {
        self.failed
    }

    /// Whether the thread trains on `kind`.
    pub fn trains_on(&self, kind: BackendKind) -> bool {
        self.kind == Some(kind)
    }

    /// Ends the training thread; the next frame starts a new one from the settings (and a
    /// fresh network).
    pub fn restart(&mut self) {
        self.worker = None;
        self.requested = None;
        self.kind = None;
        self.failed = false;
        self.start_from = None;
        self.last_failed = false;
    }

    /// Replaces the network with a checkpoint's: at once where the thread runs, else first
    /// thing when it starts.
    pub fn start_from(&mut self, load: Request) {
        match &self.worker {
            Some(worker) => worker.send(load),
            None => self.start_from = Some(load),
        }
    }

    /// Whether no thread runs nor is asked for: paused, and no command waits for one.
    pub fn dormant(&self, settings: &NeuralSphere) -> bool {
        self.worker.is_none() && settings.paused && self.queued.is_empty()
    }
}

/// Steps per second of wall time, over about the last second.
#[derive(Default)]
struct SpeedMeter {
    samples: VecDeque<(Instant, usize)>,
}

impl SpeedMeter {
    const WINDOW: Duration = Duration::from_secs(1);

    fn record(&mut self, steps: usize) -> f64 {
        let now = Instant::now();
        self.samples.push_back((now, steps));
        while self.samples.len() > 2 && now - self.samples[1].0 >= Self::WINDOW {
            self.samples.pop_front();
        }
        let (first, last) = (self.samples[0], self.samples[self.samples.len() - 1]);
        let seconds = (last.0 - first.0).as_secs_f64();
        match seconds > 0.0 {
            true => last.1.saturating_sub(first.1) as f64 / seconds,
            false => 0.0,
        }
    }

    fn clear(&mut self) {
        self.samples.clear();
    }
}

/// Starts each sphere's training thread once its device is ready: at once on the CPU, after
/// the render world has shared Bevy's device on wgpu.
pub(crate) fn start_workers(
    mut spheres: Query<(
        &NeuralSphere,
        &mut SphereTrainer,
        &mut TrainingState,
        &SphereMapping,
        &SpherePoints,
    )>,
    points: PointWriter,
    mut commands: Commands,
    adapter: Option<Res<RenderAdapterInfo>>,
    burn_device: Option<Res<BurnWgpuDevice>>,
    #[cfg(target_arch = "wasm32")] browser_adapter: Res<BrowserAdapter>,
) {
    let adapter = adapter.as_deref().map(|info| AdapterInfo::clone(&info.0));
    // In a browser, what the page says of the adapter tells a software one.
    #[cfg(target_arch = "wasm32")]
    let adapter = match adapter.map(|info| browser_adapter.describe(&info)) {
        Some(None) => return,
        described => described.flatten(),
    };
    for (settings, mut trainer, mut state, mapping, sphere_points) in &mut spheres {
        if trainer.worker.is_some() || trainer.failed || (trainer.wait && trainer.queued.is_empty())
        {
            continue;
        }
        let target = || points.gpu_target(sphere_points);
        let waits_for_device = trainer.start(
            settings,
            &mut state,
            mapping,
            adapter.as_ref(),
            burn_device.as_deref(),
            target,
        );
        if waits_for_device {
            commands.init_resource::<BurnDeviceWanted>();
        }
    }
}

impl SphereTrainer {
    /// Starts the thread on the backend the settings ask for, if its device is ready. Returns
    /// whether it waits for burn's wgpu device.
    fn start(
        &mut self,
        settings: &NeuralSphere,
        state: &mut TrainingState,
        mapping: &SphereMapping,
        adapter: Option<&AdapterInfo>,
        burn_device: Option<&BurnWgpuDevice>,
        target: impl FnOnce() -> crate::learn::gpu_copy::GpuTarget,
    ) -> bool {
        let choice = match settings.backend.choose(adapter) {
            Ok(choice) => choice,
            Err(e) => {
                state.failed(e);
                self.failed = true;
                return false;
            }
        };
        let device = match (choice.kind, burn_device) {
            (BackendKind::Cpu, _) => TrainingDevice::Cpu,
            (_, None) => return true,
            (_, Some(BurnWgpuDevice(Ok(device)))) => TrainingDevice::Wgpu(device.clone()),
            (_, Some(BurnWgpuDevice(Err(e)))) => {
                state.failed(Error::Gpu(e.clone()));
                self.failed = true;
                return false;
            }
        };
        let spawned = TrainingWorker::spawn(
            device,
            settings.train.clone(),
            !settings.paused && !self.held,
            settings.max_steps_per_second,
        );
        match spawned {
            Ok(worker) => {
                let target = (choice.kind == BackendKind::Wgpu).then(target);
                worker.send(Request::Map {
                    points: mapping.points.clone(),
                    target,
                });
                worker.send(Request::ShowBatch(
                    settings.view == SphereView::TrainingBatch,
                ));
                self.start_from
                    .take()
                    .into_iter()
                    .for_each(|r| worker.send(r));
                std::mem::take(&mut self.queued)
                    .into_iter()
                    .for_each(|r| worker.send(r));
                info!("{choice}");
                state.backend = choice.reason;
                state.phase = TrainingPhase::Starting;
                state.config = settings.train.clone();
                self.requested = Some(settings.backend);
                self.kind = Some(choice.kind);
                self.sent = Sent::of(settings, self.held);
                self.worker = Some(worker);
            }
            Err(e) => {
                state.failed(e);
                self.failed = true;
            }
        }
        false
    }
}

/// Tells each sphere's training thread the settings that changed: pause, learning rate and
/// batch, the step limit, the training-batch view.
pub(crate) fn forward_settings(mut spheres: Query<(&NeuralSphere, &mut SphereTrainer)>) {
    for (settings, mut trainer) in &mut spheres {
        trainer.forward(settings);
    }
}

impl SphereTrainer {
    /// Sends the settings that changed since they were last sent.
    pub fn forward(&mut self, settings: &NeuralSphere) {
        let wanted = Sent::of(settings, self.held);
        if self.worker.is_none() || self.sent == wanted {
            return;
        }
        let sent = &self.sent;
        let mut requests = Vec::new();
        if sent.running != wanted.running {
            requests.push(Request::Run(wanted.running));
        }
        if (sent.lr, sent.batch) != (wanted.lr, wanted.batch) {
            requests.push(Request::Retune {
                lr: wanted.lr,
                batch: wanted.batch,
            });
        }
        if sent.limit != wanted.limit {
            requests.push(Request::Limit(wanted.limit));
        }
        if sent.show_batch != wanted.show_batch {
            requests.push(Request::ShowBatch(wanted.show_batch));
        }
        requests.into_iter().for_each(|r| self.send(r));
        self.sent = wanted;
    }
}

/// The least of each frame a browser page gives to training, where there is no thread for it.
#[cfg(target_arch = "wasm32")]
const MIN_FRAME_TRAINING: Duration = Duration::from_millis(12);
/// The most of each frame a browser page gives to training.
#[cfg(target_arch = "wasm32")]
const MAX_FRAME_TRAINING: Duration = Duration::from_millis(100);

/// Trains within the frame: the browser's training, which has no thread of its own. The
/// spheres share a third of what the rest of the last frame took, within
/// [`MIN_FRAME_TRAINING`] and [`MAX_FRAME_TRAINING`]: 12 ms at 60 fps, more where drawing is
/// slow (a software WebGPU), so that a sphere still forms at a few frames a second.
#[cfg(target_arch = "wasm32")]
pub(crate) fn train_in_frame(
    mut spheres: Query<&mut SphereTrainer>,
    time: Res<Time<Real>>,
    mut last: Local<Duration>,
) {
    let training = spheres.iter().filter(|t| t.worker.is_some()).count() as u32;
    if training == 0 {
        return;
    }
    let rest = time.delta().saturating_sub(*last);
    let budget = (rest / 3).clamp(MIN_FRAME_TRAINING, MAX_FRAME_TRAINING) / training;
    let started = Instant::now();
    for mut trainer in &mut spheres {
        if let Some(worker) = trainer.worker.as_mut() {
            worker.train_for(budget);
        }
    }
    *last = started.elapsed();
}

/// Takes what each sphere's training thread reported since the last frame.
pub(crate) fn collect_reports(
    mut spheres: Query<(
        &NeuralSphere,
        &mut SphereTrainer,
        &mut TrainingState,
        &mut SphereMapping,
        &mut SpherePoints,
    )>,
    mut writer: PointWriter,
) {
    for (settings, mut trainer, mut state, mut mapping, mut points) in &mut spheres {
        collect(
            settings,
            &mut trainer,
            &mut state,
            &mut mapping,
            &mut points,
            &mut writer,
        );
    }
}

fn collect(
    settings: &NeuralSphere,
    trainer: &mut SphereTrainer,
    state: &mut Mut<TrainingState>,
    mapping: &mut Mut<SphereMapping>,
    points: &mut SpherePoints,
    writer: &mut PointWriter,
) {
    let Some(worker) = trainer.worker.as_mut() else {
        return;
    };
    let (reports, stopped) = worker.reports();
    for report in reports {
        match report {
            Report::Network {
                config,
                steps,
                loaded,
                path,
            } => {
                state.training_path = path;
                state.trained_with = match &loaded {
                    Some(path) => {
                        let from = format!("{} ({steps} steps)", path.display());
                        let loaded = Outcome::Loaded {
                            from: path.clone(),
                            steps,
                        };
                        state.succeeded(format!("loaded {from}"), loaded);
                        format!("{from}: {}", config.summary())
                    }
                    None => config.summary(),
                };
                state.history.clear();
                state.recovery = None;
                state.steps = steps;
                state.positions_step = None;
                state.config = config;
                trainer.speed.clear();
            }
            Report::Phase(phase) => state.phase = phase,
            Report::Recovered(recovery) => {
                warn!("{recovery}");
                state.config.lr = recovery.lr;
                state.recovery = Some(recovery);
            }
            Report::Trained(stats) => {
                if let Some(last) = stats.last() {
                    state.steps = last.step + 1;
                }
                state.history.extend(stats);
            }
            Report::Mapped { step, on_gpu, host } => {
                state.positions_on_gpu = on_gpu;
                if on_gpu {
                    state.positions_step = Some(step);
                }
                if let Some(host) = host.filter(|h| h.len() == mapping.points.len()) {
                    if !on_gpu {
                        writer.write_grid(points, &host);
                        state.positions_step = Some(step);
                    }
                    mapping.mapped = host;
                    mapping.step = step;
                }
            }
            Report::Batch {
                points: batch,
                mapped,
            } => {
                if settings.view == SphereView::TrainingBatch {
                    writer.show_batch(points, &batch, &mapped, settings.point_radius);
                }
            }
            Report::Checkpoint { path, bytes } => {
                let written = bytes
                    .map_err(|reason| Error::Checkpoint {
                        path: path.clone(),
                        reason,
                    })
                    .and_then(|bytes| write_output(&path, &bytes));
                match written {
                    Ok(at) => state.succeeded(format!("saved {at}"), Outcome::Saved(at)),
                    Err(e) => state.failed(e),
                }
            }
            Report::Done(outcome) => {
                trainer.last_failed = outcome.is_err();
                state.report(outcome);
            }
        }
    }
    state.steps_per_second = trainer.speed.record(state.steps);
    if let Some(why) = stopped {
        // A thread that could not start said why just before it stopped: that is the error.
        if !trainer.last_failed {
            state.failed(why);
        }
        trainer.worker = None;
        trainer.failed = true;
    }
}
