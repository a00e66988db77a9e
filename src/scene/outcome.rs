//! What became of what a game asked of a sphere, as a typed event: [`SphereOutcome`],
//! triggered on the sphere's entity, beside the strings [`TrainingState`] shows.
//!
//! [`TrainingState`]: crate::TrainingState

use std::path::PathBuf;

use bevy::prelude::*;

/// What became of a command, a load or a save.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A checkpoint was written, here (a file, or a download in a browser).
    Saved(String),
    /// The mapping was exported, here.
    Exported(String),
    /// The network was replaced by a checkpoint's, trained for `steps` steps.
    Loaded {
        /// The file or asset it came from.
        from: PathBuf,
        /// Steps it was trained for.
        steps: usize,
    },
    /// A command, a load, a save or an export failed, or training stopped: the message is
    /// the one [`TrainingState::error`](crate::TrainingState::error) shows. The sphere keeps
    /// what it had.
    Failed(String),
}

/// What became of a command, a load or a save of one sphere, triggered on the sphere's entity
/// at the end of the frame that learnt it (in [`NeuralSphereSystems::Map`]). Observe one sphere
/// with `commands.entity(sphere).observe(|outcome: On<SphereOutcome>| ...)`, or all of them
/// with `app.add_observer`.
///
/// [`NeuralSphereSystems::Map`]: crate::NeuralSphereSystems::Map
#[derive(EntityEvent, Debug, Clone, PartialEq)]
pub struct SphereOutcome {
    /// The sphere.
    pub entity: Entity,
    /// What became of it.
    pub outcome: Outcome,
}
