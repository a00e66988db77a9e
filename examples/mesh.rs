//! The learned sphere as an ordinary Bevy mesh, without the plugin: a network trained here (or
//! loaded from a checkpoint) maps a grid, and [`SphereSurface`] turns the mapping into a
//! [`Mesh`] that a `StandardMaterial` draws with the game's own texture and lights.
//!
//! ```text
//! cargo run --release --example mesh [-- runs/first/model.mpk]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use bevy::prelude::*;
use bevy_neural_sphere::{
    Error, Preset,
    learn::{SphereSurface, Trainer, TrainingDevice, grid_points},
};

/// Training steps when no checkpoint is given: the closed preset covers the sphere by then.
const STEPS: usize = 2_000;

fn main() -> ExitCode {
    let surface = match learned_surface(std::env::args_os().nth(1).map(PathBuf::from)) {
        Ok(surface) => surface,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    App::new()
        .add_plugins(DefaultPlugins)
        .add_systems(
            Startup,
            move |mut commands: Commands,
                  assets: Res<AssetServer>,
                  mut meshes: ResMut<Assets<Mesh>>,
                  mut materials: ResMut<Assets<StandardMaterial>>| {
                commands.spawn((
                    Mesh3d(meshes.add(Mesh::from(&surface))),
                    MeshMaterial3d(materials.add(StandardMaterial {
                        base_color_texture: Some(assets.load("images/earth.jpg")),
                        perceptual_roughness: 0.9,
                        // A sphere that is not closed shows its inside.
                        double_sided: true,
                        cull_mode: None,
                        ..default()
                    })),
                ));
                commands.spawn((
                    Camera3d::default(),
                    Transform::from_xyz(0.0, 0.8, 3.2).looking_at(Vec3::ZERO, Vec3::Y),
                ));
                commands.spawn((
                    DirectionalLight::default(),
                    Transform::from_xyz(1.0, 2.0, 3.0).looking_at(Vec3::ZERO, Vec3::Y),
                ));
            },
        )
        .add_systems(Update, spin)
        .run();
    ExitCode::SUCCESS
}

/// The surface of a 100×100 grid, mapped by the checkpoint's network or by a fresh `closed` one.
fn learned_surface(checkpoint: Option<PathBuf>) -> Result<SphereSurface, Error> {
    let trainer = match checkpoint {
        Some(path) => Trainer::load(&path, &TrainingDevice::Cpu)?,
        None => {
            println!("training the closed preset for {STEPS} steps on the CPU");
            let mut trainer = Trainer::new(Preset::Closed.config(), &TrainingDevice::Cpu)?;
            trainer.train(STEPS)?;
            trainer
        }
    };
    let grid = 100;
    Ok(SphereSurface::new(grid, &trainer.eval(&grid_points(grid))?))
}

/// Turns the sphere about its vertical axis.
fn spin(time: Res<Time>, mut meshes: Query<&mut Transform, With<Mesh3d>>) {
    for mut transform in &mut meshes {
        transform.rotate_y(0.3 * time.delta_secs());
    }
}
