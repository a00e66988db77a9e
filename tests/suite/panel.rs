//! The control panel, headless: while it is open, the view is centred in the part of the
//! window it leaves free; images given by their contents open.

use bevy::camera::RenderTarget;
use bevy::prelude::*;
use bevy::render::render_resource::TextureFormat;
use bevy_neural_sphere::{
    BackendKind, ImageLibrary, NeuralSphere, NeuralSphereUiPlugin, SphereImage,
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
