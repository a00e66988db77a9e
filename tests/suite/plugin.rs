//! The plugin driven through its messages, as a game would.

use bevy::mesh::MeshTag;
use bevy::prelude::*;
use bevy_neural_sphere::{
    BackendKind, NeuralSpherePlugin, SphereCommand, SphereMapping, SpherePoint, SphereSettings,
    SphereView, TrainingState,
};

use crate::app::{headless_app, steps};

fn point_count(app: &mut App) -> usize {
    app.world_mut()
        .query::<&SpherePoint>()
        .iter(app.world())
        .count()
}

fn send(app: &mut App, command: SphereCommand) {
    app.world_mut().write_message(command);
    app.update();
}

#[test]
fn trains_pauses_steps_resets_and_regrids() {
    let plugin = NeuralSpherePlugin::default()
        .with_backend(BackendKind::Cpu)
        .with_grid(20)
        .with_max_steps_per_frame(5);
    let mut app = headless_app(plugin);
    app.update();
    assert_eq!(point_count(&mut app), 400);

    for _ in 0..4 {
        app.update();
    }
    let trained = steps(&app);
    assert!(trained > 0);
    app.update();
    assert!(steps(&app) > trained, "the history grows every frame");
    assert_eq!(app.world().resource::<SphereMapping>().mapped.len(), 400);

    send(&mut app, SphereCommand::Pause);
    let paused_at = steps(&app);
    for _ in 0..3 {
        app.update();
    }
    assert_eq!(steps(&app), paused_at, "no training while paused");
    send(&mut app, SphereCommand::Step);
    assert_eq!(
        steps(&app),
        paused_at + 1,
        "a single step runs while paused"
    );

    send(&mut app, SphereCommand::Reset { seed: 9 });
    assert_eq!(steps(&app), 0);
    send(&mut app, SphereCommand::Resume);
    let history = &app.world().resource::<TrainingState>().history;
    assert!(
        !history.is_empty() && history[0].step == 0,
        "training restarts at step 0"
    );

    // A reset that cannot train keeps the network and says why.
    let before = steps(&app);
    app.world_mut().resource_mut::<SphereSettings>().train.batch = 7;
    send(&mut app, SphereCommand::Reset { seed: 1 });
    let state = app.world().resource::<TrainingState>();
    assert!(
        state.error.as_deref().unwrap_or("").contains("batch 7"),
        "{:?}",
        state.error
    );
    assert!(
        steps(&app) > before,
        "training goes on with the current network"
    );
    app.world_mut().resource_mut::<SphereSettings>().train.batch = 1000;

    send(&mut app, SphereCommand::SetGrid(7));
    app.update();
    assert_eq!(point_count(&mut app), 49);
    assert_eq!(app.world().resource::<SphereMapping>().mapped.len(), 49);
}

#[test]
fn checkpoints_and_exports_from_the_running_app() {
    let dir = std::env::temp_dir().join(format!("neural-sphere-plugin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plugin = NeuralSpherePlugin::default()
        .with_backend(BackendKind::Cpu)
        .with_grid(10)
        .with_max_steps_per_frame(5);
    let mut app = headless_app(plugin);
    for _ in 0..4 {
        app.update();
    }
    send(&mut app, SphereCommand::Pause);
    let saved_at = app.world().resource::<TrainingState>().steps;
    send(&mut app, SphereCommand::Save(dir.join("net")));
    assert!(dir.join("net.mpk").is_file());
    let saved_mapping = app.world().resource::<SphereMapping>().mapped.clone();

    send(&mut app, SphereCommand::Export(dir.join("grid.ply")));
    send(&mut app, SphereCommand::Export(dir.join("grid.csv")));
    let ply = std::fs::read_to_string(dir.join("grid.ply")).unwrap();
    assert!(ply.contains("element vertex 100\n"));
    let csv = std::fs::read_to_string(dir.join("grid.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 100);
    send(&mut app, SphereCommand::Export(dir.join("grid.txt")));
    let error = app.world().resource::<TrainingState>().error.clone();
    assert!(error.unwrap_or_default().contains(".ply or .csv"));

    // Train on, then a corrupt and a missing file: errors, and the network stays.
    send(&mut app, SphereCommand::Resume);
    for _ in 0..3 {
        app.update();
    }
    send(&mut app, SphereCommand::Pause);
    let mapping = app.world().resource::<SphereMapping>().mapped.clone();
    std::fs::write(dir.join("corrupt.mpk"), b"not a checkpoint").unwrap();
    for bad in ["corrupt.mpk", "missing.mpk"] {
        send(&mut app, SphereCommand::Load(dir.join(bad)));
        app.update();
        let state = app.world().resource::<TrainingState>();
        assert!(
            state.error.as_deref().unwrap_or("").contains(bad),
            "{:?}",
            state.error
        );
        assert_eq!(app.world().resource::<SphereMapping>().mapped, mapping);
    }

    // The saved network comes back with its step count and what it was trained with.
    send(&mut app, SphereCommand::Load(dir.join("net.mpk")));
    app.update();
    let state = app.world().resource::<TrainingState>();
    assert_eq!(state.error, None);
    assert_eq!(state.steps, saved_at);
    assert!(
        state.trained_with.contains("net.mpk"),
        "{}",
        state.trained_with
    );
    assert!(
        state.trained_with.contains("seed loss"),
        "{}",
        state.trained_with
    );
    assert_eq!(
        app.world().resource::<SphereMapping>().mapped,
        saved_mapping
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_batch_view_shows_the_training_batch_instead_of_the_grid() {
    let plugin = NeuralSpherePlugin::default()
        .with_backend(BackendKind::Cpu)
        .with_grid(20)
        .with_max_steps_per_frame(2);
    let mut app = headless_app(plugin);
    app.update();
    app.update();
    app.world_mut().resource_mut::<SphereSettings>().view = SphereView::TrainingBatch;
    app.update();
    app.update();
    let mut shown = app
        .world_mut()
        .query_filtered::<(&Visibility, Has<SpherePoint>), With<MeshTag>>();
    let (mut grid, mut batch) = (0, 0);
    for (visibility, is_grid) in shown.iter(app.world()) {
        match (is_grid, visibility) {
            (true, Visibility::Hidden) => {}
            (true, _) => grid += 1,
            (false, _) => batch += 1,
        }
    }
    assert_eq!((grid, batch), (0, 1000));

    app.world_mut().resource_mut::<SphereSettings>().view = SphereView::Grid;
    app.update();
    app.update();
    let mut points = app
        .world_mut()
        .query_filtered::<&Visibility, With<MeshTag>>();
    let visible: Vec<_> = points.iter(app.world()).collect();
    assert_eq!(visible.len(), 400);
    assert!(visible.iter().all(|v| **v != Visibility::Hidden));
}
