//! Orbit videos: a camera circles the sphere in fixed steps, each frame renders offscreen, comes
//! back as a screenshot and goes to the encoder thread (see `video`).
//!
//! Frame `i` of `n` is taken at `360° · orbits · i / n` whatever the machine's speed, so the
//! video loops. The recorded sphere's training is held while recording and goes on afterwards;
//! commands that would change it meanwhile wait (see [`SphereCommand`](crate::SphereCommand)).

use std::thread::JoinHandle;

use bevy::camera::RenderTarget;
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::platform::time::Instant;
use bevy::prelude::*;
use bevy::render::render_resource::{TextureFormat, TextureUsages};
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};

use super::orbit::{OrbitSpec, RecordOrbit, RecordingStatus};
use super::settings::NeuralSphere;
use super::training::{SphereTrainer, TrainingState, collect_reports};
use super::video::{EncoderThread, FrameSender, spawn_encoder};
use crate::learn::worker::TrainingPhase;

/// Marks the camera a recording renders through.
#[derive(Component)]
struct RecordingCamera;

/// Which frame a screenshot holds.
#[derive(Component, Clone, Copy)]
enum OrbitFrame {
    /// A frame taken to see whether the points show yet.
    WarmUp,
    /// Frame `i` of the video.
    Frame(u32),
}

/// The recording under way.
#[derive(Resource)]
struct ActiveRecording {
    sphere: Entity,
    spec: OrbitSpec,
    target: Handle<Image>,
    camera: Entity,
    /// The first frame that showed the points has come back.
    ready: bool,
    next: u32,
    done: u32,
    frames: Option<FrameSender>,
    encoder: Option<EncoderThread>,
    started: Instant,
}

pub(crate) struct RecordPlugin;

impl Plugin for RecordPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<RecordOrbit>()
            .init_resource::<RecordingStatus>()
            .add_observer(receive_frame)
            // After the spheres' commands and their training's reports: a recording sees the
            // positions of the frame, and the commands it held apply from the next frame on.
            .add_systems(
                Update,
                (start_recording, capture_frames, finish_recording)
                    .chain()
                    .after(collect_reports),
            );
    }
}

fn start_recording(
    mut requests: MessageReader<RecordOrbit>,
    mut commands: Commands,
    mut status: ResMut<RecordingStatus>,
    mut spheres: Query<(&mut SphereTrainer, &GlobalTransform), With<NeuralSphere>>,
    mut images: ResMut<Assets<Image>>,
) {
    for RecordOrbit { sphere, spec } in requests.read() {
        if status.is_busy() {
            warn!(
                "a recording is under way; ignoring the request for {}",
                spec.out.display()
            );
            continue;
        }
        let Ok((mut trainer, at)) = spheres.get_mut(*sphere) else {
            *status = RecordingStatus::Failed(format!("{sphere:?} is not a neural sphere"));
            continue;
        };
        let (frames, encoder) = match spec
            .validate()
            .and_then(|format| spawn_encoder(spec, format))
        {
            Ok(started) => started,
            Err(e) => {
                *status = RecordingStatus::Failed(e.to_string());
                continue;
            }
        };
        let mut target = Image::new_target_texture(
            spec.size.x,
            spec.size.y,
            TextureFormat::Rgba8UnormSrgb,
            None,
        );
        target.texture_descriptor.usage |= TextureUsages::COPY_SRC;
        let target = images.add(target);
        let camera = commands
            .spawn((
                RecordingCamera,
                Camera3d::default(),
                Camera {
                    // Renders before the on-screen cameras, into its own image only.
                    order: -1,
                    clear_color: ClearColorConfig::Custom(spec.background),
                    ..default()
                },
                RenderTarget::Image(target.clone().into()),
                Tonemapping::None,
                // The points' edges are cut out in the fragment shader: nothing to multisample.
                Msaa::Off,
                orbit_camera(spec, 0, at),
            ))
            .id();
        commands.insert_resource(ActiveRecording {
            sphere: *sphere,
            spec: spec.clone(),
            target,
            camera,
            ready: false,
            next: 0,
            done: 0,
            frames: Some(frames),
            encoder: Some(encoder),
            started: Instant::now(),
        });
        trainer.held = true;
        *status = RecordingStatus::Preparing;
    }
}

/// Where the camera is for frame `frame` around the sphere at `at`.
fn orbit_camera(spec: &OrbitSpec, frame: u32, at: &GlobalTransform) -> Transform {
    let radius = at.scale().max_element();
    spec.camera_transform(frame, at.translation(), radius)
}

