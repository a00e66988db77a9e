//! How a browser page sizes the chunks of steps it queues on a GPU, one a frame. It cannot time
//! the GPU, which computes the steps in the queue it draws from, but it sees what they cost in
//! frame time. Every [`UNTRAINED_EVERY`] frames it queues nothing until no step is in flight,
//! and the frame after that one is a frame without training. Chunks grow while frames are at
//! most a fifth longer than that (on a GPU that waits for the display: until training fills
//! what the frame leaves idle), and shrink while they are half again as long.

use web_time::Instant;

/// Steps of the first chunk, before the page knows how fast the device takes them.
const FIRST_CHUNK: f64 = 4.0;
/// How often, in frames, a page measures a frame without training.
const UNTRAINED_EVERY: u64 = 32;

/// The size of the next chunk, from the lengths of the frames.
pub(crate) struct Pacing {
    /// Steps of the next chunk, and the most it may have.
    chunk: f64,
    most: f64,
    /// Frames begun, and when the latest began.
    frame: u64,
    started: Option<Instant>,
    phase: Phase,
    /// Whether the frame under way queued a whole chunk.
    queued_whole: bool,
    /// The length of the latest frame without training, in seconds.
    untrained: Option<f64>,
}

/// What a frame does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Queues a chunk.
    Training,
    /// Queues none, until the steps in flight are back.
    Draining,
    /// Queues none with none in flight: its length is that of a frame without training.
    Measuring,
}

impl Pacing {
    /// Chunks of at most `most` steps.
    pub(crate) fn new(most: usize) -> Self {
        Self {
            chunk: FIRST_CHUNK,
            most: most as f64,
            frame: 0,
            started: None,
            phase: Phase::Draining,
            queued_whole: false,
            untrained: None,
        }
    }

    /// A frame begins, with steps in flight or not (`idle`): sizes its chunk from how long the
    /// last frame took.
    pub(crate) fn begin_frame(&mut self, idle: bool) {
        let now = Instant::now();
        if let Some(started) = self.started {
            let length = (now - started).as_secs_f64();
            match (self.phase, self.untrained) {
                (Phase::Measuring, _) => {
                    self.untrained = Some(length);
                    self.phase = Phase::Training;
                }
                (Phase::Training, Some(bare)) if length <= 1.2 * bare => {
                    if self.queued_whole {
                        self.chunk = (self.chunk * 1.25).min(self.most);
                    }
                }
                (Phase::Training, Some(bare)) if length > 1.5 * bare => {
                    self.chunk = (self.chunk * 0.8).max(1.0);
                }
                _ => {}
            }
        }
        self.started = Some(now);
        self.frame += 1;
        if self.phase == Phase::Training && self.frame % UNTRAINED_EVERY == 0 {
            self.phase = Phase::Draining;
        }
        if self.phase == Phase::Draining && idle {
            self.phase = Phase::Measuring;
        }
        self.queued_whole = false;
    }

    /// Whether the frame under way queues steps.
    pub(crate) fn trains(&self) -> bool {
        self.phase == Phase::Training
    }

    /// Steps of the frame's chunk.
    pub(crate) fn chunk(&self) -> usize {
        self.chunk as usize
    }

    /// The frame queued `steps` steps.
    pub(crate) fn queued(&mut self, steps: usize) {
        self.queued_whole |= steps as f64 >= self.chunk.floor();
    }
}
