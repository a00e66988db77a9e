//! The surface view rendered headless: a closed sphere as a whole round sheet with the texture
//! where its UVs say, and a tear as a gap that closes when the sheet morphs back to the square.

use bevy::prelude::*;
use bevy_neural_sphere::{
    BackendKind, NeuralSphere, Preset, SphereCommand, SphereView, TrainConfig,
    learn::{Checkpoint, HostBackend, SphereNetConfig, SphereSurface},
};
use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus as Rng;

use crate::app::{mapping, send, settings, state, train_exactly, update_until};
use crate::render::{
    PIXELS_PER_UNIT, QUADRANTS, SIDE, assert_round, frame_where, from_centre, is_lit, lit_pixels,
    near, quadrant_app, shows_points,
};

/// The share of the pixels within `radius` (world units) of the image centre that show
/// nothing.
fn holes_within(pixels: &[u8], radius: f32) -> f64 {
    let r = radius * PIXELS_PER_UNIT;
    let inside: Vec<bool> = (pixels.chunks_exact(4).enumerate())
        .filter(|(i, _)| {
            let (x, y) = from_centre(*i);
            x * x + y * y <= r * r
        })
        .map(|(_, p)| !is_lit(p))
        .collect();
    inside.iter().filter(|&&hole| hole).count() as f64 / inside.len() as f64
}

#[test]
fn a_closed_surface_is_round_and_whole_and_shows_each_colour_where_its_uvs_say() {
    let grid = 61;
    let sphere = NeuralSphere::default()
        .with_backend(BackendKind::Cpu)
        .with_train_config(Preset::Closed.config())
        .with_grid(grid)
        .with_view(SphereView::Surface);
    let (mut app, target) = quadrant_app(sphere);
    train_exactly(&mut app, 1500);
    let surface = frame_where(&mut app, target.clone(), shows_points);
    assert_round(&lit_pixels(&surface));
    let surface_holes = holes_within(&surface, 0.9);

    // The same network as points of the default size: the background shows between them.
    settings(&mut app).view = SphereView::Grid;
    settings(&mut app).point_radius = NeuralSphere::default().point_radius;
    let points = frame_where(&mut app, target.clone(), |p| {
        p != surface.as_slice() && shows_points(p)
    });
    let points_holes = holes_within(&points, 0.9);
    // The seam's stitches close the gap between its two sides: not a pixel in a thousand shows
    // the background.
    assert!(
        surface_holes < 0.001 && points_holes > 10.0 * surface_holes,
        "background within the outline: {:.3} % between the surface's cells, {:.3} % between \
         the points",
        surface_holes * 100.0,
        points_holes * 100.0
    );

    // Looking straight at the grid centre's image, unlit: the four quadrants of the texture
    // meet there, each in its own colour.
    let centre = mapping(&app).mapped()[(grid * grid / 2) as usize];
    let mut cameras = app
        .world_mut()
        .query_filtered::<&mut Transform, With<Camera3d>>();
    *cameras.single_mut(app.world_mut()).unwrap() =
        Transform::from_translation(3.0 * Vec3::from(centre)).looking_at(Vec3::ZERO, Vec3::Y);
    settings(&mut app).view = SphereView::Surface;
    settings(&mut app).lit = false;
    let facing = frame_where(&mut app, target, |p| p != points.as_slice());
    let near_centre: Vec<&[u8]> = (facing.chunks_exact(4).enumerate())
        .filter(|(i, _)| {
            let (x, y) = from_centre(*i);
            x * x + y * y <= 8.0 * 8.0
        })
        .map(|(_, p)| p)
        .collect();
    for colour in QUADRANTS {
        let shown = near_centre.iter().filter(|p| near(p, colour)).count();
        assert!(
            shown >= 10,
            "{colour:?} shows in {shown} of the {} pixels round the grid centre's image",
            near_centre.len()
        );
    }
    let textured = lit_pixels(&facing)
        .iter()
        .filter(|(_, p)| QUADRANTS.iter().any(|&q| near(p, q)))
        .count();
    assert!(
        textured as f64 > 0.9 * lit_pixels(&facing).len() as f64,
        "unlit, {textured} of {} pixels show a colour of the texture",
        lit_pixels(&facing).len()
    );
}

/// Sets a network without hidden layers to (u, v) ↦ (u, v, 0.1) before normalising.
struct Lift;

impl<Be: Backend> ModuleMapper<Be> for Lift {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<Be, D>>) -> Param<Tensor<Be, D>> {
        param.map(|t| {
            // burn's weights are [inputs, outputs].
            let values = match D {
                2 => vec![1.0f32, 0.0, 0.0, 0.0, 1.0, 0.0],
                _ => vec![0.0f32, 0.0, 0.1],
            };
            Tensor::from_data(TensorData::new(values, t.shape()), &t.device())
        })
    }
}

