//! The training thread. It owns the network, trains it continuously in short chunks of steps,
//! and between chunks takes [`Request`]s and sends [`Report`]s: the steps it took, where the
//! network maps the grid, the outcome of saves and loads. The app never waits on it, and it
//! never waits on a frame.
//!
//! A dedicated thread rather than a task on Bevy's `AsyncComputeTaskPool`: training is
//! blocking work that never yields (a step is a burn call, on wgpu a kernel compilation or an
//! autotune can take seconds), so it would hold one of the pool's few threads for the app's
//! whole life and starve the tasks Bevy schedules there.
//!
//! In the browser (`wasm32`) there are no threads: the same worker lives inside the handle and
//! [`TrainingWorker::train_for`] gives it a slice of each frame. Nothing there waits for the
//! GPU: each frame queues a chunk of steps, sized by what chunks cost the frame rate
//! ([`Pacing`]), and their losses and the mappings come back in later frames.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use web_time::Instant;

use super::backend::TrainingDevice;
use super::checkpoint::{CHECKPOINT_EXTENSION, Checkpoint};
use super::config::TrainConfig;
use super::device_read::Reading;
use super::engine::{PendingSteps, StepStats};
use super::gpu_copy::GpuTarget;
#[cfg(target_arch = "wasm32")]
use super::pacing::Pacing;
use super::recovery::Recovery;
use super::trainer::Trainer;
use crate::Error;

/// What the training thread is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrainingPhase {
    /// The network is being created.
    #[default]
    Starting,
    /// The first steps on the GPU: its kernels are compiled (and, on burn's op path,
    /// autotuned).
    PreparingKernels,
    /// Training.
    Training,
    /// Paused (single steps still run).
    Paused,
    /// No training thread runs: a paused sphere shows its checkpoint's mapping, evaluated once.
    /// A `Resume` or `Steps` starts the thread.
    Evaluated,
}

/// What the app asks of the training thread.
#[derive(Debug)]
pub(crate) enum Request {
    /// Train (`true`) or pause (`false`).
    Run(bool),
    /// Take exactly this many more steps, also while paused.
    Steps(usize),
    /// Start again from a fresh network.
    Reset(TrainConfig),
    /// Replace the network with a checkpoint's, read from the file or from the file's contents
    /// where they are given; one that does not load keeps it.
    Load(PathBuf, Option<Arc<[u8]>>),
    /// Make a checkpoint of the network, to save as this file.
    Save(PathBuf),
    /// New learning rate and batch from the next step.
    Retune { lr: f64, batch: usize },
    /// At most this many steps a second (`None`: as fast as it goes).
    Limit(Option<f64>),
    /// Map these points from now on, into `target` on the GPU where there is one.
    Map {
        points: Vec<[f32; 2]>,
        target: Option<GpuTarget>,
    },
    /// Bring the next mapping back to the host, also where it goes to the GPU.
    ReadBack,
    /// Publish the latest training batch through the net with dropout on.
    ShowBatch(bool),
}

/// What the training thread tells the app.
#[derive(Debug)]
pub(crate) enum Report {
    /// A network is ready: at the start, after a reset or after a load.
    Network {
        /// What it is trained with.
        config: TrainConfig,
        /// Steps it was trained for.
        steps: usize,
        /// The checkpoint it came from.
        loaded: Option<PathBuf>,
        /// How its steps are computed ([`Trainer::training_path`]).
        path: String,
    },
    /// The thread's phase changed.
    Phase(TrainingPhase),
    /// Steps taken, in order.
    Trained(Vec<StepStats>),
    /// A step's loss was not finite: the network went back to an earlier state, and the next
    /// steps reported follow on from the step that failed.
    Recovered(Recovery),
    /// Where the network maps the points after `step` steps: in the GPU target (`on_gpu`),
    /// here (`host`), or both.
    Mapped {
        step: usize,
        on_gpu: bool,
        host: Option<Vec<[f32; 3]>>,
    },
    /// The latest training batch and where the network maps it with dropout on.
    Batch {
        points: Vec<[f32; 2]>,
        mapped: Vec<[f32; 3]>,
    },
    /// A checkpoint asked for by [`Request::Save`]: the bytes of its file (`.mpk`), or why
    /// there are none.
    Checkpoint {
        path: PathBuf,
        bytes: Result<Vec<u8>, String>,
    },
    /// The outcome of a request that can fail or has something to say.
    Done(Result<String, Error>),
}

