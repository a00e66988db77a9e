//! The smallest game with the plugin: its own camera and light, one sphere with the defaults,
//! no UI.
//!
//! ```text
//! cargo run --release --example minimal --no-default-features --features scene
//! ```

use bevy::prelude::*;
use bevy_neural_sphere::prelude::*;

fn main() {
    App::new()
        .add_plugins((DefaultPlugins, NeuralSpherePlugin))
        .add_systems(Startup, setup)
        .add_systems(Update, turn_camera)
        .run();
}

fn setup(mut commands: Commands) {
    commands.spawn(NeuralSphere::default());
    commands.spawn((
        Camera3d::default(),
        Transform::from_xyz(0.0, 0.0, 3.5).looking_at(Vec3::ZERO, Vec3::Y),
    ));
    commands.spawn((
        DirectionalLight::default(),
        Transform::from_xyz(1.0, 2.0, 3.0).looking_at(Vec3::ZERO, Vec3::Y),
    ));
}

/// Circles the camera around the sphere.
fn turn_camera(time: Res<Time>, mut camera: Single<&mut Transform, With<Camera3d>>) {
    let angle = time.elapsed_secs() * 0.3;
    **camera = Transform::from_xyz(3.5 * angle.sin(), 0.8, 3.5 * angle.cos())
        .looking_at(Vec3::ZERO, Vec3::Y);
}
