//! What one launch of the fused step's kernels is told: its scalars, at the head of the buffer
//! that also holds its points (`H_*` in `common.wgsl`).

use super::groups;

/// Scalars before the points.
const HEAD: usize = 17;

/// What a launch of the kernels is for (`H_TRAIN`).
#[derive(Clone, Copy)]
pub(super) enum Mode {
    /// Maps points, no dropout; what is not finite lands at the origin.
    Evaluate = 0,
    /// A training step: dropout on, pre-activations saved.
    Train = 1,
    /// Maps points with dropout, saving nothing.
    Dropout = 2,
}

/// The scalars of one launch.
pub(super) struct Head {
    pub mode: Mode,
    /// Mixed into the run's seed for the dropout hash.
    pub seed: u32,
    /// The step the dropout hash is for.
    pub step: u32,
    /// Rows of the batch (all its passes), before the equal-area term's moved points.
    pub rows: usize,
    /// Points of the equal-area term (0 when it does not count).
    pub area_points: usize,
    /// Rows of one pass.
    pub batch: usize,
    pub lr: f32,
    /// Adam's bias corrections: the factor on the first moment, and ε's.
    pub adam: [f32; 2],
    /// How much of the running average each step keeps.
    pub average_keep: f32,
    /// Where the step's loss goes among the chunk's.
    pub slot: usize,
    pub temperature: f32,
    pub area_weight: f32,
    pub shape_weight: f32,
    /// Whether the running average of the parameters maps (else the trained ones).
    pub averaged: bool,
}

impl Head {
    /// Evaluation of `rows` points, by the running average of the parameters if `averaged`.
    pub(super) fn evaluate(rows: usize, averaged: bool) -> Self {
        Self {
            mode: Mode::Evaluate,
            seed: 0,
            step: 0,
            rows,
            area_points: 0,
            batch: rows,
            lr: 0.0,
            adam: [0.0; 2],
            average_keep: 0.0,
            slot: 0,
            temperature: 0.0,
            area_weight: 0.0,
            shape_weight: 0.0,
            averaged,
        }
    }

    /// The buffer: the scalars, then `points` and `moved` (two values a row). The run's own
    /// seed is `seed`, the parameters start at `base`, and `rows_per_group` rows go to a
    /// workgroup of the forward and backward kernels.
    pub(super) fn encode(
        &self,
        seed: u32,
        base: usize,
        rows_per_group: usize,
        points: &[f32],
        moved: Option<&[f32]>,
    ) -> Vec<f32> {
        let moved = moved.unwrap_or_default();
        let rows_total = (points.len() + moved.len()) / 2;
        let u = f32::from_bits;
        let mut values = vec![
            u(seed ^ self.seed),
            u(self.step),
            u(self.rows as u32),
            u(self.area_points as u32),
            u(self.batch as u32),
            self.lr,
            self.adam[0],
            self.adam[1],
            self.average_keep,
            u(self.slot as u32),
            self.temperature,
            self.area_weight,
            u(self.mode as u32),
            u(base as u32),
            u(rows_total as u32),
            u(groups(rows_total, rows_per_group)),
            self.shape_weight,
        ];
        debug_assert_eq!(values.len(), HEAD);
        values.extend_from_slice(points);
        values.extend_from_slice(moved);
        values
    }
}
