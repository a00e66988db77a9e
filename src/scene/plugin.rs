//! The plugin: the systems, materials and shared resources it registers, in order. It spawns
//! no sphere: a game spawns [`NeuralSphere`] entities.

use bevy::prelude::*;

use super::checkpoint_asset::{SphereCheckpoint, SphereCheckpointLoader};
use super::commands::{
    SphereInbox, apply_commands, finish_exports, receive_command, write_exports,
};
use super::points::{
    PointMaterial, PointMesh, SpherePoint, setup_points, show_view, sync_material,
};
use super::pretrained::{Pretrained, apply_checkpoints, show_evaluations};
use super::quality::{QualityTask, measure_quality};
use super::record::RecordPlugin;
use super::render_device::RenderDeviceSharingPlugin;
use super::settings::{ColourMode, NeuralSphere, SphereView};
use super::surface::{SphereSurfaceMesh, SurfaceMaterial, setup_surface, sync_surface};
use super::texture::{DefaultImage, make_mips};
use super::training::{
    SphereTrainer, announce_outcomes, collect_reports, forward_settings, start_workers,
};
use crate::learn::image_file::ImageFit;

#[cfg(doc)]
use crate::{SphereCommand, SphereMapping, TrainingState};

/// Trains each [`NeuralSphere`] entity's square-to-sphere network live and shows its mapping
/// as textured points or as a textured surface, at the entity's `GlobalTransform`.
///
/// Each sphere trains on a thread of its own at full speed while the app draws. In a browser,
/// which has no threads, a system queues the fused GPU step's chunks each frame and takes their
/// results back in later frames without waiting, or the CPU trains within each frame for a
/// budget the spheres share. Drive a sphere through [`SphereCommand`]s aimed at it and read
/// its [`TrainingState`] and [`SphereMapping`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NeuralSpherePlugin;

/// The plugin's systems, in the order they run in `Update`.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum NeuralSphereSystems {
    /// Gives new spheres their points and surface, makes mipmaps for images that arrived,
    /// reports the exports written since the last frame, applies each sphere's
    /// [`SphereCommand`]s and hands it its checkpoint when that arrives.
    /// A sphere spawned before this set is drawn from this frame on.
    Commands,
    /// Starts each sphere's training thread, forwards its settings and collects what it
    /// reports: steps, losses and the network's positions (or a paused checkpoint's, evaluated
    /// once). In a browser it also trains, within the frame.
    Train,
    /// Updates the points' and the surfaces' materials and visibility, starts exports,
    /// measures the mappings and triggers the frame's [`SphereOutcome`](crate::SphereOutcome)s.
    Map,
}

impl Plugin for NeuralSpherePlugin {
    fn build(&self, app: &mut App) {
        bevy::shader::load_shader_library!(app, "shaders/colours.wgsl");
        bevy::asset::embedded_asset!(app, "shaders/points.wgsl");
        bevy::asset::embedded_asset!(app, "shaders/surface.wgsl");
        app.add_plugins((
            MaterialPlugin::<PointMaterial>::default(),
            MaterialPlugin::<SurfaceMaterial>::default(),
            RenderDeviceSharingPlugin,
            RecordPlugin,
        ))
        .register_type::<NeuralSphere>()
        .register_type::<SpherePoint>()
        .register_type::<SphereSurfaceMesh>()
        .register_type::<SphereView>()
        .register_type::<ColourMode>()
        .register_type::<ImageFit>()
        .register_required_components::<NeuralSphere, SphereTrainer>()
        .register_required_components::<NeuralSphere, QualityTask>()
        .register_required_components::<NeuralSphere, SphereInbox>()
        .register_required_components::<NeuralSphere, Pretrained>()
        .init_asset::<SphereCheckpoint>()
        .init_asset_loader::<SphereCheckpointLoader>()
        .add_observer(receive_command)
        .configure_sets(
            Update,
            (
                NeuralSphereSystems::Commands,
                NeuralSphereSystems::Train,
                NeuralSphereSystems::Map,
            )
                .chain(),
        )
        .add_systems(
            Update,
            (
                (
                    setup_points,
                    setup_surface,
                    make_mips,
                    finish_exports,
                    apply_commands,
                    apply_checkpoints,
                )
                    .chain()
                    .in_set(NeuralSphereSystems::Commands),
                (
                    start_workers,
                    forward_settings,
                    #[cfg(target_arch = "wasm32")]
                    super::training::train_in_frame,
                    collect_reports,
                    show_evaluations,
                )
                    .chain()
                    .in_set(NeuralSphereSystems::Train),
                (
                    sync_material,
                    show_view,
                    sync_surface,
                    write_exports,
                    measure_quality,
                    announce_outcomes,
                )
                    .chain()
                    .in_set(NeuralSphereSystems::Map),
            ),
        );
    }

    fn finish(&self, app: &mut App) {
        app.init_resource::<DefaultImage>()
            .init_resource::<PointMesh>();
    }
}
