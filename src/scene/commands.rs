//! [`SphereCommand`]s: what a game (or the panel) asks of one sphere, aimed at it with
//! [`ToSphere`], and how each is carried out.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bevy::prelude::*;
use bevy::tasks::{AsyncComputeTaskPool, Task, futures::check_ready};

use super::outcome::Outcome;
use super::output_file::write_output;
use super::points::{PointWriter, SpherePoints};
use super::positions::SphereMapping;
use super::settings::{ColourMode, NeuralSphere, check_grid};
use super::texture::{SphereImage, point_colour, texture_pixels};
use super::training::{SphereTrainer, TrainingState};
use crate::Error;
use crate::learn::backend::BackendKind;
use crate::learn::export::{grid_csv_bytes, ply_bytes};
use crate::learn::glb::{SurfacePaint, glb_bytes};
use crate::learn::grid::{grid_points, notebook_colour};
use crate::learn::worker::Request;

/// What a game asks of one sphere: trigger it on the sphere with [`SphereCommand::to`],
/// `commands.trigger(SphereCommand::Pause.to(sphere))`. Commands apply in the order they were
/// triggered, in the sphere's next [`NeuralSphereSystems::Commands`](crate::NeuralSphereSystems).
///
/// While an orbit recording of the sphere runs, the commands that change it (`Resume`, `Step`,
/// `Steps`, `Reset`, `SetGrid`, `Load`, `LoadContents`) wait until the recording ends, then
/// apply in order. Other spheres are not held.
#[derive(Debug, Clone)]
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
    /// Start again from a fresh network initialised with this seed, with the sphere's
    /// [`NeuralSphere::train`] and [`NeuralSphere::backend`].
    Reset {
        /// The new seed.
        seed: u64,
    },
    /// Colour the points from this image (the sphere's [`SphereImage`]).
    SetImage(Handle<Image>),
    /// Re-spawn the points on a grid of this side (at least 2, at most
    /// [`MAX_GRID`](crate::MAX_GRID)), their radius scaled with the grid's spacing; a grid too
    /// large keeps the current one and sets [`TrainingState::error`].
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

/// A [`SphereCommand`] aimed at one sphere's entity: `commands.trigger(command.to(sphere))`.
/// A target that is not a sphere (or no longer exists) is warned about and ignored.
#[derive(EntityEvent, Debug, Clone)]
pub struct ToSphere {
    /// The sphere's entity.
    pub entity: Entity,
    /// What it is asked.
    pub command: SphereCommand,
}

