//! Spheres as entities: several in one app, each drawn at its `GlobalTransform`, trained and
//! commanded on its own, culled out of view, and despawned without a trace.

use bevy::camera::visibility::ViewVisibility;
use bevy::diagnostic::FrameCount;
use bevy::prelude::*;
use bevy_neural_sphere::{
    BackendKind, ImageFit, MAX_GRID, NeuralSphere, PointMaterial, Preset, SphereCommand,
    SphereImage, SphereMapping, SpherePoint, TrainingState, fit_image,
};
use image::{DynamicImage, Rgba, RgbaImage};

use crate::app::{headless_app, update_until};
use crate::render::{SIDE, frame_where, ortho_camera};
use crate::wait::Progress;

/// The orthographic view spans this many world units vertically (and across: it is square).
const VIEW: f32 = 8.0;
const PIXELS_PER_UNIT: f32 = SIDE as f32 / VIEW;
/// Wide enough for neighbouring points to overlap, so that each sphere is a solid square
/// however its scale aligns its points with the pixels.
const POINT_RADIUS: f32 = 0.12;

fn cpu_sphere(grid: u32) -> NeuralSphere {
    NeuralSphere::default()
        .with_backend(BackendKind::Cpu)
        .with_grid(grid)
}

/// A flat sphere: paused, laid out as the square (morph 0), so that where it is drawn follows
/// from its transform alone: the square [-1, 1]² grown by the point radius; in its texture's
/// colours as they are (the scene has no light).
fn flat_sphere() -> NeuralSphere {
    NeuralSphere {
        morph: 0.0,
        point_radius: POINT_RADIUS,
        ..cpu_sphere(16).paused().unlit()
    }
}

/// A one-colour texture.
fn solid(app: &mut App, [r, g, b]: [u8; 3]) -> SphereImage {
    let pixels = DynamicImage::ImageRgba8(RgbaImage::from_pixel(8, 8, Rgba([r, g, b, 255])));
    let image = fit_image(&pixels, ImageFit::Stretch);
    SphereImage(app.world_mut().resource_mut::<Assets<Image>>().add(image))
}

/// A camera looking down -z at the origin through an orthographic view [`VIEW`] units high,
/// and the image it renders to.
fn camera(app: &mut App) -> Handle<Image> {
    ortho_camera(app, VIEW, 10.0)
}

/// The pixels whose strongest channel is `channel` (0 red, 1 green, 2 blue), clearly: their
/// bounding box's centre in world units (y up) and its half-width.
fn drawn(pixels: &[u8], channel: usize) -> Option<(Vec2, f32)> {
    let (mut min, mut max) = (Vec2::splat(f32::MAX), Vec2::splat(f32::MIN));
    for (i, p) in pixels.chunks_exact(4).enumerate() {
        let others = (0..3)
            .filter(|&c| c != channel)
            .map(|c| p[c])
            .max()
            .unwrap();
        if p[channel] > 120 && others < 60 {
            let at = Vec2::new((i % SIDE as usize) as f32, (i / SIDE as usize) as f32);
            (min, max) = (min.min(at), max.max(at));
        }
    }
    (min.x <= max.x).then(|| {
        // Pixel centres to world units, y up, the view centred on the origin.
        let centre = ((min + max) / 2.0 + 0.5) / PIXELS_PER_UNIT - VIEW / 2.0;
        let half = (max.x - min.x + 1.0) / 2.0 / PIXELS_PER_UNIT;
        (Vec2::new(centre.x, -centre.y), half)
    })
}

/// Asserts that the sphere of colour `channel` is drawn centred on `at` with half-width
/// `scale` × (1 + the point radius), to a pixel and a half.
fn assert_drawn(pixels: &[u8], channel: usize, at: Vec2, scale: f32) {
    let (centre, half) = drawn(pixels, channel).expect("the sphere is drawn");
    let tolerance = 1.5 / PIXELS_PER_UNIT;
    let expected = scale * (1.0 + POINT_RADIUS);
    assert!(
        centre.distance(at) < tolerance && (half - expected).abs() < tolerance,
        "channel {channel}: drawn at {centre} half-width {half}, expected {at} and {expected}"
    );
}

