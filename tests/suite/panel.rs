//! The control panel, headless: while it is open, the view is centred in the part of the
//! window it leaves free.

use bevy::camera::RenderTarget;
use bevy::prelude::*;
use bevy::render::render_resource::TextureFormat;
use bevy_neural_sphere::{BackendKind, NeuralSpherePlugin, NeuralSphereUiPlugin};

use crate::app::headless_app;

#[test]
fn the_open_panel_moves_the_view_centre_into_the_free_part_of_the_window() {
    let plugin = NeuralSpherePlugin::default()
        .with_backend(BackendKind::Cpu)
        .paused();
    let mut app = headless_app((plugin, NeuralSphereUiPlugin));
    let size = UVec2::new(1280, 720);
    let target = Image::new_target_texture(size.x, size.y, TextureFormat::Rgba8UnormSrgb, None);
    let target = app.world_mut().resource_mut::<Assets<Image>>().add(target);
    let camera = (app.world_mut())
        .spawn((
            Camera3d::default(),
            RenderTarget::Image(target.into()),
            Transform::from_xyz(0.0, 0.0, 3.5),
        ))
        .id();
    let view = |app: &App| app.world().get::<Camera>(camera).unwrap().sub_camera_view;
    for _ in 0..100 {
        if view(&app).is_some() {
            break;
        }
        app.update();
    }

    // The panel opens at the top left, a third of the window wide: the window becomes the
    // left part of a wider view whose centre lies right of the window's.
    let view = view(&app).expect("the open panel leaves the view where it was");
    assert_eq!(view.size, size);
    let centre = view.full_size.x as f32 / 2.0 - view.offset.x;
    assert!(
        centre > 0.6 * size.x as f32 && centre < 0.9 * size.x as f32,
        "the view's centre lies at {centre} px: {view:?}"
    );
}
