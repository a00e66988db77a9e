//! [`SphereCommand`]s: what a game (or the panel) asks of the plugin, and how each is carried
//! out.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bevy::prelude::*;

use super::orbit::RecordingStatus;
use super::output_file::write_output;
use super::points::PointWriter;
use super::positions::SphereMapping;
use super::settings::{ColourMode, SphereSettings};
use super::texture::{SphereImage, point_colour, texture_pixels};
use super::training::{SphereTrainer, TrainingState};
use crate::Error;
use crate::learn::backend::BackendKind;
use crate::learn::export::{grid_csv_bytes, ply_bytes};
use crate::learn::glb::{SurfacePaint, glb_bytes};
use crate::learn::grid::{grid_points, notebook_colour};
use crate::learn::worker::Request;

/// Commands a game sends to the plugin.
///
/// While an orbit recording runs, the commands that change the sphere (`Resume`, `Step`,
/// `Steps`, `Reset`, `SetGrid`, `Load`, `LoadContents`) wait until it ends, then apply in
/// order.
#[derive(Message, Debug, Clone)]
pub enum SphereCommand {
    /// Stop training.
    Pause,
    /// Train again.
    Resume,
    /// Take one training step, even while paused.
    Step,
    /// Take this many training steps, even while paused; added to any still to take, up to
    /// `usize::MAX`.
    Steps(usize),
    /// Start again from a fresh network initialised with this seed, with the current
    /// [`SphereSettings::train`] and [`SphereSettings::backend`].
    Reset {
        /// The new seed.
        seed: u64,
    },
    /// Colour the points from this image.
    SetImage(Handle<Image>),
    /// Re-spawn the points on a grid of this side (at least 2), their radius scaled with the
    /// grid's spacing.
    SetGrid(u32),
    /// Replace the network with a checkpoint's and go on training it; a file that cannot be
    /// loaded leaves the current network and sets [`TrainingState::error`].
    Load(PathBuf),
    /// [`SphereCommand::Load`] from a checkpoint file's contents (a web page's file input, a
    /// checkpoint compiled into a game); `name` names it in the panel and in errors.
    LoadContents {
        /// The file's name.
        name: PathBuf,
        /// The file's bytes.
        contents: Arc<[u8]>,
    },
    /// Save the network as a checkpoint (the extension becomes `.mpk`).
    Save(PathBuf),
    /// Write the mapped grid, once the current mapping has come back from the training thread:
    /// `.glb` (the surface as binary glTF, with the texture embedded, or the notebook's colours
    /// per vertex), `.ply` (points coloured as the points are) or `.csv` (`u,v,x,y,z`).
    Export(PathBuf),
}

impl SphereCommand {
    /// Whether the command changes the network or the grid, which a recording holds still.
    fn changes_the_sphere(&self) -> bool {
        matches!(
            self,
            Self::Resume
                | Self::Step
                | Self::Steps(_)
                | Self::Reset { .. }
                | Self::SetGrid(_)
                | Self::Load(_)
                | Self::LoadContents { .. }
        )
    }
}

/// Commands that change the sphere, held while a recording runs so that every frame of the
/// video shows one network, and carried out in order once it ends.
#[derive(Resource, Default)]
pub(crate) struct HeldCommands(Vec<SphereCommand>);

/// Exports waiting for the mapping to come back to the host.
#[derive(Resource, Default)]
pub(crate) struct PendingExports(Vec<PathBuf>);