#[test]
fn each_sphere_is_drawn_where_its_global_transform_puts_it_and_follows_it() {
    let mut app = headless_app(bevy_neural_sphere::NeuralSpherePlugin);
    let target = camera(&mut app);
    let (red, green, blue) = (
        solid(&mut app, [255, 0, 0]),
        solid(&mut app, [0, 255, 0]),
        solid(&mut app, [0, 0, 255]),
    );
    let world = app.world_mut();
    let left = world
        .spawn((flat_sphere(), red, Transform::from_xyz(-2.0, 1.0, 0.0)))
        .id();
    // Turned a quarter about z (the square is symmetric) and half the size.
    let right = world
        .spawn((
            flat_sphere(),
            green,
            Transform::from_xyz(2.0, 1.5, 0.0)
                .with_rotation(Quat::from_rotation_z(std::f32::consts::FRAC_PI_2))
                .with_scale(Vec3::splat(0.5)),
        ))
        .id();
    // A child of the half-size sphere: 5 of its units below it, so 2.5 in the world, at its
    // scale times its own.
    world.spawn((
        flat_sphere(),
        blue,
        Transform::from_xyz(-5.0, 0.0, 0.0).with_scale(Vec3::splat(1.5)),
        ChildOf(right),
    ));
    let all_three = |p: &[u8]| (0..3).all(|c| drawn(p, c).is_some());
    let pixels = frame_where(&mut app, target.clone(), all_three);
    assert_drawn(&pixels, 0, Vec2::new(-2.0, 1.0), 1.0);
    assert_drawn(&pixels, 1, Vec2::new(2.0, 1.5), 0.5);
    // The parent's quarter turn takes the child's (-5, 0) offset to (0, -5), at half scale.
    assert_drawn(&pixels, 2, Vec2::new(2.0, -1.0), 0.75);

    // Moving a sphere at run time moves its pixels; the others stay.
    app.world_mut()
        .get_mut::<Transform>(left)
        .unwrap()
        .translation = Vec3::new(-1.5, -2.0, 0.0);
    let moved = |p: &[u8]| drawn(p, 0).is_some_and(|(at, _)| at.y < 0.0) && all_three(p);
    let pixels = frame_where(&mut app, target, moved);
    assert_drawn(&pixels, 0, Vec2::new(-1.5, -2.0), 1.0);
    assert_drawn(&pixels, 1, Vec2::new(2.0, 1.5), 0.5);
}

/// The sphere's state.
fn state(app: &App, sphere: Entity) -> &TrainingState {
    app.world().get::<TrainingState>(sphere).unwrap()
}

