//! The bridge to the training thread: starts it once its device is ready, forwards the
//! settings, and collects each frame what it reported into [`TrainingState`], the point
//! buffers and [`SphereMapping`]. No system here waits for training. In a browser, which has
//! no threads, [`train_in_frame`] gives the training a slice of each frame instead.

use std::collections::VecDeque;
use std::time::Duration;

use bevy::platform::time::Instant;
use bevy::prelude::*;
use bevy::render::renderer::RenderAdapterInfo;
use wgpu::AdapterInfo;

#[cfg(target_arch = "wasm32")]
use super::browser_adapter::BrowserAdapter;
use super::output_file::write_output;
use super::points::PointWriter;
use super::positions::SphereMapping;
use super::render_device::BurnWgpuDevice;
use super::settings::{SphereSettings, SphereView};
use crate::Error;
use crate::learn::backend::{BackendKind, TrainingDevice};
use crate::learn::history::LossHistory;
use crate::learn::recovery::Recovery;
use crate::learn::worker::{Report, Request, TrainingPhase, TrainingWorker};

/// Training progress, for display.
#[derive(Resource, Debug, Default)]
pub struct TrainingState {
    /// The loss of every step since the last reset or load, in constant memory.
    pub history: LossHistory,
    /// Steps the network has been trained for, including those of a loaded checkpoint.
    pub steps: usize,
    /// Steps per second of wall time, over the last second or so.
    pub steps_per_second: f64,
    /// What the training thread is doing.
    pub phase: TrainingPhase,
    /// The step of the current network whose positions the points show; `None` until its
    /// first mapping reaches them (meanwhile they lie on the square).
    pub positions_step: Option<usize>,
    /// The network writes the points' positions on the GPU, no read-back per frame (wgpu on
    /// Bevy's device); otherwise each mapping is uploaded from the host.
    pub positions_on_gpu: bool,
    /// Which backend trains, and why it was picked.
    pub backend: String,
    /// How the network's steps are computed: the fused GPU step, or burn's autodiff and
    /// optimiser (and why).
    pub training_path: String,
    /// The latest failure (no GPU, a checkpoint or export that did not work), until the next
    /// command succeeds.
    pub error: Option<String>,
    /// The latest success worth telling (a checkpoint saved, a grid exported).
    pub notice: Option<String>,
    /// The latest time a step's loss came back non-finite and training went back to an
    /// earlier network with a lower learning rate; cleared when the network is replaced.
    pub recovery: Option<Recovery>,
    /// What the current network was trained with.
    pub trained_with: String,
}

impl TrainingState {
    /// Shows a command's outcome.
    pub(crate) fn report(&mut self, outcome: Result<String, Error>) {
        match outcome {
            Ok(notice) => {
                self.notice = Some(notice);
                self.error = None;
            }
            Err(e) => {
                self.notice = None;
                self.error = Some(e.to_string());
            }
        }
    }
}