impl SphereCommand {
    /// This command, aimed at the sphere `sphere`.
    pub fn to(self, sphere: Entity) -> ToSphere {
        ToSphere {
            entity: sphere,
            command: self,
        }
    }

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

/// One sphere's commands: those triggered since its last update, those a recording holds
/// (carried out in order once it ends), and exports waiting for the mapping to come back to the
/// host.
#[derive(Component, Default)]
pub(crate) struct SphereInbox {
    queued: Vec<SphereCommand>,
    held: Vec<SphereCommand>,
    exports: Vec<PathBuf>,
    /// Exports being encoded and written.
    writing: Vec<Task<Result<String, Error>>>,
    /// A grid side the sphere's settings ask for that was refused, not to be tried again.
    refused_grid: Option<u32>,
}

/// Queues a command for its sphere's next update.
pub(crate) fn receive_command(event: On<ToSphere>, mut inboxes: Query<&mut SphereInbox>) {
    match inboxes.get_mut(event.entity) {
        Ok(mut inbox) => inbox.queued.push(event.command.clone()),
        Err(_) => warn!(
            "{:?} is not a neural sphere; ignoring {:?}",
            event.entity, event.command
        ),
    }
}

/// Carries out each sphere's queued commands, in order, then regrids a sphere whose settings
/// ask for another grid.
pub(crate) fn apply_commands(
    mut spheres: Query<(
        &mut NeuralSphere,
        &mut SphereTrainer,
        &mut TrainingState,
        &mut SphereImage,
        &mut SphereMapping,
        &mut SpherePoints,
        &mut SphereInbox,
    )>,
    mut writer: PointWriter,
) {
    for (mut settings, mut trainer, mut state, mut image, mut mapping, mut points, mut inbox) in
        &mut spheres
    {
        // Settings changed since the last frame apply before this frame's commands: a step
        // after a new learning rate takes it.
        trainer.forward(&settings);
        let inbox = &mut *inbox;
        let held = trainer.held;
        let released = match held {
            true => Vec::new(),
            false => std::mem::take(&mut inbox.held),
        };
        let queued = std::mem::take(&mut inbox.queued);
        for command in released.into_iter().chain(queued) {
            if held && command.changes_the_sphere() {
                state.report(Ok("training waits for the recording to end".into()));
                inbox.held.push(command);
                continue;
            }
            let resets = matches!(command, SphereCommand::Reset { .. });
            let outcome = apply(
                command,
                &mut settings,
                &mut trainer,
                &mut image,
                &mut inbox.exports,
                writer.max_binding(),
            );
            match outcome {
                Err(e) => state.failed(e),
                Ok(()) if resets => state.error = None,
                Ok(()) => {}
            }
        }
        if settings.grid != mapping.grid && inbox.refused_grid != Some(settings.grid) {
            match check_grid(settings.grid, writer.max_binding()) {
                Ok(()) => {
                    inbox.refused_grid = None;
                    mapping.grid = settings.grid;
                    mapping.points = grid_points(settings.grid as usize);
                    mapping.mapped.clear();
                    state.positions_step = None;
                    writer.regrid(&mut points, &mapping.points, settings.point_radius);
                    let target = trainer
                        .trains_on(BackendKind::Wgpu)
                        .then(|| writer.gpu_target(&points));
                    trainer.send(Request::Map {
                        points: mapping.points.clone(),
                        target,
                    });
                }
                Err(e) => {
                    inbox.refused_grid = Some(settings.grid);
                    state.report(Err(e));
                }
            }
        }
    }
}

/// Carries out one command on a sphere.
fn apply(
    command: SphereCommand,
    settings: &mut Mut<NeuralSphere>,
    trainer: &mut SphereTrainer,
    image: &mut Mut<SphereImage>,
    exports: &mut Vec<PathBuf>,
    max_binding: u64,
) -> Result<(), Error> {
    match command {
        SphereCommand::Pause => settings.paused = true,
        SphereCommand::Resume => settings.paused = false,
        SphereCommand::Step => trainer.send(Request::Steps(1)),
        SphereCommand::Steps(steps) => trainer.send(Request::Steps(steps)),
        SphereCommand::Reset { seed } => {
            // A config that cannot train keeps the current network and says why.
            let config = settings.train.clone().with_seed(seed);
            config.validate()?;
            settings.train = config.clone();
            if trainer.started_with(settings.backend) {
                trainer.send(Request::Reset(config));
            } else {
                trainer.restart();
            }
        }
        SphereCommand::SetImage(handle) => image.0 = handle,
        SphereCommand::SetGrid(grid) => {
            check_grid(grid, max_binding)?;
            settings.regrid(grid);
        }
        SphereCommand::Load(path) => trainer.send(Request::Load(path, None)),
        SphereCommand::LoadContents { name, contents } => {
            trainer.send(Request::Load(name, Some(contents)));
        }
        SphereCommand::Save(path) => trainer.send(Request::Save(path)),
        SphereCommand::Export(path) => {
            export_format(&path)?;
            exports.push(path);
            trainer.send(Request::ReadBack);
        }
    }
    Ok(())
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

/// Reports the exports written since the last frame, before this frame's commands and reports,
/// so that what the sphere says last is what happened last.
pub(crate) fn finish_exports(mut spheres: Query<(&mut SphereInbox, &mut TrainingState)>) {
    for (mut inbox, mut state) in &mut spheres {
        inbox.writing.retain_mut(|task| {
            let Some(written) = check_ready(task) else {
                return true;
            };
            match written {
                Ok(at) => state.succeeded(format!("wrote {at}"), Outcome::Exported(at)),
                Err(e) => state.failed(e),
            }
            false
        });
    }
}

/// Starts the waiting exports once a mapping of the current grid is on the host.
pub(crate) fn write_exports(
    mut spheres: Query<(
        &mut SphereInbox,
        &mut TrainingState,
        Ref<SphereMapping>,
        &NeuralSphere,
        &SphereImage,
    )>,
    images: Res<Assets<Image>>,
) {
    for (mut inbox, mut state, mapping, settings, image) in &mut spheres {
        let ready = mapping.is_changed() && mapping.mapped.len() == mapping.points.len();
        if inbox.exports.is_empty() || !ready {
            continue;
        }
        for path in std::mem::take(&mut inbox.exports) {
            match export(path, &mapping, settings, images.get(&image.0)) {
                Ok(task) => inbox.writing.push(task),
                Err(e) => state.report(Err(e)),
            }
        }
    }
}

/// Makes the file's bytes from what it needs of the sphere.
type Encode = Box<dyn FnOnce() -> Result<Vec<u8>, String> + Send>;

/// Starts writing one export of a sphere's mapping, coloured as the sphere is: what it needs
/// is taken from the sphere now, and the file is encoded and written on the
/// `AsyncComputeTaskPool` (a glb with a 4096² texture held a frame for 0.2-0.6 s).
fn export(
    path: PathBuf,
    mapping: &SphereMapping,
    settings: &NeuralSphere,
    image: Option<&Image>,
) -> Result<Task<Result<String, Error>>, Error> {
    let texture = match settings.colour_mode {
        ColourMode::Texture => image,
        ColourMode::Notebook | ColourMode::Area | ColourMode::Shape => None,
    };
    // The notebook's colours, or the distortion view's, as the shaders paint them.
    let vertex_colours = || -> Vec<[u8; 3]> {
        match settings.colour_mode.distortion_scale() {
            Some(scale) => scale.point_colours(mapping.grid as usize, &mapping.mapped),
            None => mapping.points.iter().map(|&p| notebook_colour(p)).collect(),
        }
    };
    let mapped = mapping.mapped.clone();
    let encode: Encode = match export_format(&path)? {
        ExportFormat::Csv => {
            let points = mapping.points.clone();
            Box::new(move || Ok(grid_csv_bytes(&points, &mapped)))
        }
        ExportFormat::Ply => {
            let colours: Vec<[u8; 3]> = match texture {
                Some(texture) => (mapping.points.iter())
                    .map(|&[u, v]| point_colour(texture, [u + 0.5, v + 0.5], mapping.grid))
                    .collect(),
                None => vertex_colours(),
            };
            Box::new(move || Ok(ply_bytes(&mapped, &colours)))
        }
        ExportFormat::Glb => {
            let surface = mapping.surface();
            match texture.and_then(texture_pixels) {
                Some(pixels) => Box::new(move || {
                    let surface = surface.ok_or("the mapping does not cover the grid")?;
                    glb_bytes(&surface, SurfacePaint::Texture(&pixels))
                }),
                None => {
                    let colours = vertex_colours();
                    Box::new(move || {
                        let surface = surface.ok_or("the mapping does not cover the grid")?;
                        glb_bytes(&surface, SurfacePaint::VertexColours(&colours))
                    })
                }
            }
        }
    };
    Ok(AsyncComputeTaskPool::get().spawn(async move {
        let bytes = encode().map_err(|reason| {
            Error::Config(format!("cannot write {}: {reason}", path.display()))
        })?;
        write_output(&path, &bytes)
    }))
}
