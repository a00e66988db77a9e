//! Each cell's distortion against maps whose distortion is known, and the distortion views'
//! colours: on the host, and where the shaders paint them.

use bevy::prelude::*;
use bevy::render::renderer::RenderQueue;
use bevy_neural_sphere::{
    BackendKind, ColourMode, NeuralSphere, PointMaterial, SpherePoint, SphereView,
    learn::{DistortionScale, cell_distortion, grid_metrics, grid_points, point_distortion},
};

use crate::app::{settings, state, update_until};
use crate::metrics::{mapped, octahedral};
use crate::render::{PIXELS_PER_UNIT, frame_where, lit_pixels, near, quadrant_app};

/// [`lambert`]'s scale.
const K: f32 = 0.99;

/// Lambert's cylindrical map of a band around the equator: longitude `2Ku`, height `2Kv`.
/// Equal-area; a cell at latitude φ is drawn out `1 / cos²φ` times along the meridian.
fn lambert(u: f32, v: f32) -> [f32; 3] {
    let (lon, z) = (2.0 * K * u, 2.0 * K * v);
    let rho = (1.0 - z * z).sqrt();
    [rho * lon.cos(), rho * lon.sin(), z]
}

/// Equirectangular within ±69° of latitude, its equator's cells an equal share of the sphere:
/// cells shrink with `cos φ` towards the top and bottom.
fn equirectangular_band(u: f32, v: f32) -> [f32; 3] {
    let height = 2.4;
    let (lon, lat) = (4.0 * std::f32::consts::PI / height * u, height * v);
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

#[test]
fn shape_and_area_distortion_are_what_the_maps_say() {
    let grid = 100;
    // The figures for Clarberg's map, from an independent script.
    let g = grid_metrics(grid, &mapped(grid, octahedral));
    assert!((g.shape_median - 2.03).abs() < 0.005, "{g:?}");
    assert!((g.shape_p95 - 2.61).abs() < 0.005, "{g:?}");
    assert!((0.52..0.53).contains(&g.shape_over_2), "{g:?}");

    let cells = cell_distortion(grid, &mapped(grid, lambert));
    let share = (K as f64).powi(2) / std::f64::consts::PI;
    for (i, cell) in cells.iter().enumerate() {
        let (row, col) = (i / (grid - 1), i % (grid - 1));
        assert!((cell.area / share - 1.0).abs() < 1e-3, "{cell:?}");
        // Forward differences: the shape within a cell's change of latitude of its corner's.
        let z = 2.0 * K as f64 * grid_points(grid)[row * grid + col][1] as f64;
        let expected = 1.0 / (1.0 - z * z);
        assert!(
            z.abs() > 0.7 || (cell.shape / expected - 1.0).abs() < 0.03,
            "cell {row},{col}: {} for {expected}",
            cell.shape
        );
    }

    // Every point takes its own cell's distortion; the last row and column, the one before.
    let points = point_distortion(grid, &mapped(grid, lambert));
    assert_eq!(points[0], cells[0]);
    assert_eq!(points[grid * grid - 1], cells[cells.len() - 1]);
    assert_eq!(points[grid + 1], cells[grid]);
}

#[test]
fn the_scales_run_through_their_stops_and_clamp_at_their_ends() {
    let area = DistortionScale::Area;
    assert_eq!(area.colour(-1.0), [59, 76, 192]);
    assert_eq!(area.colour(-5.0), [59, 76, 192]);
    assert_eq!(area.colour(0.0), [221, 221, 221]);
    assert_eq!(area.colour(1.0), [180, 4, 38]);
    assert_eq!(area.colour(0.5), [201, 113, 130]);
    let shape = DistortionScale::Shape;
    assert_eq!(shape.colour(1.0), [68, 1, 84]);
    assert_eq!(shape.colour(3.0), [33, 145, 140]);
    assert_eq!(shape.colour(9.0), [253, 231, 37]);
    assert_eq!(shape.colour(f64::NAN), [0, 0, 0]);
    assert_eq!(
        area.value(cell_distortion(2, &[[1.0, 0.0, 0.0]; 4])[0]),
        f64::NEG_INFINITY
    );
}

/// The mean colour of the lit pixels in a band of the square laid out flat: rows `from..to`
/// world units from its middle, up or down.
fn band_colour(pixels: &[u8], from: f32, to: f32) -> [u8; 3] {
    let mut sum = [0.0f32; 4];
    for (i, p) in lit_pixels(pixels) {
        let (_, y) = crate::render::from_centre(i);
        if (from..to).contains(&(y.abs() / PIXELS_PER_UNIT)) {
            (0..3).for_each(|c| sum[c] += p[c] as f32);
            sum[3] += 1.0;
        }
    }
    [0, 1, 2].map(|c| (sum[c] / sum[3].max(1.0)) as u8)
}

/// What an app shows with its grid laid out flat and painted by `colour` from positions `map`
/// writes into the point buffer, as the network would: the points, then the surface.
fn painted(map: fn(f32, f32) -> [f32; 3], colour: ColourMode) -> [Vec<u8>; 2] {
    let grid = 40;
    let sphere = NeuralSphere::default()
        .with_backend(BackendKind::Cpu)
        .with_grid(grid);
    let (mut app, target) = quadrant_app(sphere);
    update_until(&mut app, "the first mapping", |app| {
        state(app).positions_step().is_some()
    });
    let world = app.world_mut();
    let handle = world
        .query_filtered::<&MeshMaterial3d<PointMaterial>, With<SpherePoint>>()
        .iter(world)
        .next()
        .expect("the grid's points")
        .0
        .clone();
    let buffer = world
        .resource::<Assets<PointMaterial>>()
        .get(&handle)
        .unwrap()
        .positions
        .clone();
    let bytes: Vec<u8> = mapped(grid as usize, map)
        .iter()
        .flatten()
        .flat_map(|c| c.to_le_bytes())
        .collect();
    world
        .resource::<RenderQueue>()
        .write_buffer(&buffer, 0, &bytes);
    let mut sphere = settings(&mut app);
    sphere.colour_mode = colour;
    sphere.morph = 0.0;
    sphere.lit = false;
    // Neither the first frames (blank while pipelines compile) nor the texture's colours.
    let painted = |p: &[u8]| {
        let middle = band_colour(p, 0.0, 0.2);
        lit_pixels(p).len() > 1000 && !near(&middle, [255, 0, 0]) && middle != [0; 3]
    };
    let points = frame_where(&mut app, target.clone(), painted);
    settings(&mut app).view = SphereView::Surface;
    let surface = frame_where(&mut app, target, |p| p != points.as_slice() && painted(p));
    [points, surface]
}

#[test]
fn the_distortion_views_paint_cells_where_the_map_distorts_them() {
    // Equal-area: every cell its equal share, the scale's white.
    for pixels in painted(octahedral, ColourMode::Area) {
        for (from, to) in [(0.0, 0.2), (0.4, 0.6), (0.75, 0.95)] {
            let band = band_colour(&pixels, from, to);
            assert!(near(&band, [221, 221, 221]), "{band:?} at {from}..{to}");
        }
    }
    // Cells an equal share on the equator shrink to a third towards ±69°: white to blue.
    for pixels in painted(equirectangular_band, ColourMode::Area) {
        let (middle, edge) = (
            band_colour(&pixels, 0.0, 0.1),
            band_colour(&pixels, 0.85, 0.95),
        );
        assert!(near(&middle, [221, 221, 221]), "{middle:?}");
        assert!(near(&edge, [59, 76, 192]), "{edge:?}");
    }
    // Shapes kept on the equator, drawn out 6 to 17 times near the band's edges: violet to
    // yellow.
    for pixels in painted(lambert, ColourMode::Shape) {
        let (middle, edge) = (
            band_colour(&pixels, 0.0, 0.1),
            band_colour(&pixels, 0.92, 0.98),
        );
        assert!(near(&middle, [68, 1, 84]), "{middle:?}");
        assert!(near(&edge, [253, 231, 37]), "{edge:?}");
    }
}