/// A chunk of steps takes about this long, so requests wait at most this.
const CHUNK: Duration = Duration::from_millis(20);
/// Mappings are published at most this often.
const MIN_MAP_INTERVAL: Duration = Duration::from_millis(16);
/// Mapping the grid may take at most this share of the thread's time while it trains.
const MAX_MAP_SHARE: f64 = 0.1;
/// The most steps a chunk takes.
const MAX_CHUNK: usize = 1000;
/// Chunks a page keeps queued on a GPU at most: one a frame, while earlier ones come back.
#[cfg(target_arch = "wasm32")]
const MAX_CHUNKS_IN_FLIGHT: usize = 2;
/// How often a thread with a mapping ready looks whether the app took the last one.
#[cfg(not(target_arch = "wasm32"))]
const UNREAD_POLL: Duration = Duration::from_millis(4);

/// The app's handle on the training thread. Dropping it ends the thread after its current
/// chunk.
pub(crate) struct TrainingWorker {
    requests: Sender<Request>,
    /// In a mutex only so the handle can live in a Bevy resource (`Receiver` is not `Sync`);
    /// it is never contended.
    reports: Mutex<Receiver<Report>>,
    /// Set while a mapping is sent and not yet received, so the thread maps no faster than the
    /// app looks.
    mapping_unread: Arc<AtomicBool>,
    #[cfg(not(target_arch = "wasm32"))]
    thread: Option<std::thread::JoinHandle<()>>,
    /// In the browser the worker runs inside the frame; `None` once it has stopped.
    /// In a mutex only so the handle can live in a Bevy resource; never contended.
    #[cfg(target_arch = "wasm32")]
    inline: Mutex<Option<Worker>>,
}

impl TrainingWorker {
    /// Starts the thread, which creates a network from `config` on `device`.
    pub fn spawn(
        device: TrainingDevice,
        config: TrainConfig,
        running: bool,
        limit: Option<f64>,
    ) -> Result<Self, Error> {
        let (requests, requested) = channel();
        let (reporter, reports) = channel();
        let mapping_unread = Arc::new(AtomicBool::new(false));
        let unread = mapping_unread.clone();
        #[cfg(not(target_arch = "wasm32"))]
        let thread = std::thread::Builder::new()
            .name("neural sphere training".into())
            .spawn(move || {
                let Some(worker) = Worker::start(device, config, requested, reporter, unread)
                else {
                    return;
                };
                worker.run(running, limit);
            })
            .map_err(|e| Error::Config(format!("cannot start the training thread: {e}")))?;
        #[cfg(target_arch = "wasm32")]
        let inline = Mutex::new(
            Worker::start(device, config, requested, reporter, unread).map(|mut w| {
                w.begin(running, limit);
                w
            }),
        );
        Ok(Self {
            requests,
            reports: Mutex::new(reports),
            mapping_unread,
            #[cfg(not(target_arch = "wasm32"))]
            thread: Some(thread),
            #[cfg(target_arch = "wasm32")]
            inline,
        })
    }

    /// Takes the queued requests, then trains (and maps) for about `budget`: the browser's
    /// training, within the frame. Every step taken is reported before it returns.
    #[cfg(target_arch = "wasm32")]
    pub fn train_for(&mut self, budget: Duration) {
        let inline = self
            .inline
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(worker) = inline.as_mut() else {
            return;
        };
        let started = Instant::now();
        if !worker.take_requests(Some(started)) {
            *inline = None;
            return;
        }
        worker.pacing.begin_frame(worker.in_flight.is_empty());
        loop {
            let left = budget.saturating_sub(started.elapsed());
            if left.is_zero() || !worker.turn(left) {
                break;
            }
        }
        worker.settle();
    }

    /// Queues a request; the thread takes it before its next chunk.
    pub fn send(&self, request: Request) {
        // A thread that has stopped says why through `reports`.
        let _ = self.requests.send(request);
    }

