//! Several neural spheres in one scene, each an entity with its own image, preset and place:
//! an Earth, a Moon that circles it as its child (so it follows the Earth wherever that goes),
//! and two more spheres beside them. Their images load through the `AssetServer`. The panel
//! lists the spheres; pick one to see and steer its training, and the camera turns about it.
//!
//! ```text
//! cargo run --release --example planets
//! ```

#[path = "support/light.rs"]
mod light;

use bevy::prelude::*;
use bevy_neural_sphere::prelude::*;

fn main() {
    App::new()
        .add_plugins(DefaultPlugins.set(WindowPlugin {
            primary_window: Some(Window {
                title: "Neural planets".into(),
                ..default()
            }),
            ..default()
        }))
        .add_plugins((NeuralSpherePlugin, NeuralSphereUiPlugin, SphereCameraPlugin))
        .insert_resource(ClearColor(Color::srgb(0.02, 0.02, 0.05)))
        .add_observer(light::light_camera)
        .add_systems(Startup, setup)
        .add_systems(Update, circle)
        .run();
}

/// Circles its entity around its parent, in the parent's xz plane.
#[derive(Component)]
struct Circling {
    radius: f32,
    /// Radians a second.
    speed: f32,
}

fn setup(mut commands: Commands, assets: Res<AssetServer>) {
    let closed = || NeuralSphere::default().with_train_config(Preset::Closed.config());
    let earth = commands
        .spawn((
            Name::new("Earth"),
            closed().with_grid(64),
            SphereImage(assets.load("images/earth.jpg")),
        ))
        .id();
    commands.spawn((
        Name::new("Moon"),
        closed().with_grid(32),
        SphereImage(assets.load("images/astronaut.jpg")),
        Transform::from_scale(Vec3::splat(0.3)),
        Circling {
            radius: 1.8,
            speed: 0.4,
        },
        ChildOf(earth),
    ));
    // The notebook's objective: the sphere missing a corner.
    commands.spawn((
        Name::new("Coffee (seed)"),
        NeuralSphere::default().with_grid(48),
        SphereImage(assets.load("images/coffee.jpg")),
        Transform::from_xyz(-3.5, 0.0, -1.0).with_scale(Vec3::splat(0.8)),
    ));
    commands.spawn((
        Name::new("Chelsea (surface)"),
        closed().with_grid(48).with_view(SphereView::Surface),
        SphereImage(assets.load("images/chelsea.jpg")),
        Transform::from_xyz(3.5, 0.0, -1.0).with_scale(Vec3::splat(0.8)),
    ));
    commands.insert_resource(SelectedSphere(Some(earth)));
    commands.spawn((
        SphereCamera { auto_orbit: 0.0 },
        bevy_panorbit_camera::PanOrbitCamera {
            radius: Some(10.0),
            pitch: Some(0.35),
            ..SphereCamera::home()
        },
    ));
}

fn circle(time: Res<Time>, mut circling: Query<(&Circling, &mut Transform)>) {
    for (circling, mut transform) in &mut circling {
        let angle = time.elapsed_secs() * circling.speed;
        transform.translation = circling.radius * Vec3::new(angle.cos(), 0.0, -angle.sin());
    }
}
