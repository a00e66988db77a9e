//! Which sphere the panel shows and the orbit camera turns about (feature `ui`): the first, or
//! the one last clicked in the view.

use bevy::camera::RenderTarget;
use bevy::prelude::*;
use bevy::window::{PrimaryWindow, WindowRef};
use bevy_egui::input::EguiWantsInput;

use super::settings::NeuralSphere;

/// The sphere the panel shows and edits; with the `camera` feature, the orbit camera turns
/// about it. `None`, or a sphere that is gone, selects the first spawned there is; a click on a
/// sphere in the window selects it.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq)]
pub struct SelectedSphere(pub Option<Entity>);

pub(crate) struct SelectionPlugin;

impl Plugin for SelectionPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<SelectedSphere>()
            .add_systems(Update, (select_clicked, keep_selection).chain());
        #[cfg(feature = "camera")]
        app.add_systems(Update, focus_selected.after(keep_selection));
    }
}

/// How far, in logical pixels, the pointer may move between press and release for a click;
/// further, it drags (the orbit camera turns).
const CLICK_SLOP: f32 = 4.0;

/// Selects the sphere under a click in the primary window: the nearest whose bounds the
/// pointer's ray meets, through each camera that draws to the window. A press on the panel, or
/// one that drags, selects nothing.
fn select_clicked(
    buttons: Res<ButtonInput<MouseButton>>,
    egui: Option<Res<EguiWantsInput>>,
    windows: Query<&Window, With<PrimaryWindow>>,
    cameras: Query<(&Camera, &RenderTarget, &GlobalTransform)>,
    spheres: Query<(Entity, &GlobalTransform, &InheritedVisibility), With<NeuralSphere>>,
    mut pressed_at: Local<Option<Vec2>>,
    mut selected: ResMut<SelectedSphere>,
) {
    let cursor = windows.single().ok().and_then(Window::cursor_position);
    if buttons.just_pressed(MouseButton::Left) {
        let on_panel = egui.is_some_and(|egui| egui.is_pointer_over_area());
        *pressed_at = cursor.filter(|_| !on_panel);
    }
    if !buttons.just_released(MouseButton::Left) {
        return;
    }
    let (Some(from), Some(at)) = (pressed_at.take(), cursor) else {
        return;
    };
    if from.distance(at) > CLICK_SLOP {
        return;
    }
    let rays = (cameras.iter())
        .filter(|(camera, target, _)| {
            camera.is_active && matches!(target, RenderTarget::Window(WindowRef::Primary))
        })
        .filter_map(|(camera, _, at_camera)| camera.viewport_to_world(at_camera, at).ok());
    let hit = rays
        .flat_map(|ray| {
            (spheres.iter())
                .filter(|(_, _, visible)| visible.get())
                .filter_map(move |(sphere, at, _)| hit_distance(ray, at).map(|d| (d, sphere)))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((_, sphere)) = hit
        && selected.0 != Some(sphere)
    {
        selected.0 = Some(sphere);
    }
}

/// How far along `ray` it first meets a sphere's bounds: the unit sphere at its transform,
/// scaled by the largest of its scales.
fn hit_distance(ray: Ray3d, sphere: &GlobalTransform) -> Option<f32> {
    let (scale, _, centre) = sphere.to_scale_rotation_translation();
    let radius = scale.abs().max_element();
    let to_centre = centre - ray.origin;
    let along = to_centre.dot(*ray.direction);
    let miss = to_centre.length_squared() - along * along;
    let inside = radius * radius - miss;
    (inside >= 0.0 && along + inside.sqrt() > 0.0).then(|| along - inside.sqrt())
}

/// Selects the first sphere when none is, or the selected one is gone.
fn keep_selection(
    mut selected: ResMut<SelectedSphere>,
    spheres: Query<Entity, With<NeuralSphere>>,
) {
    if selected.0.is_some_and(|sphere| spheres.contains(sphere)) {
        return;
    }
    // The sphere spawned first: `Entity`'s own order is not the order of spawning.
    let first = spheres.iter().min_by_key(|sphere| sphere.index_u32());
    if selected.0 != first {
        selected.0 = first;
    }
}

/// Turns the orbit cameras about the selected sphere's centre: when the selection changes and
/// while the sphere moves (a moon that circles its planet stays in the middle of the view).
#[cfg(feature = "camera")]
fn focus_selected(
    selected: Res<SelectedSphere>,
    spheres: Query<Ref<GlobalTransform>, With<NeuralSphere>>,
    mut cameras: Query<
        &mut bevy_panorbit_camera::PanOrbitCamera,
        With<super::camera::SphereCamera>,
    >,
) {
    let Some(at) = selected.0.and_then(|sphere| spheres.get(sphere).ok()) else {
        return;
    };
    if !(selected.is_changed() || at.is_changed()) {
        return;
    }
    for mut camera in &mut cameras {
        camera.target_focus = at.translation();
    }
}