#[allow(clippy::too_many_arguments)]
pub(crate) fn apply_commands(
    mut messages: MessageReader<SphereCommand>,
    mut settings: ResMut<SphereSettings>,
    mut trainer: ResMut<SphereTrainer>,
    mut state: ResMut<TrainingState>,
    mut image: ResMut<SphereImage>,
    mut mapping: ResMut<SphereMapping>,
    mut exports: ResMut<PendingExports>,
    mut held: ResMut<HeldCommands>,
    recording: Res<RecordingStatus>,
    mut points: PointWriter,
) {
    // Settings changed since the last frame apply before this frame's commands: a step
    // after a new learning rate takes it.
    trainer.forward(&settings);
    let recording = recording.is_busy();
    let released = match recording {
        true => Vec::new(),
        false => std::mem::take(&mut held.0),
    };
    for message in released.into_iter().chain(messages.read().cloned()) {
        if recording && message.changes_the_sphere() {
            state.report(Ok("training waits for the recording to end".into()));
            held.0.push(message);
            continue;
        }
        match message {
            SphereCommand::Pause => settings.paused = true,
            SphereCommand::Resume => settings.paused = false,
            SphereCommand::Step => trainer.send(Request::Steps(1)),
            SphereCommand::Steps(steps) => trainer.send(Request::Steps(steps)),
            SphereCommand::Reset { seed } => {
                // A config that cannot train keeps the current network and says why.
                let config = settings.train.clone().with_seed(seed);
                match config.validate() {
                    Ok(()) => {
                        state.error = None;
                        settings.train = config.clone();
                        if trainer.started_with(settings.backend) {
                            trainer.send(Request::Reset(config));
                        } else {
                            trainer.restart();
                        }
                    }
                    Err(e) => state.error = Some(e.to_string()),
                }
            }
            SphereCommand::SetImage(handle) => image.0 = handle,
            SphereCommand::SetGrid(grid) => {
                settings.regrid(grid);
                mapping.grid = settings.grid;
                mapping.points = grid_points(settings.grid as usize);
                mapping.mapped.clear();
                state.positions_step = None;
                points.regrid(&mapping.points);
                let target = trainer
                    .trains_on(BackendKind::Wgpu)
                    .then(|| points.gpu_target());
                trainer.send(Request::Map {
                    points: mapping.points.clone(),
                    target,
                });
            }
            SphereCommand::Load(path) => trainer.send(Request::Load(path, None)),
            SphereCommand::LoadContents { name, contents } => {
                trainer.send(Request::Load(name, Some(contents)));
            }
            SphereCommand::Save(path) => trainer.send(Request::Save(path)),
            SphereCommand::Export(path) => match export_format(&path) {
                Ok(_) => {
                    exports.0.push(path);
                    trainer.send(Request::ReadBack);
                }
                Err(e) => state.report(Err(e)),
            },
        }
    }
}

/// What to write for an export path.
enum ExportFormat {
    Glb,
    Ply,
    Csv,
}

fn export_format(path: &Path) -> Result<ExportFormat, Error> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("glb") => Ok(ExportFormat::Glb),
        Some("ply") => Ok(ExportFormat::Ply),
        Some("csv") => Ok(ExportFormat::Csv),
        _ => Err(Error::Config(format!(
            "cannot export to {}: use a .glb, .ply or .csv file",
            path.display()
        ))),
    }
}

/// Writes the waiting exports once a mapping of the current grid is on the host.
pub(crate) fn write_exports(
    mut exports: ResMut<PendingExports>,
    mut state: ResMut<TrainingState>,
    mapping: Res<SphereMapping>,
    settings: Res<SphereSettings>,
    image: Res<SphereImage>,
    images: Res<Assets<Image>>,
) {
    let ready = mapping.is_changed() && mapping.mapped.len() == mapping.points.len();
    if exports.0.is_empty() || !ready {
        return;
    }
    for path in std::mem::take(&mut exports.0) {
        let texture = match settings.colour_mode {
            ColourMode::Texture => images.get(&image.0),
            ColourMode::Notebook | ColourMode::Area | ColourMode::Shape => None,
        };
        // The notebook's colours, or the distortion view's, as the shaders paint them.
        let vertex_colours = || -> Vec<[u8; 3]> {
            match settings.colour_mode.distortion_scale() {
                Some(scale) => scale.point_colours(mapping.grid as usize, &mapping.mapped),
                None => mapping.points.iter().map(|&p| notebook_colour(p)).collect(),
            }
        };
        let bytes = match export_format(&path) {
            Ok(ExportFormat::Csv) => Ok(grid_csv_bytes(&mapping.points, &mapping.mapped)),
            Ok(ExportFormat::Ply) => {
                let colours: Vec<[u8; 3]> = match texture {
                    Some(texture) => (mapping.points.iter())
                        .map(|&[u, v]| point_colour(texture, [u + 0.5, v + 0.5], mapping.grid))
                        .collect(),
                    None => vertex_colours(),
                };
                Ok(ply_bytes(&mapping.mapped, &colours))
            }
            Ok(ExportFormat::Glb) => match (mapping.surface(), texture.and_then(texture_pixels)) {
                (Some(surface), Some(pixels)) => {
                    glb_bytes(&surface, SurfacePaint::Texture(&pixels))
                }
                (Some(surface), None) => {
                    glb_bytes(&surface, SurfacePaint::VertexColours(&vertex_colours()))
                }
                (None, _) => Err("the mapping does not cover the grid".into()),
            },
            Err(e) => {
                state.report(Err(e));
                continue;
            }
        };
        let written = bytes
            .map_err(|reason| Error::Config(format!("cannot write {}: {reason}", path.display())))
            .and_then(|bytes| write_output(&path, &bytes));
        state.report(written.map(|at| format!("wrote {at}")));
    }
}
