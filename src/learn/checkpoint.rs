//! Saving and loading trained networks.
//!
//! A checkpoint is one MessagePack file (burn's `NamedMpkFileRecorder`, full precision) that
//! holds the weights, the [`TrainConfig`] they were trained with and the number of steps.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Record, Recorder};

use super::model::{SphereNet, SphereNetRecord};
use super::trainer::TrainConfig;
use crate::Error;

/// The file extension checkpoints are written with.
pub const CHECKPOINT_EXTENSION: &str = "mpk";

#[derive(Record)]
struct CheckpointRecord<B: Backend> {
    config: String,
    steps: usize,
    model: SphereNetRecord<B>,
}

/// A trained network with what it was trained with.
#[derive(Debug)]
pub struct Checkpoint<B: Backend> {
    /// The hyper-parameters of the run.
    pub config: TrainConfig,
    /// Steps the network was trained for.
    pub steps: usize,
    /// The network.
    pub model: SphereNet<B>,
}

fn recorder() -> NamedMpkFileRecorder<FullPrecisionSettings> {
    NamedMpkFileRecorder::new()
}

impl<B: Backend> Checkpoint<B> {
    /// Writes the checkpoint to `path` (its extension becomes `.mpk`) and returns the path
    /// written.
    pub fn save(self, path: &Path) -> Result<PathBuf, Error> {
        let path = path.with_extension(CHECKPOINT_EXTENSION);
        let record = CheckpointRecord::<B> {
            config: burn::config::config_to_json(&self.config),
            steps: self.steps,
            model: self.model.into_record(),
        };
        Recorder::<B>::record(&recorder(), record, path.clone()).map_err(|e| {
            Error::Checkpoint {
                path: path.clone(),
                reason: e.to_string(),
            }
        })?;
        Ok(path)
    }

    /// Reads a checkpoint written by [`Checkpoint::save`].
    ///
    /// A missing, corrupt or inconsistent file is an error; nothing panics.
    pub fn load(path: &Path, device: &B::Device) -> Result<Self, Error> {
        let fail = |reason: String| Error::Checkpoint {
            path: path.to_path_buf(),
            reason,
        };
        if !path.is_file() {
            return Err(fail("no such file".into()));
        }
        let record: CheckpointRecord<B> =
            Recorder::<B>::load(&recorder(), path.to_path_buf(), device)
                .map_err(|e| fail(format!("not a checkpoint of this crate ({e})")))?;
        let config = TrainConfig::load_binary(record.config.as_bytes())
            .map_err(|e| fail(format!("unreadable training config ({e})")))?;
        config.validate().map_err(|e| fail(e.to_string()))?;

        let expected = config.model.layer_shapes();
        let found: Vec<[usize; 2]> = (record.model.hidden.iter())
            .chain(std::iter::once(&record.model.output))
            .map(|linear| linear.weight.dims())
            .collect();
        if expected != found {
            return Err(fail(format!(
                "its weights have layer shapes {found:?}, its config says {expected:?}"
            )));
        }
        check_values(&record.model, config.clamp).map_err(fail)?;
        // The initial values are overwritten by the record.
        let mut rng = <rand::rngs::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(0);
        let model = config
            .model
            .init(&mut rng, device)
            .load_record(record.model);
        Ok(Self {
            config,
            steps: record.steps,
            model,
        })
    }
}

/// Refuses weights and biases that are not finite or lie outside the clamp the run applied
/// after every step: no run of this crate writes them, and a network with them maps nothing.
fn check_values<B: Backend>(model: &SphereNetRecord<B>, clamp: f32) -> Result<(), String> {
    let layers = model.hidden.iter().chain(std::iter::once(&model.output));
    for (layer, linear) in (1..).zip(layers) {
        let weights = Some(("weights", linear.weight.val().into_data()));
        let biases = (linear.bias.as_ref()).map(|b| ("biases", b.val().into_data()));
        for (what, values) in weights.into_iter().chain(biases) {
            if let Some(v) = values.iter::<f32>().find(|v| !v.is_finite()) {
                return Err(format!(
                    "layer {layer} has {what} that are not finite ({v})"
                ));
            }
            if let Some(v) = values.iter::<f32>().find(|v| v.abs() > clamp) {
                return Err(format!(
                    "layer {layer} has {what} of {v}, outside the clamp of ±{clamp} it was \
                     trained with"
                ));
            }
        }
    }
    Ok(())
}
