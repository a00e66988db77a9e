//! Surviving a run that goes non-finite: states to go back to, and what going back did.
//!
//! The trainer keeps the state it had at the start of each chunk of steps. A state counts as
//! good once the loss of its own step comes back finite (a non-finite parameter or moment
//! would have made that loss non-finite). When a later loss comes back non-finite, the trainer
//! returns to the newest good state, halves the learning rate and takes the steps again. A
//! good state whose gradient is not finite (its loss is) would fail the same way for ever: the
//! trainer falls back to the good state before it, and stops with an error when there is none.

use std::collections::VecDeque;
use std::fmt;

use rand::rngs::Xoshiro256PlusPlus;

/// Each recovery multiplies the learning rate by this.
pub(crate) const RECOVERY_LR_FACTOR: f64 = 0.5;

/// A return to the last finite state after a step's loss came back non-finite.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovery {
    /// The first step whose loss was not finite; training goes on from this step.
    pub step: usize,
    /// The step whose network and optimiser state training went back to.
    pub back_to: usize,
    /// The initial learning rate of the schedule from now on.
    pub lr: f64,
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "step {}: the loss was not finite; went back to the network of step {} and lowered \
             the learning rate to {:.3e}",
            self.step, self.back_to, self.lr
        )
    }
}

/// The trainer's state at the start of a step: the network's parameters and optimiser moments
/// (`S`, as the network that trains keeps them) and the random stream.
#[derive(Clone)]
pub(crate) struct Snapshot<S> {
    /// The step this state is at: the next step to take.
    pub step: usize,
    pub state: S,
    pub rng: Xoshiro256PlusPlus,
}

/// The states a run can go back to.
pub(crate) struct Snapshots<S> {
    /// The newest state whose step had a finite loss.
    good: Snapshot<S>,
    /// The good state before it, to fall back to when no step from `good` can be finite.
    older: Option<Snapshot<S>>,
    /// Recoveries to `good` so far; a second one restarts Adam's moments.
    returns_to_good: usize,
    /// States taken since, oldest first, whose steps' losses are not back yet.
    unchecked: VecDeque<Snapshot<S>>,
}

impl<S: Clone> Snapshots<S> {
    /// Starts from a state known to be finite: a fresh network, or a loaded checkpoint's.
    pub fn new(start: Snapshot<S>) -> Self {
        Self {
            good: start,
            older: None,
            returns_to_good: 0,
            unchecked: VecDeque::new(),
        }
    }

    /// Keeps `state` until the loss of its step is back.
    pub fn push(&mut self, state: Snapshot<S>) {
        self.unchecked.push_back(state);
    }

    /// Takes in the losses of steps from `first` on, in order: the states at steps with a
    /// finite loss become good. Returns the first step whose loss is not finite, if any.
    pub fn check(&mut self, first: usize, losses: &[f32]) -> Option<usize> {
        let bad = losses
            .iter()
            .position(|l| !l.is_finite())
            .map(|i| first + i);
        let checked_to = bad.unwrap_or(first + losses.len());
        while let Some(state) = self.unchecked.front() {
            if state.step >= checked_to {
                break;
            }
            let state = self.unchecked.pop_front().expect("looked at it");
            if state.step >= first {
                self.older = Some(std::mem::replace(&mut self.good, state));
                self.returns_to_good = 0;
            }
        }
        bad
    }

    /// Gives up the newest good state for the one before it, if there is one: every step from
    /// the newest goes non-finite. Returns the state to go back to instead.
    pub fn fall_back(&mut self) -> Option<Snapshot<S>> {
        self.good = self.older.take()?;
        self.returns_to_good = 1;
        Some(self.good.clone())
    }

    /// The state to go back to, and whether to keep its optimiser moments: not when going
    /// back to it once already did not hold.
    pub fn go_back(&mut self) -> (Snapshot<S>, bool) {
        self.unchecked.clear();
        self.returns_to_good += 1;
        (self.good.clone(), self.returns_to_good == 1)
    }
}
