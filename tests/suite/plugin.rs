//! The plugin driven through its messages, as a game would, with training on its own thread.

use std::time::Duration;

use bevy::mesh::MeshTag;
use bevy::prelude::*;
use bevy_neural_sphere::{
    BackendKind, NeuralSphere, Outcome, SphereCommand, SphereOutcome, SpherePoint, SphereView,
    TrainConfig, TrainingPhase,
    learn::{Checkpoint, Trainer, TrainingDevice},
};
use burn::module::Module;

use crate::app::{
    mapping, send, settings, settings_of, sphere_app, state, steps, the_sphere, train_exactly,
    update_until,
};
use crate::trainer::Fill;

fn point_count(app: &mut App) -> usize {
    app.world_mut()
        .query::<&SpherePoint>()
        .iter(app.world())
        .count()
}

fn cpu_sphere(grid: u32) -> NeuralSphere {
    NeuralSphere::default()
        .with_backend(BackendKind::Cpu)
        .with_grid(grid)
}

fn mapped_len(app: &App) -> usize {
    mapping(app).mapped().len()
}

/// Runs a few frames, a little apart, in which a paused trainer must not move.
fn idle_frames(app: &mut App) {
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(20));
        app.update();
    }
}

fn pause(app: &mut App) {
    send(app, SphereCommand::Pause);
    update_until(app, "the pause", |app| {
        state(app).phase() == TrainingPhase::Paused
    });
}

#[test]
fn trains_pauses_steps_resets_retunes_and_regrids() {
    let mut app = sphere_app(cpu_sphere(20), ());
    app.update();
    assert_eq!(point_count(&mut app), 400);
    assert!(
        state(&app).backend().contains("--backend cpu"),
        "{}",
        state(&app).backend()
    );

    update_until(&mut app, "training", |app| steps(app) > 0);
    let trained = steps(&app);
    update_until(&mut app, "more training", |app| steps(app) > trained);
    update_until(&mut app, "a mapping", |app| mapped_len(app) == 400);

    pause(&mut app);
    let paused_at = steps(&app);
    idle_frames(&mut app);
    assert_eq!(steps(&app), paused_at, "no training while paused");
    send(&mut app, SphereCommand::Step);
    update_until(&mut app, "one step", |app| steps(app) > paused_at);
    idle_frames(&mut app);
    assert_eq!(
        steps(&app),
        paused_at + 1,
        "a single step runs while paused"
    );

    // The learning rate applies from the next step, the schedule keeping its place.
    settings(&mut app).train.lr = 0.01;
    send(&mut app, SphereCommand::Step);
    update_until(&mut app, "a retuned step", |app| {
        steps(app) == paused_at + 2
    });
    let lr = state(&app).history().last().unwrap().lr;
    assert!((lr - 0.01).abs() < 1e-12, "lr {lr}");

    send(&mut app, SphereCommand::Reset { seed: 9 });
    update_until(&mut app, "the reset", |app| {
        state(app).trained_with().contains("seed 9") && steps(app) == 0
    });
    send(&mut app, SphereCommand::Resume);
    update_until(&mut app, "training after the reset", |app| steps(app) > 0);
    let first = state(&app).history().recent().next().unwrap().step;
    assert_eq!(first, 0, "training restarts at step 0");

    // A reset that cannot train keeps the network and says why.
    let before = steps(&app);
    settings(&mut app).train.batch = 7;
    send(&mut app, SphereCommand::Reset { seed: 1 });
    let error = state(&app).error().map(str::to_owned).unwrap_or_default();
    assert!(error.contains("batch 7"), "{error}");
    update_until(&mut app, "training on", |app| steps(app) > before);
    settings(&mut app).train.batch = 1000;

    send(&mut app, SphereCommand::SetGrid(7));
    update_until(&mut app, "the new grid", |app| mapped_len(app) == 49);
    assert_eq!(point_count(&mut app), 49);
    // Built at grid 20 and regridded to 7, the points keep the size the default has relative
    // to its grid's spacing.
    let radius = settings_of(&app).point_radius;
    let default = NeuralSphere::default();
    assert!(
        (radius * 7.0 - default.point_radius * default.grid as f32).abs() < 1e-5,
        "point radius {radius} at grid 7"
    );
}

