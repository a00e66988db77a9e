//! The control panel, headless: while it is open, the view is centred in the part of the
//! window it leaves free; images given by their contents open; a click on a sphere selects it.

use bevy::camera::RenderTarget;
use bevy::input::ButtonState;
use bevy::input::mouse::MouseButtonInput;
use bevy::prelude::*;
use bevy::render::render_resource::TextureFormat;
use bevy::window::{PrimaryWindow, WindowResolution};
use bevy_neural_sphere::{
    BackendKind, ImageLibrary, NeuralSphere, NeuralSphereUiPlugin, SelectedSphere, SphereImage,
};

use crate::app::{sphere_app, the_sphere, update_until};

/// A paused app on the CPU with the panel.
fn app_with_panel() -> App {
    let sphere = NeuralSphere::default()
        .with_backend(BackendKind::Cpu)
        .paused();
    sphere_app(sphere, NeuralSphereUiPlugin)
}

#[test]
fn the_open_panel_moves_the_view_centre_into_the_free_part_of_the_window() {
    let mut app = app_with_panel();
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
    update_until(&mut app, "the panel to set the view", |app| {
        view(app).is_some()
    });

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

#[test]
fn an_image_given_by_its_contents_opens_under_its_name_even_where_a_file_has_it() {
    let mut app = app_with_panel();
    // A red PNG named after a file in the working folder (the crate's root while testing):
    // the contents count, not the file.
    let red = image::RgbaImage::from_pixel(4, 4, image::Rgba([255, 0, 0, 255]));
    let mut png = std::io::Cursor::new(Vec::new());
    red.write_to(&mut png, image::ImageFormat::Png).unwrap();
    assert!(std::path::Path::new("README.md").exists());
    {
        let mut library = app.world_mut().resource_mut::<ImageLibrary>();
        library.add_contents("README.md", png.into_inner());
        library.request = Some("README.md".into());
    }
    let red_shown = |app: &App| {
        let Some(SphereImage(handle)) = app.world().get::<SphereImage>(the_sphere(app)) else {
            return false;
        };
        let image = app.world().resource::<Assets<Image>>().get(handle);
        image.is_some_and(|i| i.data.as_ref().is_some_and(|d| d[..3] == [255, 0, 0]))
    };
    update_until(&mut app, "the sphere to show the red image", red_shown);
}

#[test]
fn an_image_that_does_not_read_leaves_the_spheres_image_and_says_why() {
    let mut app = app_with_panel();
    app.update();
    let sphere = the_sphere(&app);
    let before = app.world().get::<SphereImage>(sphere).unwrap().clone();
    {
        let mut library = app.world_mut().resource_mut::<ImageLibrary>();
        library.add_contents("broken.png", b"not an image".to_vec());
        library.request = Some("broken.png".into());
    }
    let error = |app: &App| {
        app.world()
            .resource::<ImageLibrary>()
            .error()
            .map(str::to_owned)
    };
    update_until(&mut app, "the library's error", |app| error(app).is_some());
    let error = error(&app).unwrap();
    assert!(error.contains("broken.png"), "{error}");
    assert_eq!(app.world().get::<SphereImage>(sphere), Some(&before));
}

#[test]
fn a_click_on_a_sphere_selects_it_and_a_drag_or_a_click_beside_selects_nothing() {
    let mut app = app_with_panel();
    let spheres = [
        (the_sphere(&app), Vec3::ZERO),
        (
            (app.world_mut())
                .spawn((
                    NeuralSphere::default()
                        .with_backend(BackendKind::Cpu)
                        .paused(),
                    Transform::from_xyz(2.5, 0.0, 0.0),
                ))
                .id(),
            Vec3::new(2.5, 0.0, 0.0),
        ),
    ];
    // A window without a surface: the camera draws to it in name, which is what a click needs.
    let window = (app.world_mut())
        .spawn((
            Window {
                resolution: WindowResolution::new(1280, 720),
                ..default()
            },
            PrimaryWindow,
        ))
        .id();
    let camera = (app.world_mut())
        .spawn((Camera3d::default(), Transform::from_xyz(1.25, 0.0, 9.0)))
        .id();
    let selected = |app: &App| app.world().resource::<SelectedSphere>().0;
    // The view as the open panel leaves it: the clicks below aim through that projection.
    update_until(&mut app, "the panel to set the view", |app| {
        let camera = app.world().get::<Camera>(camera).unwrap();
        selected(app).is_some() && camera.sub_camera_view.is_some()
    });
    // The projection follows the view in the next frame.
    app.update();
    let before = selected(&app);
    let (other, centre) = spheres
        .into_iter()
        .find(|(sphere, _)| Some(*sphere) != before)
        .unwrap();

    let on_screen = |app: &mut App, at: Vec3| {
        let world = app.world_mut();
        let (camera, transform) = world
            .query::<(&Camera, &GlobalTransform)>()
            .get(world, camera)
            .unwrap();
        camera.world_to_viewport(transform, at).unwrap()
    };
    let click = |app: &mut App, from: Vec2, to: Vec2| {
        for (at, state) in [(from, ButtonState::Pressed), (to, ButtonState::Released)] {
            let world = app.world_mut();
            world
                .get_mut::<Window>(window)
                .unwrap()
                .set_cursor_position(Some(at));
            world.write_message(MouseButtonInput {
                button: MouseButton::Left,
                state,
                window,
            });
            app.update();
        }
    };
    // Beside the other sphere, and a drag across it: nothing changes.
    let above = on_screen(&mut app, centre + Vec3::Y * 1.6);
    let centre = on_screen(&mut app, centre);
    click(&mut app, above, above);
    assert_eq!(selected(&app), before, "a click beside the sphere");
    click(&mut app, centre - Vec2::X * 40.0, centre + Vec2::X * 40.0);
    assert_eq!(selected(&app), before, "a drag across the sphere");
    // On it.
    click(&mut app, centre, centre);
    assert_eq!(selected(&app), Some(other), "a click on the sphere");
}