#[test]
fn two_spheres_train_on_their_own_and_a_command_to_one_leaves_the_other_alone() {
    let mut app = headless_app(bevy_neural_sphere::NeuralSpherePlugin);
    let (red, green) = (solid(&mut app, [255, 0, 0]), solid(&mut app, [0, 255, 0]));
    let (red_handle, green_handle) = (red.0.clone(), green.0.clone());
    let world = app.world_mut();
    let seed = world.spawn((cpu_sphere(12), red)).id();
    let closed = cpu_sphere(14).with_train_config(Preset::Closed.config());
    let closed = world.spawn((closed, green)).id();
    update_until(&mut app, "both spheres to train", |app| {
        state(app, seed).steps() > 0 && state(app, closed).steps() > 0
    });
    assert!(state(&app, seed).trained_with().contains("seed loss"));
    assert!(!state(&app, closed).trained_with().contains("seed loss"));

    // Paused, regridded and given the other's image: one sphere only.
    let world = app.world_mut();
    world.trigger(SphereCommand::Pause.to(seed));
    world.trigger(SphereCommand::SetGrid(8).to(seed));
    world.trigger(SphereCommand::SetImage(green_handle.clone()).to(seed));
    update_until(&mut app, "the paused sphere's new grid", |app| {
        let mapping = app.world().get::<SphereMapping>(seed).unwrap();
        state(app, seed).phase() == bevy_neural_sphere::TrainingPhase::Paused
            && mapping.mapped().len() == 64
    });
    let (paused_at, closed_at) = (state(&app, seed).steps(), state(&app, closed).steps());
    update_until(&mut app, "the other sphere to train on", |app| {
        state(app, closed).steps() > closed_at + 10
    });
    assert_eq!(
        state(&app, seed).steps(),
        paused_at,
        "the paused sphere stands still"
    );
    let world = app.world();
    assert_eq!(world.get::<SphereMapping>(closed).unwrap().grid(), 14);
    assert_eq!(world.get::<SphereImage>(seed).unwrap().0, green_handle);
    assert_eq!(world.get::<SphereImage>(closed).unwrap().0, green_handle);
    assert_ne!(red_handle, green_handle);
    let points = |app: &mut App| {
        let world = app.world_mut();
        let mut points = world.query::<&SpherePoint>();
        points.iter(world).count()
    };
    assert_eq!(points(&mut app), 64 + 14 * 14);

    // A grid too large is refused with an error, and the sphere keeps its grid.
    app.world_mut()
        .trigger(SphereCommand::SetGrid(70_000).to(seed));
    app.update();
    let error = state(&app, seed)
        .error()
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(
        error.contains("70000") && error.contains(&MAX_GRID.to_string()),
        "{error}"
    );
    assert_eq!(app.world().get::<NeuralSphere>(seed).unwrap().grid, 8);
    assert_eq!(state(&app, closed).error(), None);
}

#[test]
fn a_sphere_out_of_view_is_culled() {
    let mut app = headless_app(bevy_neural_sphere::NeuralSpherePlugin);
    camera(&mut app);
    // Seen in perspective: Bevy's orthographic frusta keep what is behind the camera.
    let world = app.world_mut();
    let mut projections = world.query_filtered::<&mut Projection, With<Camera>>();
    *projections.single_mut(world).unwrap() = Projection::Perspective(default());
    let seen = world.spawn(flat_sphere()).id();
    let behind = world
        .spawn((flat_sphere(), Transform::from_xyz(0.0, 0.0, 20.0)))
        .id();
    let beside = world
        .spawn((flat_sphere(), Transform::from_xyz(30.0, 0.0, 0.0)))
        .id();
    // The points of each sphere, and how many of them the camera sees.
    let visible = |app: &App, sphere: Entity| {
        let world = app.world();
        let Some(mut points) = world.try_query::<(&SpherePoint, &ChildOf, &ViewVisibility)>()
        else {
            return (0, 0);
        };
        let (mut all, mut shown) = (0, 0);
        for (_, root, visibility) in points.iter(world) {
            if world.get::<ChildOf>(root.parent()).unwrap().parent() == sphere {
                all += 1;
                shown += usize::from(visibility.get());
            }
        }
        (all, shown)
    };
    update_until(&mut app, "the first sphere's points in view", |app| {
        visible(app, seen) == (256, 256)
    });
    assert_eq!(visible(&app, behind), (256, 0), "behind the camera");
    assert_eq!(visible(&app, beside), (256, 0), "beside the view");
}

/// Threads of this process and its resident memory in bytes.
fn threads_and_rss() -> (usize, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (field("Threads:") as usize, field("VmRSS:") * 1024)
}

/// Spawn/despawn cycles of the churn test.
const CYCLES: usize = 100;
/// The share of the cycles before the churn test measures where memory stands.
const WARM_UP: f64 = 0.3;

/// Memory and threads at three moments of [`churn`].
#[derive(Debug)]
struct Churned {
    /// After the first [`WARM_UP`] of the cycles, once pipelines have compiled and lavapipe has
    /// compiled them in turn: Bevy compiles some 30 pipelines for the first frames, and
    /// lavapipe's resident memory rises by about 100 MB until about the fifteenth cycle.
    settled: (usize, u64),
    /// After the last cycle, once the last training thread has ended.
    churned: (usize, u64),
    /// After as many frames again with no sphere spawned: what frames alone cost.
    control: (usize, u64),
}

