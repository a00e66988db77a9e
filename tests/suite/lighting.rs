//! The surface in a game's world: shaded by the scene's directional light and casting a shadow
//! on the ground, both following the light when it turns.

use bevy::camera::RenderTarget;
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::prelude::*;
use bevy::render::render_resource::{TextureFormat, TextureUsages};
use bevy_neural_sphere::{
    BackendKind, ImageFit, NeuralSphere, SphereCheckpoint, SphereCommand, SphereView, fit_image,
};
use image::{DynamicImage, Rgba, RgbaImage};

use crate::app::{sphere_app, state, the_sphere, update_until};
use crate::pretrained::CLOSED;
use crate::render::frame_where;

const WIDTH: u32 = 256;
const HEIGHT: u32 = 192;
/// The ground's height: below the unit sphere.
const GROUND: f32 = -1.2;

/// The image the scene's camera renders to.
#[derive(Resource)]
struct Target(Handle<Image>);

/// The sphere (a closed network from the shipped checkpoint, white, as its surface) above a
/// white ground, a directional light with shadows, and a camera above and in front rendering
/// to [`Target`].
fn scene() -> App {
    let mut app = sphere_app(
        NeuralSphere::default()
            .with_backend(BackendKind::Cpu)
            .with_grid(64)
            .with_view(SphereView::Surface)
            .paused(),
        (),
    );
    let sphere = the_sphere(&app);
    let world = app.world_mut();
    let checkpoint = world
        .resource::<AssetServer>()
        .load::<SphereCheckpoint>(CLOSED);
    let white = DynamicImage::ImageRgba8(RgbaImage::from_pixel(8, 8, Rgba([230, 230, 230, 255])));
    let white = world
        .resource_mut::<Assets<Image>>()
        .add(fit_image(&white, ImageFit::Crop));
    world.get_mut::<NeuralSphere>(sphere).unwrap().checkpoint = Some(checkpoint);
    world.trigger(SphereCommand::SetImage(white).to(sphere));

    let ground = world
        .resource_mut::<Assets<Mesh>>()
        .add(Plane3d::default().mesh().size(8.0, 8.0));
    let material = world
        .resource_mut::<Assets<StandardMaterial>>()
        .add(StandardMaterial::from(Color::srgb(0.9, 0.9, 0.9)));
    world.spawn((
        Mesh3d(ground),
        MeshMaterial3d(material),
        Transform::from_xyz(0.0, GROUND, 0.0),
    ));
    world.spawn(DirectionalLight {
        illuminance: 2000.0,
        shadow_maps_enabled: true,
        ..default()
    });

    let mut target = Image::new_target_texture(WIDTH, HEIGHT, TextureFormat::Rgba8UnormSrgb, None);
    target.texture_descriptor.usage |= TextureUsages::COPY_SRC;
    let target = world.resource_mut::<Assets<Image>>().add(target);
    world.spawn((
        Camera3d::default(),
        Camera {
            clear_color: ClearColorConfig::Custom(Color::BLACK),
            ..default()
        },
        RenderTarget::Image(target.clone().into()),
        Tonemapping::None,
        Msaa::Off,
        Transform::from_xyz(0.0, 3.0, 6.0).looking_at(Vec3::new(0.0, -0.6, 0.0), Vec3::Y),
    ));
    world.insert_resource(Target(target));
    app
}

/// Where the camera sees `at`: the pixel's index in the frame.
fn pixel_of(app: &mut App, at: Vec3) -> usize {
    let world = app.world_mut();
    let (camera, placed) = world
        .query::<(&Camera, &GlobalTransform)>()
        .single(world)
        .unwrap();
    let seen = camera
        .world_to_viewport(placed, at)
        .expect("the point is in view");
    (seen.y.round() as u32 * WIDTH + seen.x.round() as u32) as usize
}

/// The mean brightness (0 to 255) of the 5 × 5 pixels around `pixel`.
fn brightness(pixels: &[u8], pixel: usize) -> f32 {
    let (x, y) = ((pixel as u32 % WIDTH) as i32, (pixel as u32 / WIDTH) as i32);
    let mut sum = 0.0;
    for dy in -2..=2 {
        for dx in -2..=2 {
            let i = 4 * ((y + dy) as u32 * WIDTH + (x + dx) as u32) as usize;
            sum += pixels[i..i + 3].iter().map(|&c| c as f32).sum::<f32>() / 3.0;
        }
    }
    sum / 25.0
}

/// What the scene shows with the light coming from the right (`side` 1) or the left (-1): the
/// brightness of the sphere's side towards the light and of its other side (both facing the
/// camera), and of the ground where the sphere's shadow falls and where it would with the
/// light the other way round.
#[derive(Debug)]
struct Shading {
    sphere_near: f32,
    sphere_far: f32,
    ground_shadow: f32,
    ground_open: f32,
}

/// Turns the light to shine down from the right (`side` 1) or the left (-1), and measures the
/// first frame that shows the shadow where it then falls.
fn lit_from(app: &mut App, side: f32) -> Shading {
    let world = app.world_mut();
    let mut light = world
        .query_filtered::<&mut Transform, With<DirectionalLight>>()
        .single_mut(world)
        .unwrap();
    *light = Transform::from_xyz(3.0 * side, 3.0, 0.0).looking_at(Vec3::ZERO, Vec3::Y);
    let target = app.world().resource::<Target>().0.clone();
    // Straight down the light from the sphere's centre: the shadow's middle.
    let spots = [
        Vec3::new(side, 0.0, 1.0).normalize(),
        Vec3::new(-side, 0.0, 1.0).normalize(),
        Vec3::new(-side * -GROUND, GROUND, 0.0),
        Vec3::new(side * -GROUND, GROUND, 0.0),
    ]
    .map(|at| pixel_of(app, at));
    // The first frames are blank while the pipelines compile, the shadow's among them, and a
    // turned light shows a frame or two late.
    let pixels = frame_where(app, target, |pixels| {
        let [_, _, shadow, open] = spots.map(|spot| brightness(pixels, spot));
        shadow > 3.0 && shadow < 0.6 * open
    });
    let [sphere_near, sphere_far, ground_shadow, ground_open] =
        spots.map(|spot| brightness(&pixels, spot));
    Shading {
        sphere_near,
        sphere_far,
        ground_shadow,
        ground_open,
    }
}

#[test]
fn the_surface_is_lit_by_the_scenes_light_and_casts_its_shadow_where_the_light_puts_it() {
    let mut app = scene();
    update_until(&mut app, "the checkpoint's mapping", |app| {
        state(app).positions_step().is_some() || state(app).error().is_some()
    });
    assert_eq!(state(&app).error(), None);
    for side in [1.0, -1.0] {
        let shading = lit_from(&mut app, side);
        // The frame is the first to show the shadow on the side away from the light, darker
        // than the ground on the other side by far (a frame without it never comes, and the
        // wait fails when the frames stop changing).
        assert!(
            shading.sphere_near > 1.5 * shading.sphere_far,
            "light from {side}: the sphere's side towards it is not brighter: {shading:?}"
        );
        assert!(
            shading.ground_shadow < 0.6 * shading.ground_open,
            "light from {side}: {shading:?}"
        );
    }
}
