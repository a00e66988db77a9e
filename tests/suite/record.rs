//! Orbit videos recorded headless and read back.

use std::path::Path;
use std::process::Command;

use bevy::prelude::*;
use bevy_neural_sphere::{
    BackendKind, NeuralSphere, OrbitSpec, Preset, RecordOrbit, RecordingStatus, SphereCommand,
    learn::grid_points, point_colour, uv_test_grid,
};

use crate::app::{
    send, settings_of, sphere_app, state, steps, the_sphere, train_exactly, update_until,
};

const SIDE: u32 = 96;
const FRAMES: u32 = 12;

/// A closed sphere of large points coloured by the built-in UV grid (a different colour at
/// every (u, v)) as it is (unlit: the scene has no light), paused after exactly 1500 steps:
/// the same net on every machine.
fn recording_app() -> App {
    let sphere = NeuralSphere {
        point_radius: 0.06,
        ..NeuralSphere::default()
            .with_backend(BackendKind::Cpu)
            .with_train_config(Preset::Closed.config())
            .with_grid(40)
            .paused()
            .unlit()
    };
    let mut app = sphere_app(sphere, ());
    train_exactly(&mut app, 1500);
    app
}

fn spec(out: &Path) -> OrbitSpec {
    OrbitSpec {
        frames: FRAMES,
        fps: 12,
        size: UVec2::splat(SIDE),
        ..OrbitSpec::new(out)
    }
}

/// Starts recording an orbit of the app's sphere.
fn start(app: &mut App, spec: OrbitSpec) {
    let sphere = the_sphere(app);
    app.world_mut().write_message(RecordOrbit { sphere, spec });
}

/// Records and waits for the outcome.
fn record(app: &mut App, spec: OrbitSpec) -> RecordingStatus {
    start(app, spec);
    app.update();
    update_until(app, "the recording", |app| {
        let status = app.world().resource::<RecordingStatus>();
        !status.is_busy() && *status != RecordingStatus::Idle
    });
    app.world().resource::<RecordingStatus>().clone()
}

fn gif_frames(path: &Path) -> Vec<Vec<u8>> {
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    let mut decoder = options
        .read_info(std::fs::File::open(path).unwrap())
        .unwrap();
    assert_eq!(
        (decoder.width(), decoder.height()),
        (SIDE as u16, SIDE as u16)
    );
    let mut frames = Vec::new();
    while let Some(frame) = decoder.read_next_frame().unwrap() {
        assert_eq!((frame.width, frame.height), (SIDE as u16, SIDE as u16));
        frames.push(frame.buffer.to_vec());
    }
    frames
}

/// Whether a pixel shows a point rather than the background (the corner's colour).
fn lit(frame: &[u8], p: &[u8]) -> bool {
    p.iter().zip(&frame[..3]).any(|(&a, &b)| a.abs_diff(b) > 12)
}

/// Mean colour of each 16x16 block: compares pictures, not single points.
fn blocks(rgb: &[u8]) -> Vec<f64> {
    let side = SIDE as usize;
    let mut means = vec![0.0; (side / 16) * (side / 16) * 3];
    for (i, p) in rgb.chunks_exact(3).enumerate() {
        let block = (i / side / 16) * (side / 16) + (i % side) / 16;
        for c in 0..3 {
            means[block * 3 + c] += p[c] as f64 / 256.0;
        }
    }
    means
}

fn difference(a: &[u8], b: &[u8]) -> f64 {
    blocks(a)
        .iter()
        .zip(blocks(b))
        .map(|(x, y)| (x - y).abs())
        .sum()
}