    /// The reports sent since the last call, and, once the thread has stopped, why it did.
    pub fn reports(&mut self) -> (Vec<Report>, Option<String>) {
        let mut reports = Vec::new();
        let receiver = self
            .reports
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            match receiver.try_recv() {
                Ok(report) => {
                    if matches!(report, Report::Mapped { .. }) {
                        self.mapping_unread.store(false, Ordering::Release);
                    }
                    reports.push(report);
                }
                Err(TryRecvError::Empty) => return (reports, None),
                Err(TryRecvError::Disconnected) => return (reports, Some(self.stopped())),
            }
        }
    }

    /// Why the thread stopped.
    #[cfg(not(target_arch = "wasm32"))]
    fn stopped(&mut self) -> String {
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Err(panic)) => panic_message(panic.as_ref()),
            _ => "the training thread stopped".into(),
        }
    }

    /// Why the training stopped (in the browser a panic ends the whole page).
    #[cfg(target_arch = "wasm32")]
    fn stopped(&mut self) -> String {
        *self
            .inline
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = None;
        "the training stopped".into()
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let message = (panic.downcast_ref::<String>().map(String::as_str))
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("no message");
    format!("training stopped: {message}")
}

/// The training thread's state.
struct Worker {
    device: TrainingDevice,
    network: Trainer,
    requests: Receiver<Request>,
    reports: Sender<Report>,
    mapping_unread: Arc<AtomicBool>,
    phase: TrainingPhase,
    running: bool,
    /// Steps still to take whether or not training runs.
    single_steps: usize,
    /// Steps per second at most, counted from `limit_since`.
    limit: Option<f64>,
    limit_since: (Instant, usize),
    /// The steps taken last, whose losses are still coming back, oldest first.
    in_flight: VecDeque<PendingSteps>,
    /// How large the GPU's chunk is, in a browser.
    #[cfg(target_arch = "wasm32")]
    pacing: Pacing,
    /// The network's recoveries reported so far.
    recoveries_reported: usize,
    /// Whether the network's having stopped for good has been reported.
    stuck_reported: bool,
    seconds_per_step: f64,
    /// The first step has not run yet on this device (kernels compile then).
    cold: bool,
    /// What to map, and where.
    points: Vec<[f32; 2]>,
    target: Option<GpuTarget>,
    /// Bumped when the network is replaced, so that its mappings count as new.
    generation: u64,
    /// The (generation, steps) the latest mapping shows.
    mapped: Option<(u64, usize)>,
    last_map: Option<Instant>,
    map_seconds: f64,
    /// The latest mapping, until it is back on the host.
    reading: Option<MappingRead>,
    /// Checkpoints to save, until their networks are back on the host.
    saving: VecDeque<(PathBuf, Reading<Checkpoint>)>,
    /// Reads of a replaced network, polled until they are back and then dropped: in a browser
    /// one dropped on its way leaves its buffer mapped, and the next read that reuses the
    /// buffer fails.
    abandoned: Vec<Box<dyn FnMut() -> bool + Send>>,
    read_back: bool,
    show_batch: bool,
}

/// A mapping of the network on its way to the app.
struct MappingRead {
    /// The network's generation and steps when it was mapped.
    generation: u64,
    step: usize,
    /// The mapping was written to the GPU target.
    on_gpu: bool,
    /// The mapping, when the host needs it.
    host: Option<Reading<Vec<[f32; 3]>>>,
    /// The latest training batch and its mapping with dropout on, when it is shown.
    batch: Option<(Vec<[f32; 2]>, Reading<Vec<[f32; 3]>>)>,
}

impl Worker {
    /// Creates the first network; a config that cannot train is reported and ends the thread.
    fn start(
        device: TrainingDevice,
        config: TrainConfig,
        requests: Receiver<Request>,
        reports: Sender<Report>,
        mapping_unread: Arc<AtomicBool>,
    ) -> Option<Self> {
        let network = match Trainer::new(config, &device) {
            Ok(network) => network,
            Err(e) => {
                let _ = reports.send(Report::Done(Err(e)));
                return None;
            }
        };
        let worker = Self {
            cold: matches!(device, TrainingDevice::Wgpu(_)),
            device,
            network,
            requests,
            reports,
            mapping_unread,
            phase: TrainingPhase::Starting,
            running: false,
            single_steps: 0,
            limit: None,
            limit_since: (Instant::now(), 0),
            in_flight: VecDeque::new(),
            #[cfg(target_arch = "wasm32")]
            pacing: Pacing::new(MAX_CHUNK),
            recoveries_reported: 0,
            stuck_reported: false,
            seconds_per_step: 1e-3,
            points: Vec::new(),
            target: None,
            generation: 0,
            mapped: None,
            last_map: None,
            map_seconds: 0.0,
            reading: None,
            saving: VecDeque::new(),
            abandoned: Vec::new(),
            read_back: false,
            show_batch: false,
        };
        worker.report_network(None);
        Some(worker)
    }

