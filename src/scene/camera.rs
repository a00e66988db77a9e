//! An orbit camera around the sphere (feature `camera`): drag to orbit, scroll to zoom, and an
//! optional slow automatic orbit. With the `ui` feature, the camera ignores the pointer while it
//! is over the panel.

use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::prelude::*;
use bevy_panorbit_camera::{PanOrbitCamera, PanOrbitCameraPlugin};

/// Adds the orbit camera's systems; spawn a [`SphereCamera`] to get one.
pub struct SphereCameraPlugin;

impl Plugin for SphereCameraPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<PanOrbitCameraPlugin>() {
            app.add_plugins(PanOrbitCameraPlugin);
        }
        app.register_type::<SphereCamera>()
            .add_systems(Update, auto_orbit);
    }
}

/// A camera orbiting the sphere. Untonemapped, so the points show the texture's own colours,
/// and without multisampling, which the points' round edges (cut out in the fragment shader)
/// would not use, and which costs more than the points themselves on a software rasteriser.
#[derive(Component, Debug, Clone, Reflect)]
#[reflect(Component)]
#[require(Camera3d, Tonemapping::None, Msaa::Off, PanOrbitCamera = SphereCamera::home())]
pub struct SphereCamera {
    /// Automatic orbit speed in radians per second (0 stops it).
    pub auto_orbit: f32,
}

impl Default for SphereCamera {
    fn default() -> Self {
        Self { auto_orbit: 0.2 }
    }
}

impl SphereCamera {
    /// The starting view: slightly above the equator, the whole sphere in sight.
    pub fn home() -> PanOrbitCamera {
        PanOrbitCamera {
            radius: Some(3.2),
            pitch: Some(0.3),
            yaw: Some(0.0),
            ..default()
        }
    }

    /// Moves `camera` back to the starting view.
    pub fn reset_view(camera: &mut PanOrbitCamera) {
        let home = Self::home();
        camera.target_focus = Vec3::ZERO;
        camera.target_radius = home.radius.unwrap_or(3.2);
        camera.target_pitch = home.pitch.unwrap_or(0.3);
        camera.target_yaw = home.yaw.unwrap_or(0.0);
    }
}

fn auto_orbit(time: Res<Time>, mut cameras: Query<(&SphereCamera, &mut PanOrbitCamera)>) {
    for (sphere, mut camera) in &mut cameras {
        if sphere.auto_orbit != 0.0 {
            camera.target_yaw += sphere.auto_orbit * time.delta_secs();
        }
    }
}
