//! A trained network as an asset: [`SphereCheckpoint`], the crate's `.mpk` checkpoints as the
//! `AssetServer` loads them, with [`SphereCheckpointLoader`].

use std::path::PathBuf;
use std::sync::Arc;

use bevy::asset::io::Reader;
use bevy::asset::{AssetLoader, LoadContext};
use bevy::prelude::*;

use crate::Error;
use crate::learn::checkpoint::{CHECKPOINT_EXTENSION, Checkpoint};
use crate::learn::config::TrainConfig;
use crate::learn::worker::Request;

/// A trained network as an asset: a checkpoint file (`.mpk`, as [`SphereCommand::Save`]
/// writes them) loaded by the `AssetServer`, checked whole when it loads. Give it to a sphere
/// with [`NeuralSphere::with_checkpoint`](crate::NeuralSphere::with_checkpoint).
///
/// [`SphereCommand::Save`]: crate::SphereCommand::Save
#[derive(Asset, TypePath, Debug, Clone)]
pub struct SphereCheckpoint {
    path: PathBuf,
    bytes: Arc<[u8]>,
    config: TrainConfig,
    steps: usize,
}

impl SphereCheckpoint {
    /// The hyper-parameters the network was trained with.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Steps the network was trained for.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The asset path it was loaded from.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The network, read again from the file's bytes (checked when the asset loaded).
    pub fn checkpoint(&self) -> Result<Checkpoint, Error> {
        Checkpoint::from_bytes(&self.path, self.bytes.to_vec())
    }

    /// The training thread's request that replaces its network with this one.
    pub(crate) fn load_request(&self) -> Request {
        Request::Load(self.path.clone(), Some(self.bytes.clone()))
    }
}

/// Loads [`SphereCheckpoint`]s from `.mpk` files. Bad bytes are a load error on the asset
/// (see `AssetServer::load_state`), never a panic.
#[derive(Default, TypePath)]
pub struct SphereCheckpointLoader;

impl AssetLoader for SphereCheckpointLoader {
    type Asset = SphereCheckpoint;
    type Settings = ();
    type Error = Error;

    async fn load(
        &self,
        reader: &mut dyn Reader,
        _settings: &(),
        context: &mut LoadContext<'_>,
    ) -> Result<SphereCheckpoint, Error> {
        let path = context.path().path().to_path_buf();
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .await
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        let checkpoint = Checkpoint::from_bytes(&path, bytes.clone())?;
        Ok(SphereCheckpoint {
            path,
            bytes: bytes.into(),
            config: checkpoint.config,
            steps: checkpoint.steps,
        })
    }

    fn extensions(&self) -> &[&str] {
        &[CHECKPOINT_EXTENSION]
    }
}
