//! Waiting for work on other threads (training, pipelines compiling, a recording) without
//! assuming how fast this machine is: tests share two cores with each other, and CI's machine
//! may be busy with more. A wait goes on while what it waits for moves, and gives up only when
//! that stands still for minutes, or after half an hour in all.

use std::fmt::Debug;
use std::time::{Duration, Instant};

/// How long what a test waits for may stand still before the wait gives up: burn tunes its
/// kernels for minutes on software Vulkan before the first GPU step.
pub const STALL: Duration = Duration::from_secs(300);
/// The longest any wait goes on, moving or not.
pub const CAP: Duration = Duration::from_secs(1800);

/// One wait: fed where the thing stands after each poll, it panics, saying which limit it hit
/// and what it saw, when that has not changed for [`STALL`] or the wait has lasted [`CAP`].
pub struct Progress<P> {
    what: String,
    started: Instant,
    moved: Instant,
    /// Where it stood at the first poll, as the message shows it.
    first: String,
    last: Option<P>,
    polls: u64,
}

impl<P: PartialEq + Debug> Progress<P> {
    /// Starts waiting for `what`.
    pub fn new(what: &str) -> Self {
        let now = Instant::now();
        Self {
            what: what.to_owned(),
            started: now,
            moved: now,
            first: String::new(),
            last: None,
            polls: 0,
        }
    }

    /// Records where the thing stands now.
    pub fn check(&mut self, now: P) {
        self.polls += 1;
        if self.last.as_ref() != Some(&now) {
            if self.last.is_none() {
                self.first = format!("{now:?}");
            }
            self.moved = Instant::now();
        }
        let (waited, still) = (self.started.elapsed(), self.moved.elapsed());
        let seen = || {
            format!(
                "{} polls in {:.0} s, first {}, last {:?}",
                self.polls,
                waited.as_secs_f64(),
                self.first,
                now
            )
        };
        assert!(
            still < STALL,
            "gave up waiting for {}: nothing moved for {} s ({})",
            self.what,
            STALL.as_secs(),
            seen()
        );
        assert!(
            waited < CAP,
            "gave up waiting for {}: still not there after {} s, though it moved {:.0} s ago ({})",
            self.what,
            CAP.as_secs(),
            still.as_secs_f64(),
            seen()
        );
        self.last = Some(now);
    }
}