    fn begin(&mut self, running: bool, limit: Option<f64>) {
        self.running = running;
        self.set_limit(limit);
        self.update_phase();
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn run(mut self, running: bool, limit: Option<f64>) {
        self.begin(running, limit);
        loop {
            let wake = self.wake_at();
            if !self.take_requests(wake) {
                return;
            }
            self.turn(CHUNK);
        }
    }

    /// Maps the points if that is due, then takes a chunk of steps lasting about `chunk`, or
    /// reports the steps in flight when there are none to take. Returns whether it trained.
    fn turn(&mut self, chunk: Duration) -> bool {
        self.abandoned.retain_mut(|back| !back());
        self.finish_saving();
        self.finish_mapping();
        if self.mapping_due() {
            self.publish_mapping();
        }
        self.forget_idle_credit();
        #[cfg(target_arch = "wasm32")]
        let on_gpu = matches!(self.device, TrainingDevice::Wgpu(_));
        #[cfg(target_arch = "wasm32")]
        {
            self.settle();
            if on_gpu && (!self.pacing.trains() || self.in_flight.len() >= MAX_CHUNKS_IN_FLIGHT) {
                return false;
            }
        }
        let steps = self.steps_now(chunk);
        if steps > 0 {
            self.train(steps);
        } else {
            self.settle();
        }
        // In a browser a GPU gets one chunk a frame.
        #[cfg(target_arch = "wasm32")]
        if on_gpu {
            return false;
        }
        steps > 0
    }

    fn send(&self, report: Report) {
        let _ = self.reports.send(report);
    }

    fn report_network(&self, loaded: Option<PathBuf>) {
        self.send(Report::Network {
            config: self.network.config().clone(),
            steps: self.network.steps_done(),
            loaded,
            path: self.network.training_path(),
        });
    }

    /// When the thread next has something to do without a request: `None` is never.
    #[cfg(not(target_arch = "wasm32"))]
    fn wake_at(&self) -> Option<Instant> {
        let now = Instant::now();
        if self.single_steps > 0 || !self.in_flight.is_empty() {
            return Some(now);
        }
        let mut wake = None;
        if self.running {
            wake = Some(self.next_step_allowed().unwrap_or(now));
        }
        if self.mapping_stale() {
            let unread = self.mapping_unread.load(Ordering::Acquire);
            let due = self.map_allowed_at().max(now);
            let at = if unread { now + UNREAD_POLL } else { due };
            wake = Some(wake.map_or(at, |w: Instant| w.min(at)));
        }
        wake
    }

    /// Takes every queued request, first waiting for one until `wake` (`None`: until one
    /// comes). Returns false once the app has dropped its handle.
    fn take_requests(&mut self, wake: Option<Instant>) -> bool {
        let first = match wake {
            None => self
                .requests
                .recv()
                .map_err(|_| RecvTimeoutError::Disconnected),
            Some(at) => match at.checked_duration_since(Instant::now()) {
                Some(wait) if !wait.is_zero() => self.requests.recv_timeout(wait),
                _ => Err(RecvTimeoutError::Timeout),
            },
        };
        match first {
            Ok(request) => self.handle(request),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return false,
        }
        loop {
            match self.requests.try_recv() {
                Ok(request) => self.handle(request),
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn handle(&mut self, request: Request) {
        match request {
            Request::Run(running) => {
                self.running = running && !self.refuse_if_stuck();
                self.limit_since = (Instant::now(), self.network.steps_done());
            }
            Request::Steps(n) => {
                if !self.refuse_if_stuck() {
                    self.single_steps = self.single_steps.saturating_add(n);
                }
            }
            Request::Reset(config) => {
                self.settle();
                match Trainer::new(config, &self.device) {
                    Ok(network) => self.replace(network, None),
                    Err(e) => self.send(Report::Done(Err(e))),
                }
            }
            Request::Load(path, contents) => {
                self.settle();
                let checkpoint = match contents {
                    Some(bytes) => Checkpoint::from_bytes(&path, bytes.to_vec()),
                    None => Checkpoint::load(&path),
                };
                match checkpoint.and_then(|c| Trainer::resume(c, &self.device)) {
                    Ok(network) => self.replace(network, Some(path)),
                    // A checkpoint that does not load leaves the network as it is.
                    Err(e) => self.send(Report::Done(Err(e))),
                }
            }
            Request::Save(path) => {
                self.settle();
                let read = Reading::Pending(self.network.checkpoint_later());
                self.saving.push_back((path, read));
                self.finish_saving();
            }
            Request::Retune { lr, batch } => {
                if let Err(e) = self.network.retune(lr, batch) {
                    self.send(Report::Done(Err(e)));
                }
            }
            Request::Limit(limit) => self.set_limit(limit),
            Request::Map { points, target } => {
                self.points = points;
                self.target = target;
                self.mapped = None;
            }
            Request::ReadBack => {
                self.read_back = true;
                self.mapped = None;
            }
            Request::ShowBatch(show) => {
                self.show_batch = show;
                self.mapped = None;
            }
        }
        self.update_phase();
    }

    fn replace(&mut self, network: Trainer, loaded: Option<PathBuf>) {
        // What is still coming back from the old network is of no use (in a browser, which
        // does not wait for it, some may be).
        for mut steps in self.in_flight.drain(..) {
            self.abandoned.push(Box::new(move || steps.is_ready()));
        }
        if let Some(MappingRead { host, batch, .. }) = self.reading.take() {
            let reads = host.into_iter().chain(batch.map(|(_, read)| read));
            for mut read in reads {
                self.abandoned.push(Box::new(move || read.poll()));
            }
        }
        self.network = network;
        self.recoveries_reported = 0;
        self.stuck_reported = false;
        self.generation += 1;
        self.mapped = None;
        self.limit_since = (Instant::now(), self.network.steps_done());
        self.report_network(loaded);
    }

    fn set_limit(&mut self, limit: Option<f64>) {
        self.limit = limit.filter(|l| l.is_finite() && *l > 0.0);
        self.limit_since = (Instant::now(), self.network.steps_done());
    }

    fn update_phase(&mut self) {
        let phase = match (self.running || self.single_steps > 0, self.cold) {
            (false, _) => TrainingPhase::Paused,
            (true, true) => TrainingPhase::PreparingKernels,
            (true, false) => TrainingPhase::Training,
        };
        if phase != self.phase {
            if phase == TrainingPhase::Paused {
                // Every step taken is reported before the pause is.
                self.settle();
            }
            self.phase = phase;
            self.send(Report::Phase(phase));
        }
    }

    /// Keeps a step limit a cap on the rate from now on: time spent not training (starting,
    /// mapping, waiting for the machine) earns no burst of steps later.
    fn forget_idle_credit(&mut self) {
        let Some(rate) = self.limit else {
            return;
        };
        let (since, at) = self.limit_since;
        let taken = self.network.steps_done().saturating_sub(at) as f64;
        let earned = since.elapsed().as_secs_f64() * rate;
        let slack = (rate * CHUNK.as_secs_f64()).max(1.0);
        if earned - taken > slack {
            let owed = Duration::from_secs_f64(slack / rate);
            let now = Instant::now();
            self.limit_since = (
                now.checked_sub(owed).unwrap_or(now),
                self.network.steps_done(),
            );
        }
    }

    /// When the step limit allows the next step, if it does not now.
    #[cfg(not(target_arch = "wasm32"))]
    fn next_step_allowed(&self) -> Option<Instant> {
        let rate = self.limit?;
        let (since, at) = self.limit_since;
        let taken = self.network.steps_done().saturating_sub(at) as f64;
        let allowed = since + Duration::from_secs_f64(taken / rate);
        (allowed > Instant::now()).then_some(allowed)
    }

    /// How many steps to take now, in a chunk lasting about `chunk`.
    fn steps_now(&self, chunk: Duration) -> usize {
        if self.cold && (self.running || self.single_steps > 0) {
            // One step alone while the kernels compile, so the phase changes as soon as they are.
            return 1;
        }
        let chunk = (chunk.as_secs_f64() / self.seconds_per_step.max(1e-7)) as usize;
        #[cfg(target_arch = "wasm32")]
        let chunk = match self.device {
            TrainingDevice::Wgpu(_) => chunk.min(self.pacing.chunk()),
            TrainingDevice::Cpu => chunk,
        };
        let chunk = chunk.clamp(1, MAX_CHUNK);
        if !self.running {
            return self.single_steps.min(chunk);
        }
        let Some(rate) = self.limit else {
            return chunk;
        };
        let (since, at) = self.limit_since;
        let taken = self.network.steps_done().saturating_sub(at);
        let allowed = (since.elapsed().as_secs_f64() * rate) as usize + 1;
        allowed.saturating_sub(taken).min(chunk)
    }

    /// Takes `steps` steps and reports the previous chunk, whose losses have had the time of
    /// this one to come back.
    fn train(&mut self, steps: usize) {
        // On the CPU, other spheres' threads take their chunks in turn with this one.
        #[cfg(not(target_arch = "wasm32"))]
        let _turn = matches!(self.device, TrainingDevice::Cpu).then(super::cpu_turns::take_turn);
        let started = Instant::now();
        let pending = self.network.train_deferred(steps);
        self.single_steps = self.single_steps.saturating_sub(steps);
        self.in_flight.push_back(pending);
        #[cfg(target_arch = "wasm32")]
        self.pacing.queued(steps);
        // Elsewhere than in a browser, the steps before come back while these are computed.
        #[cfg(not(target_arch = "wasm32"))]
        while self.in_flight.len() > 1 {
            let previous = self.in_flight.pop_front().expect("there are two");
            self.collect(previous);
        }
        let per_step = started.elapsed().as_secs_f64() / steps as f64;
        if self.cold {
            self.cold = false;
            // The kernels are compiled and tuned: the first step says nothing about the speed.
            self.settle();
            self.update_phase();
        } else {
            self.seconds_per_step = 0.7 * self.seconds_per_step + 0.3 * per_step;
        }
        if self.single_steps == 0 && !self.running {
            self.settle();
            self.update_phase();
        }
    }

    /// Reports the steps whose losses are still coming back.
    #[cfg(not(target_arch = "wasm32"))]
    fn settle(&mut self) {
        while let Some(pending) = self.in_flight.pop_front() {
            self.collect(pending);
        }
    }

    /// Reports the steps in flight whose losses are back, in order: a page cannot wait for
    /// them.
    #[cfg(target_arch = "wasm32")]
    fn settle(&mut self) {
        while self
            .in_flight
            .front_mut()
            .is_some_and(PendingSteps::is_ready)
        {
            let pending = self.in_flight.pop_front().expect("looked at");
            self.collect(pending);
        }
    }

    /// Reports the steps of `pending` once their losses are back, and the recoveries they
    /// caused; losses that cannot be read stop training with the error.
    fn collect(&mut self, pending: PendingSteps) {
        let stats = match self.network.collect(pending) {
            Ok(stats) => stats,
            Err(e) => {
                self.running = false;
                self.single_steps = 0;
                self.send(Report::Done(Err(e)));
                return;
            }
        };
        self.send(Report::Trained(stats));
        let recoveries = &self.network.recoveries()[self.recoveries_reported..];
        if let Some(latest) = recoveries.last() {
            let latest = latest.clone();
            self.recoveries_reported += recoveries.len();
            self.send(Report::Recovered(latest));
            // The network went back: what it maps now is new.
            self.generation += 1;
        }
        if self.network.stuck().is_some() && !self.stuck_reported {
            self.stuck_reported = true;
            // It went back to its last finite network before it stopped.
            self.generation += 1;
            self.refuse_if_stuck();
        }
    }

    /// Once the network has stopped for good, stops training and says why; returns whether it
    /// had.
    fn refuse_if_stuck(&mut self) -> bool {
        let Some(why) = self.network.stuck() else {
            return false;
        };
        let error = Error::Training(why.to_string());
        self.running = false;
        self.single_steps = 0;
        self.send(Report::Done(Err(error)));
        true
    }

    /// The points need mapping again: the network changed since the latest mapping, or the app
    /// asked for one.
    fn mapping_stale(&self) -> bool {
        !self.points.is_empty() && self.mapped != Some((self.generation, self.network.steps_done()))
    }

    /// Mapping costs at most [`MAX_MAP_SHARE`] of the time while training.
    fn map_allowed_at(&self) -> Instant {
        let Some(last) = self.last_map else {
            return Instant::now();
        };
        let training = self.running || self.single_steps > 0;
        let spacing = match training {
            true => (self.map_seconds / MAX_MAP_SHARE).max(MIN_MAP_INTERVAL.as_secs_f64()),
            false => 0.0,
        };
        last + Duration::from_secs_f64(spacing)
    }

    fn mapping_due(&self) -> bool {
        self.reading.is_none()
            && self.mapping_stale()
            && !self.mapping_unread.load(Ordering::Acquire)
            && self.map_allowed_at() <= Instant::now()
    }

    /// Maps the points: into the GPU target where there is one, and back to the host where the
    /// app needs them there; [`Worker::finish_mapping`] sends what came back.
    fn publish_mapping(&mut self) {
        let started = Instant::now();
        let on_gpu = match &self.target {
            Some(target) => match self.network.eval_into(&self.points, target) {
                Ok(()) => true,
                Err(e) => {
                    // Say once why, then map on the host from now on.
                    self.send(Report::Done(Err(Error::Gpu(format!(
                        "the positions are mapped on the host from now on: {e}"
                    )))));
                    self.target = None;
                    false
                }
            },
            None => false,
        };
        let host = (!on_gpu || self.read_back).then(|| self.network.eval_later(&self.points));
        let batch = self.show_batch.then(|| {
            let points = self.network.last_batch().to_vec();
            let mapped = self.network.map_with_dropout_later(&points);
            (points, Reading::Pending(mapped))
        });
        self.reading = Some(MappingRead {
            generation: self.generation,
            step: self.network.steps_done(),
            on_gpu,
            host: host.map(Reading::Pending),
            batch,
        });
        self.finish_mapping();
        self.last_map = Some(Instant::now());
        self.map_seconds = started.elapsed().as_secs_f64();
    }

    /// Sends the mapping in progress once it is back on the host (at once, but in a browser).
    fn finish_mapping(&mut self) {
        let Some(reading) = self.reading.as_mut() else {
            return;
        };
        let host_back = reading.host.as_mut().is_none_or(Reading::poll);
        let batch_back = reading.batch.as_mut().is_none_or(|(_, b)| b.poll());
        if !(host_back && batch_back) {
            return;
        }
        let MappingRead {
            generation,
            step,
            on_gpu,
            host,
            batch,
        } = self.reading.take().expect("looked at");
        if generation != self.generation {
            // The network changed while its mapping came back.
            return;
        }
        // A network that went non-finite, whose steps are not collected yet, maps nowhere: the
        // points keep their positions until the collect brings it back.
        let host = host
            .and_then(|h| self.host_values(h))
            .filter(|h| all_finite(h));
        if !on_gpu && host.is_none() {
            return;
        }
        self.read_back &= host.is_none();
        self.mapping_unread.store(true, Ordering::Release);
        self.send(Report::Mapped { step, on_gpu, host });
        if let Some((points, mapped)) = batch
            && let Some(mapped) = self.host_values(mapped).filter(|m| all_finite(m))
        {
            self.send(Report::Batch { points, mapped });
        }
        self.mapped = Some((generation, step));
    }

    /// Sends the checkpoints whose networks are back on the host, in order.
    fn finish_saving(&mut self) {
        while let Some((_, read)) = self.saving.front_mut()
            && read.poll()
        {
            let (path, read) = self.saving.pop_front().expect("looked at");
            self.send(Report::Checkpoint {
                path: path.with_extension(CHECKPOINT_EXTENSION),
                bytes: read.take().and_then(Checkpoint::to_bytes),
            });
        }
    }

    /// What a read brought back, or nothing after saying why it failed.
    fn host_values(&self, reading: Reading<Vec<[f32; 3]>>) -> Option<Vec<[f32; 3]>> {
        reading
            .take()
            .map_err(|e| self.send(Report::Done(Err(Error::Gpu(format!("a read failed: {e}"))))))
            .ok()
    }
}

fn all_finite(positions: &[[f32; 3]]) -> bool {
    positions.iter().flatten().all(|c| c.is_finite())
}