/// The training thread, once started, and the settings it was last sent.
#[derive(Resource, Default)]
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
    fn of(settings: &SphereSettings) -> Self {
        Self {
            running: !settings.paused,
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

    /// Whether the thread trains on `kind`.
    pub fn trains_on(&self, kind: BackendKind) -> bool {
        self.kind == Some(kind)
    }

    /// Ends the training thread; the next frame starts a new one from the settings.
    pub fn restart(&mut self) {
        self.worker = None;
        self.requested = None;
        self.kind = None;
        self.failed = false;
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

/// Starts the training thread once its device is ready: at once on the CPU, after the render
/// world has shared Bevy's device on wgpu.
pub(crate) fn start_worker(
    mut trainer: ResMut<SphereTrainer>,
    settings: Res<SphereSettings>,
    mut state: ResMut<TrainingState>,
    mapping: Res<SphereMapping>,
    points: PointWriter,
    adapter: Option<Res<RenderAdapterInfo>>,
    burn_device: Option<Res<BurnWgpuDevice>>,
    #[cfg(target_arch = "wasm32")] browser_adapter: Res<BrowserAdapter>,
) {
    if trainer.worker.is_some() || trainer.failed {
        return;
    }
    let adapter = adapter.as_deref().map(|info| AdapterInfo::clone(&info.0));
    // In a browser, what the page says of the adapter tells a software one.
    #[cfg(target_arch = "wasm32")]
    let adapter = match adapter.map(|info| browser_adapter.describe(&info)) {
        Some(None) => return,
        described => described.flatten(),
    };
    let choice = match settings.backend.choose(adapter.as_ref()) {
        Ok(choice) => choice,
        Err(e) => {
            state.error = Some(e.to_string());
            trainer.failed = true;
            return;
        }
    };
    let device = match (choice.kind, burn_device.as_deref()) {
        (BackendKind::Cpu, _) => TrainingDevice::Cpu,
        (_, None) => return,
        (_, Some(BurnWgpuDevice(Ok(device)))) => TrainingDevice::Wgpu(device.clone()),
        (_, Some(BurnWgpuDevice(Err(e)))) => {
            state.error = Some(Error::Gpu(e.clone()).to_string());
            trainer.failed = true;
            return;
        }
    };
    let spawned = TrainingWorker::spawn(
        device,
        settings.train.clone(),
        !settings.paused,
        settings.max_steps_per_second,
    );
    match spawned {
        Ok(worker) => {
            let target = (choice.kind == BackendKind::Wgpu).then(|| points.gpu_target());
            worker.send(Request::Map {
                points: mapping.points.clone(),
                target,
            });
            worker.send(Request::ShowBatch(
                settings.view == SphereView::TrainingBatch,
            ));
            std::mem::take(&mut trainer.queued)
                .into_iter()
                .for_each(|r| worker.send(r));
            info!("{choice}");
            state.backend = choice.reason;
            state.phase = TrainingPhase::Starting;
            trainer.requested = Some(settings.backend);
            trainer.kind = Some(choice.kind);
            trainer.sent = Sent::of(&settings);
            trainer.worker = Some(worker);
        }
        Err(e) => {
            state.error = Some(e.to_string());
            trainer.failed = true;
        }
    }
}

/// Tells the training thread the settings that changed: pause, learning rate and batch, the
/// step limit, the training-batch view.
pub(crate) fn forward_settings(mut trainer: ResMut<SphereTrainer>, settings: Res<SphereSettings>) {
    trainer.forward(&settings);
}

impl SphereTrainer {
    /// Sends the settings that changed since they were last sent.
    pub fn forward(&mut self, settings: &SphereSettings) {
        let wanted = Sent::of(settings);
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

/// Trains within the frame: the browser's training, which has no thread of its own. It gets a
/// third of what the rest of the last frame took, within [`MIN_FRAME_TRAINING`] and
/// [`MAX_FRAME_TRAINING`]: 12 ms at 60 fps, more where drawing is slow (a software WebGPU),
/// so that the sphere still forms at a few frames a second.
#[cfg(target_arch = "wasm32")]
pub(crate) fn train_in_frame(
    mut trainer: ResMut<SphereTrainer>,
    time: Res<Time<Real>>,
    mut last: Local<Duration>,
) {
    let Some(worker) = trainer.worker.as_mut() else {
        return;
    };
    let rest = time.delta().saturating_sub(*last);
    let budget = (rest / 3).clamp(MIN_FRAME_TRAINING, MAX_FRAME_TRAINING);
    let started = Instant::now();
    worker.train_for(budget);
    *last = started.elapsed();
}

/// Takes what the training thread reported since the last frame.
pub(crate) fn collect_reports(
    mut trainer: ResMut<SphereTrainer>,
    mut settings: ResMut<SphereSettings>,
    mut state: ResMut<TrainingState>,
    mut mapping: ResMut<SphereMapping>,
    mut points: PointWriter,
) {
    let trainer = &mut *trainer;
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
                        state.report(Ok(format!("loaded {from}")));
                        format!("{from}: {}", config.summary())
                    }
                    None => config.summary(),
                };
                state.history.clear();
                state.recovery = None;
                state.steps = steps;
                state.positions_step = None;
                trainer.speed.clear();
                // What the network trains with is what the panel shows and sends from now on.
                settings.train = config;
                trainer.sent = Sent::of(&settings);
            }
            Report::Phase(phase) => state.phase = phase,
            Report::Recovered(recovery) => {
                warn!("{recovery}");
                // The lowered rate is what the panel shows and sends from now on.
                settings.train.lr = recovery.lr;
                trainer.sent.lr = recovery.lr;
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
                        points.write_grid(&host);
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
                    points.show_batch(&batch, &mapped);
                }
            }
            Report::Checkpoint { path, bytes } => {
                let written = bytes
                    .map_err(|reason| Error::Checkpoint {
                        path: path.clone(),
                        reason,
                    })
                    .and_then(|bytes| write_output(&path, &bytes));
                state.report(written.map(|at| format!("saved {at}")));
            }
            Report::Done(outcome) => state.report(outcome),
        }
    }
    state.steps_per_second = trainer.speed.record(state.steps);
    if let Some(why) = stopped {
        state.error = Some(why);
        trainer.worker = None;
        trainer.failed = true;
    }
}
