//! The loss trace of a run, in constant memory however long it trains.

use std::collections::VecDeque;

use super::trainer::StepStats;

/// Steps kept at full resolution.
const RECENT_STEPS: usize = 1000;
/// Buckets of older steps kept; when they fill up, neighbours merge and each bucket spans
/// twice as many steps.
const MAX_BUCKETS: usize = 1000;

/// Older steps summarised: their losses' minimum, mean and maximum.
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
    /// The most points [`LossHistory::curve`] returns.
    pub const MAX_CURVE_POINTS: usize = RECENT_STEPS + MAX_BUCKETS + 1;
    /// The most points [`LossHistory::spread`] returns.
    pub const MAX_SPREAD_POINTS: usize = RECENT_STEPS + 2 * (MAX_BUCKETS + 1);

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

    /// The curve to plot: `[step, loss]` for each bucket's mean, then for each recent step; at
    /// most [`LossHistory::MAX_CURVE_POINTS`] points.
    pub fn curve(&self) -> Vec<[f64; 2]> {
        let buckets = self.buckets().map(|b| {
            let centre = b.first_step as f64 + (b.steps as f64 - 1.0) / 2.0;
            [centre, b.mean as f64]
        });
        buckets.chain(self.recent_curve()).collect()
    }

    /// How far the loss ranges: each bucket's minimum and maximum, then each recent step; at
    /// most [`LossHistory::MAX_SPREAD_POINTS`] points. Drawn as a line, the older steps fill
    /// the same band their single losses would.
    pub fn spread(&self) -> Vec<[f64; 2]> {
        let buckets = self.buckets().flat_map(|b| {
            let first = b.first_step as f64;
            let extremes = [
                [first, b.min as f64],
                [first + (b.steps / 2) as f64, b.max as f64],
            ];
            extremes.into_iter().take(if b.steps > 1 { 2 } else { 1 })
        });
        buckets.chain(self.recent_curve()).collect()
    }

    fn recent_curve(&self) -> impl Iterator<Item = [f64; 2]> + '_ {
        self.recent.iter().map(|s| [s.step as f64, s.loss as f64])
    }
}

impl Extend<StepStats> for LossHistory {
    fn extend<I: IntoIterator<Item = StepStats>>(&mut self, steps: I) {
        steps.into_iter().for_each(|s| self.push(s));
    }
}