/// Spawns a sphere, waits until it has trained and drawn, and despawns it: `cycles` times,
/// beside a sphere that trains throughout. Then renders as many frames again without spawning,
/// so that what the frames cost by themselves (software Vulkan keeps memory per frame) can be
/// told from what the spheres leave behind.
fn churn(cycles: usize) -> Churned {
    let mut app = headless_app(bevy_neural_sphere::NeuralSpherePlugin);
    camera(&mut app);
    let stayer = app.world_mut().spawn(cpu_sphere(10)).id();
    let count = |app: &mut App| {
        let world = app.world_mut();
        let entities = world.query::<()>().iter(world).count();
        let materials = world.resource::<Assets<PointMaterial>>().len();
        (entities, materials)
    };
    update_until(&mut app, "the first sphere to train", |app| {
        state(app, stayer).steps() > 0
    });
    let before = count(&mut app);
    let frame = |app: &App| app.world().resource::<FrameCount>().0;
    let (mut settled, mut from) = (None, 0);
    for cycle in 0..cycles {
        let sphere = app.world_mut().spawn(cpu_sphere(8)).id();
        update_until(&mut app, "the new sphere's first mapping", |app| {
            state(app, sphere).positions_step().is_some()
        });
        app.world_mut().despawn(sphere);
        app.update();
        if cycle + 1 == (cycles as f64 * WARM_UP) as usize {
            settled = Some(threads_and_rss());
            from = frame(&app);
        }
    }
    // Despawned spheres leave no entities and no materials (which hold their GPU buffers).
    app.update();
    assert_eq!(count(&mut app), before, "entities and point materials");
    // The last training threads end after their current chunk.
    let settled = settled.unwrap();
    let mut waited = Progress::new("the despawned spheres' training threads to end");
    while threads_and_rss().0 > settled.0 {
        waited.check((threads_and_rss().0, state(&app, stayer).steps()));
        app.update();
    }
    let churned = threads_and_rss();
    for _ in from..frame(&app) {
        app.update();
    }
    assert!(state(&app, stayer).error().is_none());
    Churned {
        settled,
        churned,
        control: threads_and_rss(),
    }
}

/// Runs the churn in a process of its own: the suite's other tests share this one.
#[test]
fn spawning_and_despawning_spheres_leaves_threads_and_memory_flat() {
    const CHILD: &str = "NEURAL_SPHERE_CHURN_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let churned = churn(CYCLES);
        println!("churn: {churned:?}");
        let Churned {
            settled,
            churned,
            control,
        } = churned;
        let grown = churned.1.saturating_sub(settled.1) as f64;
        let frames_alone = control.1.saturating_sub(churned.1) as f64;
        // Beyond what as many frames cost by themselves on lavapipe, the cycles after warm-up
        // left 0 to 0.8 MB each (CHANGELOG, Known issues): the bound catches a sphere's
        // buffers, points or thread left alive.
        let per_cycle = (grown - frames_alone).max(0.0) / ((1.0 - WARM_UP) * CYCLES as f64);
        assert!(
            churned.0 <= settled.0 && per_cycle < 2e6,
            "threads {} -> {}; memory grew {:.0} MB over the cycles, {:.0} MB over as many \
             frames with no spawning",
            settled.0,
            churned.0,
            grown / 1e6,
            frames_alone / 1e6
        );
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "spheres::spawning_and_despawning_spheres_leaves_threads_and_memory_flat",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    let errors = String::from_utf8_lossy(&output.stderr);
    println!("{said}");
    assert!(output.status.success(), "{said}\n{errors}");
    assert!(said.contains("churn: Churned"), "{said}");
    assert!(!errors.contains("panicked"), "{errors}");
}