#[test]
fn orbits_come_out_as_looping_gif_png_frames_and_mp4() {
    let dir = std::env::temp_dir().join(format!("neural-sphere-record-{}", std::process::id()));
    let mut app = recording_app();

    // Bad requests fail before anything renders, and change nothing.
    let status = record(&mut app, spec(&dir.join("orbit.avi")));
    assert!(
        matches!(&status, RecordingStatus::Failed(e) if e.contains(".avi")),
        "{status:?}"
    );
    let odd = OrbitSpec {
        size: UVec2::new(95, 96),
        ..spec(&dir.join("orbit.mp4"))
    };
    assert!(matches!(record(&mut app, odd), RecordingStatus::Failed(_)));

    let gif = dir.join("orbit.gif");
    let status = record(&mut app, spec(&gif));
    assert!(
        matches!(&status, RecordingStatus::Done { frames: FRAMES, .. }),
        "{status:?}"
    );
    assert!(settings_of(&app).paused, "training stays paused as it was");
    let frames = gif_frames(&gif);
    assert_eq!(frames.len(), FRAMES as usize);
    for (i, pair) in frames.windows(2).enumerate() {
        assert_ne!(pair[0], pair[1], "frames {i} and {} are equal", i + 1);
    }
    // The points show the texture's colours as the 40×40 grid's points take them (up to the
    // GIF's 256-colour palette), looked up at a finer grid of places.
    let texture = uv_test_grid();
    let samples: Vec<[u8; 3]> = grid_points(64)
        .iter()
        .map(|&[u, v]| point_colour(&texture, [u + 0.5, v + 0.5], 40))
        .collect();
    for frame in [&frames[0], &frames[6]] {
        let shown: Vec<&[u8]> = frame.chunks_exact(4).filter(|p| lit(frame, p)).collect();
        assert!(shown.len() > 1000, "only {} lit pixels", shown.len());
        let textured = shown
            .iter()
            .filter(|p| {
                samples
                    .iter()
                    .any(|s| s.iter().zip(p.iter()).all(|(&a, &b)| a.abs_diff(b) < 24))
            })
            .count();
        assert!(
            textured as f64 > 0.8 * shown.len() as f64,
            "{textured} of {} lit pixels show texture colours",
            shown.len()
        );
    }

    let folder = dir.join("frames");
    assert!(matches!(
        record(&mut app, spec(&folder)),
        RecordingStatus::Done { .. }
    ));
    let pngs: Vec<Vec<u8>> = (0..FRAMES)
        .map(|i| {
            let frame = image::open(folder.join(format!("frame_{i:04}.png"))).unwrap();
            assert_eq!((frame.width(), frame.height()), (SIDE, SIDE));
            frame.to_rgb8().into_raw()
        })
        .collect();
    // Frame i is at 360° i / 12, so frame 6 shows the far side: it differs from frame 0 more
    // than any frame within a quarter turn of it, and the frame that differs most is one of
    // those that show the back (5 to 7), which share nearly nothing with frame 0. Which of the
    // three depends on the texture's layout.
    let from_first: Vec<f64> = pngs.iter().map(|f| difference(&pngs[0], f)).collect();
    let far = from_first[6];
    let most = (0..from_first.len())
        .max_by(|&a, &b| from_first[a].total_cmp(&from_first[b]))
        .unwrap();
    assert!(
        (5..=7).contains(&most),
        "differences from frame 0: {from_first:?}"
    );
    for near in [1, 2, 3, 9, 10, 11] {
        assert!(
            far > from_first[near],
            "differences from frame 0: {from_first:?}"
        );
    }

    let ffprobe = Command::new("ffprobe").arg("-version").output();
    if ffprobe.is_ok_and(|o| o.status.success()) {
        let mp4 = dir.join("orbit.mp4");
        let status = record(&mut app, spec(&mp4));
        assert!(matches!(status, RecordingStatus::Done { .. }), "{status:?}");
        let probe = Command::new("ffprobe")
            .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
            .args([
                "-show_entries",
                "stream=codec_name,width,height,pix_fmt,nb_read_frames",
            ])
            .args(["-of", "default=noprint_wrappers=1"])
            .arg(&mp4)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&probe.stdout);
        for expected in [
            "codec_name=h264",
            "width=96",
            "height=96",
            "pix_fmt=yuv420p",
            "nb_read_frames=12",
        ] {
            assert!(
                said.lines().any(|l| l == expected),
                "{expected} not in {said}"
            );
        }
    } else {
        eprintln!("ffprobe is not on PATH: the MP4 check is skipped (.ci/run installs ffmpeg)");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn frame_i_is_taken_at_a_fixed_angle_so_videos_loop() {
    let spec = OrbitSpec {
        frames: 240,
        orbits: 2,
        ..OrbitSpec::new("orbit.gif")
    };
    let at = |frame| spec.camera_transform(frame, Vec3::ZERO, 1.0).translation;
    assert!(
        at(0).distance(at(240)) < 1e-4,
        "the last frame + 1 is the first"
    );
    assert!(
        at(0).distance(at(120)) < 1e-4,
        "two orbits: half-way is a full turn"
    );
    let quarter = at(30);
    let turned = Quat::from_rotation_y(std::f32::consts::FRAC_PI_2) * at(0);
    assert!(quarter.distance(turned) < 1e-4, "{quarter} != {turned}");
    assert!((at(0).length() - spec.distance).abs() < 1e-5);
}

#[test]
fn training_waits_for_a_recording_to_end() {
    let dir = std::env::temp_dir().join(format!("neural-sphere-held-{}", std::process::id()));
    let mut app = recording_app();
    start(&mut app, spec(&dir.join("frames")));
    app.update();
    assert!(app.world().resource::<RecordingStatus>().is_busy());
    for command in [
        SphereCommand::Resume,
        SphereCommand::Step,
        SphereCommand::SetGrid(20),
    ] {
        send(&mut app, command);
    }
    update_until(&mut app, "the recording", |app| {
        assert_eq!(steps(app), 1500, "the sphere changed during the recording");
        assert_eq!(settings_of(app).grid, 40);
        !app.world().resource::<RecordingStatus>().is_busy()
    });
    let status = app.world().resource::<RecordingStatus>().clone();
    assert!(matches!(status, RecordingStatus::Done { .. }), "{status:?}");
    // Then the held commands apply, in order.
    update_until(&mut app, "training to resume", |app| steps(app) > 1501);
    assert!(!settings_of(&app).paused);
    assert_eq!(settings_of(&app).grid, 20);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn recording_a_sphere_whose_training_stopped_fails_at_once_with_its_error() {
    let dir = std::env::temp_dir().join(format!("neural-sphere-stopped-{}", std::process::id()));
    // A batch the trainer refuses: the training thread cannot start.
    let mut config = Preset::Seed.config();
    config.batch = 3;
    let sphere = NeuralSphere::default()
        .with_backend(BackendKind::Cpu)
        .with_train_config(config);
    let mut app = sphere_app(sphere, ());
    update_until(&mut app, "the training error", |app| {
        state(app).error().is_some()
    });
    let error = state(&app).error().map(str::to_owned).unwrap();
    assert!(error.contains("batch 3"), "{error}");
    let status = record(&mut app, spec(&dir.join("orbit.gif")));
    assert!(
        matches!(&status, RecordingStatus::Failed(e)
            if e.contains("cannot be recorded") && e.ends_with(&error)),
        "{status:?} ({error})"
    );
}

#[test]
fn a_failed_recording_leaves_nothing_behind_and_the_app_runs_on() {
    let dir = std::env::temp_dir().join(format!("neural-sphere-fail-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut app = recording_app();

    // An output folder that cannot be made: its parent is a file.
    let blocker = dir.join("not-a-folder");
    std::fs::write(&blocker, b"").unwrap();
    let status = record(&mut app, spec(&blocker.join("orbit.gif")));
    assert!(
        matches!(&status, RecordingStatus::Failed(e) if e.contains("not-a-folder")),
        "{status:?}"
    );

    // A full disk: the GIF is written under its staging name, here a link to /dev/full.
    let full = dir.join("full.gif");
    std::os::unix::fs::symlink("/dev/full", dir.join(".full.gif.part")).unwrap();
    let status = record(&mut app, spec(&full));
    assert!(
        matches!(&status, RecordingStatus::Failed(e) if e.contains("full.gif")),
        "{status:?}"
    );
    // ffmpeg stopping mid-stream: it writes under the staging name, a link to /dev/full, so it
    // exits at the first frame while the next ones are still coming.
    let mp4 = dir.join("full.mp4");
    std::os::unix::fs::symlink("/dev/full", dir.join(".full.mp4.part")).unwrap();
    let status = record(&mut app, spec(&mp4));
    assert!(
        matches!(&status, RecordingStatus::Failed(e)
            if e.contains("ffmpeg failed writing") && e.contains("No space left")),
        "{status:?}"
    );

    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        ["not-a-folder"],
        "a failed recording left files behind"
    );

    // The app keeps its network and trains on.
    assert_eq!(steps(&app), 1500);
    assert!(settings_of(&app).paused, "as it was");
    send(&mut app, SphereCommand::Resume);
    update_until(&mut app, "training to go on", |app| steps(app) > 1500);
    std::fs::remove_dir_all(dir).unwrap();
}
