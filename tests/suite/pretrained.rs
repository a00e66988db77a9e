//! Pretrained spheres: checkpoints as assets, through the `AssetServer`.

use std::path::Path;

use bevy::asset::{AssetPlugin, LoadState};
use bevy::prelude::*;
use bevy_neural_sphere::{
    BackendKind, NeuralSphere, SphereCheckpoint, SphereCheckpointLoader, SphereCommand,
    TrainingPhase,
    learn::{Checkpoint, eval},
};

use crate::app::{mapping, send, sphere_app, state, the_sphere, update_until};
use crate::wait::Progress;

/// The closed sphere the crate ships, under `assets/`.
pub const CLOSED: &str = "spheres/closed.mpk";

/// A paused sphere with `checkpoint`, on the CPU, at grid 32.
fn pretrained_app(checkpoint: &str) -> App {
    let mut app = sphere_app(
        NeuralSphere::default()
            .with_backend(BackendKind::Cpu)
            .with_grid(32)
            .paused(),
        (),
    );
    let handle = app
        .world()
        .resource::<AssetServer>()
        .load(checkpoint.to_string());
    let sphere = the_sphere(&app);
    let mut settings = app.world_mut().get_mut::<NeuralSphere>(sphere).unwrap();
    *settings = settings.clone().with_checkpoint(handle);
    app
}

#[test]
fn a_paused_sphere_shows_its_checkpoint_without_a_training_thread_and_trains_on_from_it() {
    let mut app = pretrained_app(CLOSED);
    update_until(&mut app, "the checkpoint's mapping", |app| {
        state(app).phase() == TrainingPhase::Evaluated || state(app).error().is_some()
    });
    assert_eq!(state(&app).error(), None);
    let file = Checkpoint::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets")
            .join(CLOSED),
    )
    .unwrap();
    let trained = file.steps;
    let expected = eval(&file.model, &mapping(&app).points(), &Default::default());
    assert_eq!(
        mapping(&app).mapped(),
        expected,
        "the checkpoint's own mapping"
    );
    assert_eq!(state(&app).steps(), trained);
    assert_eq!(state(&app).positions_step(), Some(trained));

    // Nothing runs: no thread was started (it would have named its backend), and the steps
    // stay where the checkpoint left them.
    for _ in 0..100 {
        app.update();
    }
    let state_now = state(&app);
    assert_eq!(state_now.backend(), "", "a training thread started");
    assert_eq!(state_now.steps(), trained);
    assert_eq!(state_now.phase(), TrainingPhase::Evaluated);

    // Steps start the thread, from the checkpoint's network.
    send(&mut app, SphereCommand::Steps(5));
    update_until(&mut app, "five steps from the checkpoint", |app| {
        state(app).steps() == trained + 5
    });
    assert!(!state(&app).backend().is_empty());
}

#[test]
fn a_checkpoint_that_does_not_load_is_the_spheres_error() {
    let mut app = pretrained_app("spheres/missing.mpk");
    update_until(&mut app, "the load error", |app| {
        state(app).error().is_some()
    });
    let error = state(&app).error().map(str::to_owned).unwrap();
    assert!(error.contains("missing.mpk"), "{error}");
    for _ in 0..20 {
        app.update();
    }
    assert_eq!(state(&app).backend(), "", "a training thread started");
}

/// Every checkpoint of the fuzz corpus and of the fixtures goes through the asset loader: the
/// good ones load, the bad ones are load errors, and nothing panics.
#[test]
fn the_loader_takes_good_checkpoints_and_refuses_bad_bytes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        AssetPlugin {
            file_path: root.to_string_lossy().into(),
            ..default()
        },
    ))
    .init_asset::<SphereCheckpoint>()
    .init_asset_loader::<SphereCheckpointLoader>();
    let mut files = Vec::new();
    for dir in [
        "fuzz/seeds/checkpoint",
        "tests/fixtures/fuzz",
        "tests/fixtures",
    ] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "mpk") {
                let relative = path.strip_prefix(root).unwrap().to_path_buf();
                let good = Checkpoint::load(&path).is_ok();
                files.push((relative, good));
            }
        }
    }
    files.push(("assets/spheres/closed.mpk".into(), true));
    assert!(files.iter().filter(|(_, good)| !good).count() >= 3);
    let handles: Vec<Handle<SphereCheckpoint>> = files
        .iter()
        .map(|(path, _)| app.world().resource::<AssetServer>().load(path.clone()))
        .collect();
    let states = |app: &App| -> Vec<LoadState> {
        let server = app.world().resource::<AssetServer>();
        handles.iter().map(|h| server.load_state(h)).collect()
    };
    let mut waited = Progress::new("every checkpoint loaded or refused");
    while states(&app)
        .iter()
        .any(|s| !s.is_loaded() && !s.is_failed())
    {
        waited.check(format!("{:?}", states(&app)));
        app.update();
    }
    for ((path, good), state) in files.iter().zip(states(&app)) {
        match state {
            LoadState::Loaded => assert!(good, "{} loaded", path.display()),
            LoadState::Failed(e) => {
                assert!(!good, "{} failed: {e}", path.display());
                assert!(e.to_string().contains("checkpoint"), "{e}");
            }
            other => panic!("{}: {other:?}", path.display()),
        }
    }
}