#[test]
fn the_loss_trace_does_not_depend_on_the_frame_rate() {
    let trace = |frame_time: Duration| {
        let mut app = sphere_app(cpu_sphere(10), ());
        update_until(&mut app, "300 steps", |app| {
            std::thread::sleep(frame_time);
            steps(app) >= 300
        });
        let history = &state(&app).history();
        assert_eq!(
            history.len(),
            history.recent().len(),
            "every step at full resolution"
        );
        let losses: Vec<f32> = history.recent().take(300).map(|s| s.loss).collect();
        losses
    };
    let fast = trace(Duration::ZERO);
    let slow = trace(Duration::from_millis(40));
    assert_eq!(fast, slow);
}

#[test]
fn a_step_limit_holds_training_back() {
    let sphere = cpu_sphere(10).with_max_steps_per_second(50.0);
    let mut app = sphere_app(sphere, ());
    // The clock starts before the frame that first reports a step, and stops after the frame
    // that reports the hundredth: every step counted was taken inside the measured time, however
    // long a frame takes on a busy machine (tests share two cores).
    let before_frame = std::cell::Cell::new(std::time::Instant::now());
    update_until(&mut app, "training", |app| {
        let trained = steps(app) > 0;
        if !trained {
            before_frame.set(std::time::Instant::now());
        }
        trained
    });
    let (start, at) = (before_frame.get(), steps(&app));
    update_until(&mut app, "100 steps", |app| steps(app) >= at + 100);
    // At most 50 steps a second, give or take the steps whose losses are still on their way
    // when the clock starts and the one step of slack the limit allows; unlimited, this
    // machine trains hundreds. However long the thread took to start, that time earns no burst.
    let seconds = start.elapsed().as_secs_f64();
    let taken = steps(&app) - at;
    assert!(
        taken as f64 <= 50.0 * seconds + 5.0,
        "{taken} steps in {seconds:.2} s"
    );
}

