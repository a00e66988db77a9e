//! Which sphere the panel shows and the orbit camera turns about (feature `ui`).

use bevy::prelude::*;

use super::settings::NeuralSphere;

/// The sphere the panel shows and edits; with the `camera` feature, the orbit camera turns
/// about it. `None`, or a sphere that is gone, selects the first sphere there is.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq)]
pub struct SelectedSphere(pub Option<Entity>);

pub(crate) struct SelectionPlugin;

impl Plugin for SelectionPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<SelectedSphere>()
            .add_systems(Update, keep_selection);
        #[cfg(feature = "camera")]
        app.add_systems(Update, focus_selected.after(keep_selection));
    }
}

/// Selects the first sphere when none is, or the selected one is gone.
fn keep_selection(
    mut selected: ResMut<SelectedSphere>,
    spheres: Query<Entity, With<NeuralSphere>>,
) {
    if selected.0.is_some_and(|sphere| spheres.contains(sphere)) {
        return;
    }
    let first = spheres.iter().min();
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