/// Places the camera for the next frame and asks for its screenshot: one frame per update.
fn capture_frames(
    mut commands: Commands,
    recording: Option<ResMut<ActiveRecording>>,
    spheres: Query<(&TrainingState, &GlobalTransform)>,
    mut cameras: Query<&mut Transform, With<RecordingCamera>>,
    mut status: ResMut<RecordingStatus>,
) {
    let Some(mut recording) = recording else {
        return;
    };
    let Ok((state, at)) = spheres.get(recording.sphere) else {
        // `finish_recording` ends it.
        *status = RecordingStatus::Failed("the recorded sphere was despawned".into());
        return;
    };
    // Training stops for the recording; the first frame waits until it has, and the points
    // show the network where it stopped.
    let still = matches!(
        state.phase,
        TrainingPhase::Paused | TrainingPhase::Evaluated
    );
    let settled = still && state.positions_step == Some(state.steps);
    if !recording.ready && !settled {
        return;
    }
    let frame = match (recording.ready, recording.next < recording.spec.frames) {
        (false, _) => OrbitFrame::WarmUp,
        (true, true) => {
            recording.next += 1;
            OrbitFrame::Frame(recording.next - 1)
        }
        (true, false) => return,
    };
    let index = match frame {
        OrbitFrame::WarmUp => 0,
        OrbitFrame::Frame(i) => i,
    };
    if let Ok(mut transform) = cameras.get_mut(recording.camera) {
        *transform = orbit_camera(&recording.spec, index, at);
    }
    commands.spawn((Screenshot::image(recording.target.clone()), frame));
}

/// Hands each frame that comes back to the encoder.
fn receive_frame(
    captured: On<ScreenshotCaptured>,
    frames: Query<&OrbitFrame>,
    recording: Option<ResMut<ActiveRecording>>,
    mut status: ResMut<RecordingStatus>,
) {
    let (Ok(frame), Some(mut recording)) = (frames.get(captured.entity), recording) else {
        return;
    };
    match *frame {
        OrbitFrame::WarmUp => recording.ready |= shows_something(&captured.image),
        OrbitFrame::Frame(i) => {
            if let Some(sender) = &recording.frames {
                // A closed channel means the encoder failed; `finish_recording` reports why.
                let _ = sender.send((i, captured.image.clone()));
            }
            recording.done += 1;
            *status = RecordingStatus::Capturing {
                done: recording.done,
                total: recording.spec.frames,
            };
        }
    }
}

/// Whether any pixel differs from the corner's: the first frames are blank while the
/// pipelines compile.
fn shows_something(image: &Image) -> bool {
    let Some(data) = image.data.as_deref() else {
        return false;
    };
    let corner = &data[..4.min(data.len())];
    data.chunks_exact(4).any(|p| {
        p.iter()
            .zip(corner)
            .any(|(&a, &b)| (a as i32 - b as i32).abs() > 8)
    })
}

/// Ends a recording that is done, or that cannot go on: its sphere is gone, or its training
/// stopped before the sphere settled (what was captured is dropped with the encoder's channel).
fn finish_recording(
    mut commands: Commands,
    recording: Option<ResMut<ActiveRecording>>,
    mut status: ResMut<RecordingStatus>,
    mut trainers: Query<(&mut SphereTrainer, &TrainingState)>,
    mut images: ResMut<Assets<Image>>,
) {
    let Some(mut recording) = recording else {
        return;
    };
    let Ok((mut trainer, state)) = trainers.get_mut(recording.sphere) else {
        drop_recording(&mut commands, &recording, &mut images);
        return;
    };
    if !recording.ready && trainer.stopped() {
        let why = state.error.as_deref().unwrap_or("its training stopped");
        *status = RecordingStatus::Failed(format!("the sphere cannot be recorded: {why}"));
        drop_recording(&mut commands, &recording, &mut images);
        trainer.held = false;
        return;
    }
    let stopped = recording
        .encoder
        .as_ref()
        .is_none_or(JoinHandle::is_finished);
    if recording.done < recording.spec.frames && !stopped {
        return;
    }
    // Closing the channel tells the encoder that every frame is in.
    recording.frames = None;
    if !stopped {
        *status = RecordingStatus::Encoding;
        return;
    }
    let result = recording.encoder.take().map(JoinHandle::join);
    *status = match result {
        Some(Ok(Ok(()))) => RecordingStatus::Done {
            path: recording.spec.out.clone(),
            frames: recording.spec.frames,
            seconds: recording.started.elapsed().as_secs_f64(),
        },
        Some(Ok(Err(e))) => RecordingStatus::Failed(e.to_string()),
        _ => RecordingStatus::Failed("the encoder thread panicked".into()),
    };
    drop_recording(&mut commands, &recording, &mut images);
    trainer.held = false;
}

/// Removes a recording that ended: its camera, the image it rendered to and the resource.
fn drop_recording(
    commands: &mut Commands,
    recording: &ActiveRecording,
    images: &mut Assets<Image>,
) {
    commands.remove_resource::<ActiveRecording>();
    commands.entity(recording.camera).despawn();
    images.remove(&recording.target);
}