#[test]
fn checkpoints_and_exports_from_the_running_app() {
    let dir = std::env::temp_dir().join(format!("neural-sphere-plugin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut app = sphere_app(cpu_sphere(10).paused(), ());
    // Each outcome is also an event on the sphere, typed.
    let outcomes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = outcomes.clone();
    let sphere = the_sphere(&app);
    app.world_mut()
        .entity_mut(sphere)
        .observe(move |event: On<SphereOutcome>| sink.lock().unwrap().push(event.outcome.clone()));
    train_exactly(&mut app, 20);
    let saved_mapping = mapping(&app).mapped().to_vec();
    let notice = |app: &App| state(app).notice().map(str::to_owned).unwrap_or_default();
    send(&mut app, SphereCommand::Save(dir.join("net")));
    update_until(&mut app, "the save", |app| notice(app).starts_with("saved"));
    assert!(dir.join("net.mpk").is_file());

    send(&mut app, SphereCommand::Export(dir.join("grid.ply")));
    update_until(&mut app, "the PLY", |app| notice(app).contains("grid.ply"));
    send(&mut app, SphereCommand::Export(dir.join("grid.csv")));
    update_until(&mut app, "the CSV", |app| notice(app).contains("grid.csv"));
    let ply = std::fs::read_to_string(dir.join("grid.ply")).unwrap();
    assert!(ply.contains("element vertex 100\n"));
    let csv = std::fs::read_to_string(dir.join("grid.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 100);
    // The surface as glTF, the texture embedded.
    send(&mut app, SphereCommand::Export(dir.join("grid.glb")));
    update_until(&mut app, "the glTF", |app| notice(app).contains("grid.glb"));
    let glb = std::fs::read(dir.join("grid.glb")).unwrap();
    let gltf = gltf::Gltf::from_slice(&glb).unwrap();
    let primitive = gltf.meshes().next().unwrap().primitives().next().unwrap();
    let surface = mapping(&app).surface().unwrap();
    assert_eq!(
        primitive.get(&gltf::Semantic::Positions).unwrap().count(),
        100
    );
    assert_eq!(primitive.indices().unwrap().count(), surface.indices.len());
    assert_eq!(gltf.images().count(), 1, "the texture is embedded");
    send(&mut app, SphereCommand::Export(dir.join("grid.txt")));
    let error = state(&app).error().map(str::to_owned);
    assert!(error.unwrap_or_default().contains(".ply or .csv"));

    // Train on, then a corrupt and a missing file: errors, and the network stays.
    train_exactly(&mut app, 5);
    let mapped_then = mapping(&app).mapped().to_vec();
    std::fs::write(dir.join("corrupt.mpk"), b"not a checkpoint").unwrap();
    for bad in ["corrupt.mpk", "missing.mpk"] {
        send(&mut app, SphereCommand::Load(dir.join(bad)));
        let has_error = |app: &App| state(app).error().unwrap_or("").contains(bad);
        update_until(&mut app, "the load to fail", has_error);
        assert_eq!(state(&app).steps(), 25);
        assert_eq!(mapping(&app).mapped(), mapped_then);
    }

    // The saved network comes back with its step count and what it was trained with.
    send(&mut app, SphereCommand::Load(dir.join("net.mpk")));
    update_until(&mut app, "the load", |app| {
        notice(app).starts_with("loaded")
    });
    let state_now = state(&app);
    assert_eq!(state_now.error(), None);
    assert_eq!(state_now.steps(), 20);
    assert!(
        state_now.trained_with().contains("net.mpk"),
        "{}",
        state_now.trained_with()
    );
    assert!(
        state_now.trained_with().contains("seed loss"),
        "{}",
        state_now.trained_with()
    );
    update_until(&mut app, "the loaded network's mapping", |app| {
        mapping(app).mapped() == saved_mapping
    });

    // The same from a file's contents, as a web page hands them over: bad contents are an
    // error that names the file and keeps the network; good ones load.
    train_exactly(&mut app, 5);
    let contents = |bytes: Vec<u8>| std::sync::Arc::<[u8]>::from(bytes);
    send(
        &mut app,
        SphereCommand::LoadContents {
            name: "dropped.mpk".into(),
            contents: contents(b"not a checkpoint".to_vec()),
        },
    );
    update_until(&mut app, "the contents to fail", |app| {
        state(app)
            .error()
            .as_deref()
            .unwrap_or("")
            .contains("dropped.mpk")
    });
    assert_eq!(state(&app).steps(), 25);
    send(
        &mut app,
        SphereCommand::LoadContents {
            name: "page.mpk".into(),
            contents: contents(std::fs::read(dir.join("net.mpk")).unwrap()),
        },
    );
    update_until(&mut app, "the contents to load", |app| {
        notice(app).starts_with("loaded page.mpk")
    });
    assert_eq!(state(&app).steps(), 20);
    update_until(&mut app, "the contents' mapping", |app| {
        mapping(app).mapped() == saved_mapping
    });

    let names: Vec<String> = (outcomes.lock().unwrap().iter())
        .map(|outcome| match outcome {
            Outcome::Saved(at) => format!("saved {}", file_name(at)),
            Outcome::Exported(at) => format!("exported {}", file_name(at)),
            Outcome::Loaded { from, steps } => format!("loaded {} {steps}", from.display()),
            Outcome::Failed(why) => {
                let bad = ["grid.txt", "corrupt.mpk", "missing.mpk", "dropped.mpk"];
                let named = bad.iter().find(|bad| why.contains(*bad));
                format!("failed {}", named.unwrap_or(&why.as_str()))
            }
        })
        .collect();
    let net = dir.join("net.mpk");
    let expected = [
        "saved net.mpk".to_string(),
        "exported grid.ply".into(),
        "exported grid.csv".into(),
        "exported grid.glb".into(),
        "failed grid.txt".into(),
        "failed corrupt.mpk".into(),
        "failed missing.mpk".into(),
        format!("loaded {} 20", net.display()),
        "failed dropped.mpk".into(),
        "loaded page.mpk 20".into(),
    ];
    assert_eq!(names, expected);
    std::fs::remove_dir_all(dir).unwrap();
}

fn file_name(at: &str) -> String {
    std::path::Path::new(at)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn the_batch_view_shows_the_training_batch_instead_of_the_grid() {
    let mut app = sphere_app(cpu_sphere(20), ());
    update_until(&mut app, "training", |app| steps(app) > 0);
    settings(&mut app).view = SphereView::TrainingBatch;
    let count = |app: &App| {
        let mut shown = (app.world())
            .try_query_filtered::<(&InheritedVisibility, Has<SpherePoint>), With<MeshTag>>()
            .expect("points are spawned");
        let (mut grid, mut batch) = (0, 0);
        for (visibility, is_grid) in shown.iter(app.world()) {
            match is_grid {
                true => grid += usize::from(visibility.get()),
                false => batch += usize::from(visibility.get()),
            }
        }
        (grid, batch)
    };
    update_until(&mut app, "the batch's points alone", |app| {
        count(app) == (0, 1000)
    });

    settings(&mut app).view = SphereView::Grid;
    update_until(&mut app, "the grid's points alone", |app| {
        count(app) == (400, 0)
    });
}

#[test]
fn a_run_that_goes_non_finite_is_shown_and_never_placed() {
    // The config of trainer::a_run_that_goes_non_finite_goes_back_and_carries_on.
    let diverging = TrainConfig::new().with_clamp(1e30).with_lr(1e9);
    let mut app = sphere_app(cpu_sphere(10).with_train_config(diverging.clone()), ());
    // So steep a run can also reach a network whose gradient is not finite, where training
    // stops and says so (a_network_that_cannot_train_stops_and_says_why); where depends on
    // how the worker's chunks fall.
    update_until(&mut app, "a recovery and 300 steps, or a stop", |app| {
        let mapped = &mapping(app).mapped();
        assert!(mapped.iter().flatten().all(|c| c.is_finite()), "{mapped:?}");
        let stopped = state(app).error().is_some() && state(app).phase() == TrainingPhase::Paused;
        state(app).recovery().is_some() && (steps(app) >= 300 || stopped)
    });
    let recovery = state(&app).recovery().clone().unwrap();
    assert!(recovery.lr < diverging.lr);
    // What the network trains with holds the lowered rate; the sphere's settings stay the
    // game's.
    let lr = state(&app).config().lr;
    assert!(lr <= recovery.lr, "{lr}");
    assert_eq!(settings_of(&app).train.lr, diverging.lr);
    assert!(state(&app).history().recent().all(|s| s.loss.is_finite()));
}

#[test]
fn a_network_that_cannot_train_stops_and_says_why() {
    // All-zero weights: a finite loss with a gradient that is not (see
    // trainer::a_network_whose_gradient_is_not_finite_stops_training_with_an_error).
    let config = TrainConfig::new();
    let zeros = Trainer::new(config.clone(), &TrainingDevice::Cpu)
        .unwrap()
        .network()
        .map(&mut Fill(0.0));
    let path = std::env::temp_dir().join(format!("neural-sphere-zero-{}", std::process::id()));
    let checkpoint = Checkpoint {
        config,
        steps: 0,
        model: zeros,
    };
    let path = checkpoint.save(&path).unwrap();

    let mut app = sphere_app(cpu_sphere(10).paused(), ());
    send(&mut app, SphereCommand::Load(path.clone()));
    send(&mut app, SphereCommand::Resume);
    let stopped = |app: &App| {
        let error = state(app).error().unwrap_or("");
        error.contains("gradient") && state(app).phase() == TrainingPhase::Paused
    };
    update_until(&mut app, "training to stop", stopped);
    let steps_then = state(&app).steps();

    // Resuming says so again and takes no step.
    send(&mut app, SphereCommand::Resume);
    update_until(&mut app, "the refusal", stopped);
    idle_frames(&mut app);
    assert_eq!(state(&app).steps(), steps_then);
    std::fs::remove_file(path).unwrap();
}
