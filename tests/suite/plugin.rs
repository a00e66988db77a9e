//! The plugin driven through its messages, as a game would.

use bevy::prelude::*;
use bevy_neural_sphere::{
    BackendKind, NeuralSpherePlugin, SphereCommand, SphereMapping, SpherePoint, SphereSettings,
    TrainingState,
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
