//! The loss trace of a run, in constant memory however long it trains.

use std::collections::VecDeque;

use super::engine::StepStats;

/// Steps kept at full resolution.
const RECENT_STEPS: usize = 1000;
/// Buckets of older steps kept; when they fill up, neighbours merge and each bucket spans
/// twice as many steps.
const MAX_BUCKETS: usize = 1000;

/// A span of steps summarised: their losses' minimum, mean and maximum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossBucket {
    /// The first step in the bucket.
    pub first_step: usize,
    /// Steps in the bucket.
    pub steps: usize,
    /// Lowest loss.
    pub min: f32,
    /// Mean loss.
    pub mean: f32,
    /// Highest loss.
    pub max: f32,
}

impl LossBucket {
    fn of(stats: &StepStats) -> Self {
        Self {
            first_step: stats.step,
            steps: 1,
            min: stats.loss,
            mean: stats.loss,
            max: stats.loss,
        }
    }

    fn merge(self, other: Self) -> Self {
        let steps = self.steps + other.steps;
        let weighted = |a: f32, n: usize| a as f64 * n as f64;
        Self {
            first_step: self.first_step.min(other.first_step),
            steps,
            min: self.min.min(other.min),
            mean: ((weighted(self.mean, self.steps) + weighted(other.mean, other.steps))
                / steps as f64) as f32,
            max: self.max.max(other.max),
        }
    }
}

/// Every step of a recent window, and the older steps in at most [`LossHistory::MAX_BUCKETS`]
/// buckets of min, mean and max whose width doubles whenever they fill up: an hour at 1,000
/// steps a second takes as much memory as the first minute.
#[derive(Debug, Clone, Default)]
pub struct LossHistory {
    recent: VecDeque<StepStats>,
    buckets: Vec<LossBucket>,
    /// The bucket being filled, not yet `bucket_width` steps wide.
    filling: Option<LossBucket>,
    /// Steps per full bucket (1 until the buckets first fill up).
    bucket_width: usize,
    recorded: usize,
}

impl LossHistory {
    /// Steps kept at full resolution.
    pub const RECENT_STEPS: usize = RECENT_STEPS;
    /// The most buckets of older steps kept.
    pub const MAX_BUCKETS: usize = MAX_BUCKETS;

    /// Steps recorded since the last [`LossHistory::clear`].
    pub fn len(&self) -> usize {
        self.recorded
    }

    /// Whether no step has been recorded.
    pub fn is_empty(&self) -> bool {
        self.recorded == 0
    }

    /// The latest step.
    pub fn last(&self) -> Option<&StepStats> {
        self.recent.back()
    }

    /// The recent steps at full resolution, oldest first.
    pub fn recent(&self) -> impl ExactSizeIterator<Item = &StepStats> {
        self.recent.iter()
    }

    /// The older steps, summarised, oldest first.
    pub fn buckets(&self) -> impl Iterator<Item = &LossBucket> {
        self.buckets.iter().chain(&self.filling)
    }

    /// The lowest loss recorded.
    pub fn lowest(&self) -> Option<f32> {
        let old = self.buckets().map(|b| b.min);
        old.chain(self.recent.iter().map(|s| s.loss))
            .reduce(f32::min)
    }

    /// Forgets every step.
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Records one step.
    pub fn push(&mut self, stats: StepStats) {
        self.recorded += 1;
        self.recent.push_back(stats);
        if self.recent.len() <= RECENT_STEPS {
            return;
        }
        let old = LossBucket::of(&self.recent.pop_front().expect("the window is full"));
        let width = self.bucket_width.max(1);
        let bucket = match self.filling.take() {
            Some(filling) => filling.merge(old),
            None => old,
        };
        if bucket.steps < width {
            self.filling = Some(bucket);
            return;
        }
        self.buckets.push(bucket);
        if self.buckets.len() == MAX_BUCKETS {
            self.buckets = (self.buckets.chunks(2))
                .map(|pair| {
                    pair.iter()
                        .copied()
                        .reduce(LossBucket::merge)
                        .expect("chunks are not empty")
                })
                .collect();
            self.bucket_width = width * 2;
        }
    }

    /// The whole run in at most `columns` spans of about equal width, oldest first, each
    /// with its losses' minimum, mean and maximum: what a plot `columns` pixels wide can show.
    /// A bucket of older steps is never split, so a span is at least a bucket wide.
    pub fn columns(&self, columns: usize) -> Vec<LossBucket> {
        let oldest = self.buckets().next().map(|b| b.first_step);
        let Some(first) = oldest.or(self.recent.front().map(|s| s.step)) else {
            return Vec::new();
        };
        let last = self.last().map_or(first, |s| s.step);
        let span = (last + 1)
            .saturating_sub(first)
            .div_ceil(columns.max(1))
            .max(1);
        let recent = self.recent.iter().map(LossBucket::of);
        let mut merged: Vec<LossBucket> = Vec::new();
        for bucket in self.buckets().copied().chain(recent) {
            match merged.last_mut() {
                Some(column) if bucket.first_step < column.first_step + span => {
                    *column = column.merge(bucket);
                }
                _ => merged.push(bucket),
            }
        }
        merged
    }
}

impl Extend<StepStats> for LossHistory {
    fn extend<I: IntoIterator<Item = StepStats>>(&mut self, steps: I) {
        steps.into_iter().for_each(|s| self.push(s));
    }
}
