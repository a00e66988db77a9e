//! The examples' light: every 3D camera gets a directional light over its shoulder and soft
//! ambient light, so that a lit sphere shows its texture from wherever the camera turns (a game
//! lights its spheres with its own lights instead).

use bevy::prelude::*;

/// With the camera's default exposure, light that shows a surface facing it at about 0.65 of
/// its colour, and ambient light at about 0.35: the texture's colours where the light falls.
const ILLUMINANCE: f32 = 2000.0;
const AMBIENT: f32 = 350.0;

/// Whether the examples' lights cast shadows (off without this resource).
#[derive(Resource)]
#[allow(dead_code, reason = "only the demo turns shadows on")]
pub struct Shadows;

/// Lights each new 3D camera's view: an observer, `app.add_observer(light_camera)`.
pub fn light_camera(add: On<Add, Camera3d>, shadows: Option<Res<Shadows>>, mut commands: Commands) {
    commands
        .entity(add.entity)
        .insert(AmbientLight {
            brightness: AMBIENT,
            ..default()
        })
        .with_child((
            DirectionalLight {
                illuminance: ILLUMINANCE,
                shadow_maps_enabled: shadows.is_some(),
                ..default()
            },
            // Above and to the left of the camera, shining where it looks.
            Transform::from_xyz(-0.4, 0.5, 1.0).looking_at(Vec3::ZERO, Vec3::Y),
        ));
}