#[test]
fn the_surface_leaves_a_gap_where_the_mapping_tears() {
    // (u, v) ↦ the direction of (u, v, 0.1) spreads the cells round the square's centre over
    // the northern cap, each over more than 10°: those are torn; the rest are not.
    let device = Default::default();
    let network = SphereNetConfig::new()
        .with_hidden(vec![])
        .with_activations(vec![])
        .with_dropout(vec![]);
    let mut config = TrainConfig::new();
    config.model = network.clone();
    let checkpoint = Checkpoint {
        config,
        steps: 7,
        model: network
            .init::<HostBackend>(&mut Rng::seed_from_u64(0), &device)
            .map(&mut Lift),
    };
    let path = std::env::temp_dir().join(format!("neural-sphere-tear-{}", std::process::id()));
    let path = checkpoint.save(&path).unwrap();

    let grid = 40;
    let sphere = NeuralSphere::default()
        .with_backend(BackendKind::Cpu)
        .with_grid(grid)
        .with_view(SphereView::Surface);
    let (mut app, target) = quadrant_app(sphere);
    settings(&mut app).lit = false;
    send(&mut app, SphereCommand::Load(path.clone()));
    update_until(&mut app, "the loaded network's positions", |app| {
        state(app).positions_step() == Some(7)
    });
    std::fs::remove_file(path).unwrap();
    let frame = frame_where(&mut app, target.clone(), shows_points);

    let grid = grid as usize;
    let mapped = mapping(&app).mapped().to_vec();
    let surface = SphereSurface::new(grid, &mapped);
    let cells = grid - 1;
    let mut kept = vec![false; cells * cells];
    let cell_triangles = surface.triangles() - 2 * surface.stitches();
    for triangle in surface.indices.chunks_exact(3).take(cell_triangles) {
        let row = triangle.iter().map(|&i| i as usize / grid).min().unwrap();
        let column = triangle.iter().map(|&i| i as usize % grid).min().unwrap();
        kept[row * cells + column] = true;
    }
    let torn = kept.iter().filter(|&&k| !k).count();
    assert!(
        torn > 20 && torn < cells * cells / 2,
        "{torn} of {} cells torn",
        cells * cells
    );

    // Away from the gap's rim (all eight neighbours alike), a torn cell's centre shows the
    // background and a kept cell's the sheet, where it faces the camera.
    let (mut checked_torn, mut checked_kept) = (0, 0);
    for row in 1..cells - 1 {
        for column in 1..cells - 1 {
            let cell = row * cells + column;
            let alike = (-1..=1).all(|dr: isize| {
                (-1..=1).all(|dc: isize| {
                    let other =
                        (row as isize + dr) as usize * cells + (column as isize + dc) as usize;
                    kept[other] == kept[cell]
                })
            });
            let corners =
                [0, 1, grid, grid + 1].map(|k| Vec3::from(mapped[row * grid + column + k]));
            let centre = corners.iter().sum::<Vec3>().normalize();
            if !alike || (kept[cell] && centre.z < 0.3) {
                continue;
            }
            let middle = (SIDE as f32 - 1.0) / 2.0;
            let x = (middle + centre.x * PIXELS_PER_UNIT).round() as usize;
            let y = (middle - centre.y * PIXELS_PER_UNIT).round() as usize;
            let pixel = &frame[(y * SIDE as usize + x) * 4..][..4];
            assert_eq!(
                is_lit(pixel),
                kept[cell],
                "cell {row}, {column} ({}) at pixel {x}, {y}: {pixel:?}",
                if kept[cell] { "kept" } else { "torn" }
            );
            match kept[cell] {
                true => checked_kept += 1,
                false => checked_torn += 1,
            }
        }
    }
    assert!(
        checked_torn > 10 && checked_kept > 100,
        "{checked_torn} torn, {checked_kept} kept"
    );

    // Morphed back to the square, nothing is stretched: the sheet fills [-1, 1]² whole.
    settings(&mut app).morph = 0.0;
    let square = frame_where(&mut app, target, |p| p != frame.as_slice());
    let inside = (square.chunks_exact(4).enumerate())
        .filter(|(i, _)| {
            let (x, y) = from_centre(*i);
            x.abs().max(y.abs()) < 0.95 * PIXELS_PER_UNIT
        })
        .map(|(_, p)| p)
        .collect::<Vec<_>>();
    let holes = inside.iter().filter(|p| !is_lit(p)).count();
    assert_eq!(
        holes,
        0,
        "{holes} of {} pixels of the square are empty",
        inside.len()
    );
}
