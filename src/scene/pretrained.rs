//! Pretrained spheres: a sphere whose [`NeuralSphere::checkpoint`] names a [`SphereCheckpoint`]
//! asset starts from it. A paused one runs no training thread at all: its mapping is evaluated
//! once on a task pool when the asset arrives (and again when it is hot-reloaded), so it costs
//! a game nothing per frame.

use std::path::PathBuf;

use bevy::asset::LoadState;
use bevy::prelude::*;
use bevy::tasks::{AsyncComputeTaskPool, Task, futures::check_ready};

use super::checkpoint_asset::SphereCheckpoint;
use super::points::{PointWriter, SpherePoints};
use super::positions::SphereMapping;
use super::settings::NeuralSphere;
use super::training::{SphereTrainer, TrainingState};
use crate::Error;
use crate::learn::config::TrainConfig;
use crate::learn::ops::eval;
use crate::learn::worker::TrainingPhase;

/// One sphere's checkpoint as the plugin last applied it, and the evaluation of a paused
/// sphere's mapping under way.
#[derive(Component, Default)]
pub(crate) struct Pretrained {
    applied: Option<AssetId<SphereCheckpoint>>,
    failed: Option<AssetId<SphereCheckpoint>>,
    evaluating: Option<Task<Result<Evaluated, Error>>>,
}

/// A checkpoint's mapping of a sphere's grid.
struct Evaluated {
    positions: Vec<[f32; 3]>,
    config: TrainConfig,
    steps: usize,
    from: PathBuf,
}

/// Applies each sphere's checkpoint when it arrives or changes: the training thread (started
/// or not) is given it, and a paused sphere without a thread gets its mapping evaluated. A
/// checkpoint that fails to load is the sphere's error.
pub(crate) fn apply_checkpoints(
    mut spheres: Query<(
        &NeuralSphere,
        &SphereMapping,
        &mut SphereTrainer,
        &mut TrainingState,
        &mut Pretrained,
    )>,
    checkpoints: Res<Assets<SphereCheckpoint>>,
    mut changes: MessageReader<AssetEvent<SphereCheckpoint>>,
    asset_server: Res<AssetServer>,
) {
    let modified: Vec<_> = changes
        .read()
        .filter_map(|change| match change {
            AssetEvent::Modified { id } => Some(*id),
            _ => None,
        })
        .collect();
    for (settings, mapping, mut trainer, mut state, mut pretrained) in &mut spheres {
        let Some(handle) = &settings.checkpoint else {
            pretrained.applied = None;
            hold(&mut trainer, false);
            continue;
        };
        let id = handle.id();
        // Until the checkpoint is here, and while paused on it, no thread starts by itself.
        hold(&mut trainer, true);
        if let LoadState::Failed(e) = asset_server.load_state(id) {
            if pretrained.failed != Some(id) {
                state.failed(e);
                pretrained.failed = Some(id);
            }
            continue;
        }
        let Some(checkpoint) = checkpoints.get(id) else {
            continue;
        };
        hold(&mut trainer, settings.paused);
        if pretrained.applied == Some(id) && !modified.contains(&id) {
            continue;
        }
        pretrained.applied = Some(id);
        pretrained.failed = None;
        trainer.start_from(checkpoint.load_request());
        if trainer.dormant(settings) {
            let points = mapping.points.clone();
            let checkpoint = checkpoint.clone();
            pretrained.evaluating = Some(
                AsyncComputeTaskPool::get().spawn(async move { evaluate(checkpoint, points) }),
            );
        }
    }
}

/// Holds the sphere's thread back from starting by itself, or lets it; the trainer counts as
/// changed only when this changes.
fn hold(trainer: &mut Mut<SphereTrainer>, wait: bool) {
    if trainer.wait != wait {
        trainer.wait = wait;
    }
}

/// Maps `points` through the checkpoint's network on the CPU.
fn evaluate(checkpoint: SphereCheckpoint, points: Vec<[f32; 2]>) -> Result<Evaluated, Error> {
    let network = checkpoint.checkpoint()?;
    Ok(Evaluated {
        positions: eval(&network.model, &points, &Default::default()),
        config: network.config,
        steps: network.steps,
        from: checkpoint.path().to_path_buf(),
    })
}

/// Shows each evaluated mapping: the positions in the sphere's buffers and mapping, the steps
/// and configuration in its state.
pub(crate) fn show_evaluations(
    mut spheres: Query<(
        &mut Pretrained,
        &mut TrainingState,
        &mut SphereMapping,
        &SpherePoints,
    )>,
    writer: PointWriter,
) {
    for (mut pretrained, mut state, mut mapping, points) in &mut spheres {
        let Some(task) = pretrained.evaluating.as_mut() else {
            continue;
        };
        let Some(outcome) = check_ready(task) else {
            continue;
        };
        pretrained.evaluating = None;
        let evaluated = match outcome {
            Ok(evaluated) => evaluated,
            Err(e) => {
                state.failed(e);
                continue;
            }
        };
        // A grid changed since the evaluation started is mapped by the training thread.
        if evaluated.positions.len() != mapping.points.len() {
            continue;
        }
        writer.write_grid(points, &evaluated.positions);
        mapping.mapped = evaluated.positions;
        mapping.step = evaluated.steps;
        state.history.clear();
        state.steps = evaluated.steps;
        state.positions_step = Some(evaluated.steps);
        state.phase = TrainingPhase::Evaluated;
        state.trained_with = format!(
            "{} ({} steps): {}",
            evaluated.from.display(),
            evaluated.steps,
            evaluated.config.summary()
        );
        state.config = evaluated.config;
    }
}
