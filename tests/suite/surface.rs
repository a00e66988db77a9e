//! The mapped grid as a surface: which cells it keeps, which way they face, and the glTF files
//! it writes, read back and checked by the Khronos validator.

use std::path::{Path, PathBuf};

use bevy_neural_sphere::learn::{
    SphereSurface, SurfacePaint, grid_points, notebook_colour, write_glb,
};
use image::{Rgba, RgbaImage};

use crate::metrics::{mapped, octahedral};
use crate::node::run_node;

/// The octahedral map with the square's right half sent to the antipodes: neighbours across
/// the middle lie almost opposite each other, a tear along a whole column of cells.
fn torn_octahedral(grid: usize) -> Vec<[f32; 3]> {
    mapped(grid, |u, v| match u < 0.0 {
        true => octahedral(u, v),
        false => octahedral(u, v).map(|c| -c),
    })
}

fn signed_volume(surface: &SphereSurface, t: &[u32]) -> f32 {
    let [a, b, c] = [0, 1, 2].map(|k| surface.positions[t[k] as usize]);
    let cross = [
        b[1] * c[2] - b[2] * c[1],
        b[2] * c[0] - b[0] * c[2],
        b[0] * c[1] - b[1] * c[0],
    ];
    a[0] * cross[0] + a[1] * cross[1] + a[2] * cross[2]
}

#[test]
fn torn_cells_are_left_out_and_triangles_face_outwards() {
    let grid = 40;
    let whole = SphereSurface::new(grid, &mapped(grid, octahedral));
    assert_eq!(whole.positions.len(), grid * grid);
    assert_eq!(whole.torn_cells(), 0);
    assert_eq!(whole.triangles(), 2 * (grid - 1) * (grid - 1));
    // UVs are the source points moved to [0, 1]², normals the sphere's.
    let points = grid_points(grid);
    for (i, (uv, n)) in whole.uvs.iter().zip(&whole.normals).enumerate() {
        assert_eq!(*uv, [points[i][0] + 0.5, points[i][1] + 0.5]);
        let dot: f32 = (0..3).map(|k| n[k] * whole.positions[i][k]).sum();
        assert!(
            (dot - 1.0).abs() < 1e-5,
            "normal {n:?} at {:?}",
            whole.positions[i]
        );
    }

    // Outward whichever way round the square is laid down.
    let mirrored = SphereSurface::new(grid, &mapped(grid, |u, v| octahedral(-u, v)));
    for surface in [&whole, &mirrored] {
        let outward = surface
            .indices
            .chunks_exact(3)
            .filter(|t| signed_volume(surface, t) > 0.0)
            .count();
        assert!(
            outward as f64 > 0.99 * surface.triangles() as f64,
            "{outward} of {} triangles face outwards",
            surface.triangles()
        );
    }

    // The tear: every cell across the middle column is left out, and only those.
    let torn = SphereSurface::new(grid, &torn_octahedral(grid));
    assert_eq!(torn.torn_cells(), grid - 1);
    let column = |i: u32| i as usize % grid;
    for t in torn.indices.chunks_exact(3) {
        let left = t.iter().filter(|&&i| column(i) < grid / 2).count();
        assert!(left == 0 || left == 3, "a triangle across the tear: {t:?}");
    }
}

/// Whether the ray from the centre along `d` crosses triangle `t` (Möller–Trumbore, with a
/// little slack so that a ray along a shared side counts for both triangles).
fn ray_hits(surface: &SphereSurface, t: &[u32], d: [f64; 3]) -> bool {
    let [a, b, c] = [0, 1, 2].map(|k| surface.positions[t[k] as usize].map(f64::from));
    let sub = |p: [f64; 3], q: [f64; 3]| [p[0] - q[0], p[1] - q[1], p[2] - q[2]];
    let cross = |p: [f64; 3], q: [f64; 3]| {
        [
            p[1] * q[2] - p[2] * q[1],
            p[2] * q[0] - p[0] * q[2],
            p[0] * q[1] - p[1] * q[0],
        ]
    };
    let dot = |p: [f64; 3], q: [f64; 3]| p[0] * q[0] + p[1] * q[1] + p[2] * q[2];
    let (e1, e2) = (sub(b, a), sub(c, a));
    let p = cross(d, e2);
    let det = dot(e1, p);
    if det.abs() < 1e-15 {
        return false;
    }
    let s = [-a[0], -a[1], -a[2]];
    let u = dot(s, p) / det;
    let q = cross(s, e1);
    let v = dot(d, q) / det;
    let slack = 1e-9;
    u >= -slack && v >= -slack && u + v <= 1.0 + slack && dot(e2, q) / det > 0.0
}

/// How many of `n` directions spread evenly over the sphere miss every triangle of `surface`
/// among the first `triangles`.
fn directions_missed(surface: &SphereSurface, triangles: usize, n: usize) -> usize {
    (0..n)
        .filter(|&i| {
            let z = 1.0 - (2 * i + 1) as f64 / n as f64;
            let phi = i as f64 * std::f64::consts::PI * (3.0 - 5f64.sqrt());
            let r = (1.0 - z * z).sqrt();
            let d = [r * phi.cos(), r * phi.sin(), z];
            !(surface.indices.chunks_exact(3).take(triangles)).any(|t| ray_hits(surface, t, d))
        })
        .count()
}

#[test]
fn stitches_close_the_seam_where_the_map_glues_the_edges_and_nowhere_else() {
    let grid = 40;
    // The octahedral map of the square shrunk by 2 %: each edge folds shut a little short of
    // the fold, so the points either side of the seam stand a cell apart, as a learned map's do.
    let gapped = SphereSurface::new(grid, &mapped(grid, |u, v| octahedral(0.98 * u, 0.98 * v)));
    assert_eq!(gapped.torn_cells(), 0);
    assert_eq!(
        gapped.stitches(),
        4 * ((grid - 1) / 2) + 1,
        "every segment and the corners"
    );
    let cells = 2 * (grid - 1) * (grid - 1);
    assert_eq!(gapped.triangles(), cells + 2 * gapped.stitches());
    let open = directions_missed(&gapped, cells, 4000);
    assert!(
        open > 20,
        "the cells alone leave the seam open: {open} of 4000 rays pass"
    );
    assert_eq!(directions_missed(&gapped, gapped.triangles(), 4000), 0);
    // A stitch's vertices are copies of its points, the glued pair with the UVs of the first
    // two: it shows the texture along the edge.
    for s in 0..gapped.stitches() {
        let first = grid * grid + 4 * s;
        for vertex in first..first + 4 {
            let point = gapped.points[vertex];
            assert!(point < grid * grid);
            assert_eq!(gapped.positions[vertex], gapped.positions[point]);
        }
        assert_eq!(gapped.uvs[first + 2], gapped.uvs[first]);
        assert_eq!(gapped.uvs[first + 3], gapped.uvs[first + 1]);
        let on_edge = |[u, v]: [f32; 2]| [u, v].iter().any(|&c| c == 0.0 || c == 1.0);
        assert!(on_edge(gapped.uvs[first]) && on_edge(gapped.uvs[first + 1]));
    }
    // Outwards, as the cells.
    let stitches = gapped.indices.chunks_exact(3).skip(cells);
    assert!(stitches.clone().all(|t| signed_volume(&gapped, t) >= 0.0));

    // A cap whose edges never meet: nothing stitched, and its hole stays open.
    let cap = SphereSurface::new(grid, &mapped(grid, |u, v| [u, v, 0.7]));
    assert_eq!(cap.stitches(), 0);
    assert_eq!(cap.torn_cells(), 0);
    let below = [0.0, 0.0, -1.0];
    assert!(
        !cap.indices
            .chunks_exact(3)
            .any(|t| ray_hits(&cap, t, below))
    );
}

/// A 64×64 image in four colours: red, green, blue and yellow quadrants.
fn quadrants() -> RgbaImage {
    RgbaImage::from_fn(64, 64, |x, y| {
        let colours = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]];
        let [r, g, b] = colours[(x / 32 + 2 * (y / 32)) as usize];
        Rgba([r, g, b, 255])
    })
}

/// The validator's verdict on a file: errors, warnings and its messages.
struct Verdict {
    errors: u64,
    warnings: u64,
    messages: String,
}

/// Runs the Khronos glTF validator (`tests/gltf`).
fn validate(glb: &Path) -> Verdict {
    let output = run_node("tests/gltf/validate.mjs", &[glb]);
    assert!(
        output.status.success(),
        "the validator failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = String::from_utf8(output.stdout).unwrap();
    let count = |key: &str| -> u64 {
        let at = report.find(&format!("\"{key}\":")).expect(key) + key.len() + 3;
        let digits: String = report[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().unwrap()
    };
    Verdict {
        errors: count("errors"),
        warnings: count("warnings"),
        messages: report,
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("neural-sphere-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn glb_files_read_back_whole_and_pass_the_khronos_validator() {
    let grid = 40;
    let surface = SphereSurface::new(grid, &torn_octahedral(grid));
    let dir = temp_dir("glb");
    let colours: Vec<[u8; 3]> = grid_points(grid).into_iter().map(notebook_colour).collect();
    let texture = quadrants();
    for (name, paint) in [
        ("colours.glb", SurfacePaint::VertexColours(&colours)),
        ("texture.glb", SurfacePaint::Texture(&texture)),
    ] {
        let path = dir.join(name);
        write_glb(&path, &surface, paint).unwrap();

        let verdict = validate(&path);
        assert_eq!(
            (verdict.errors, verdict.warnings),
            (0, 0),
            "{name}: {}",
            verdict.messages
        );

        let bytes = std::fs::read(&path).unwrap();
        let gltf = gltf::Gltf::from_slice(&bytes).unwrap();
        let bin = gltf.blob.as_deref().unwrap();
        let mesh = gltf.meshes().next().unwrap();
        let primitive = mesh.primitives().next().unwrap();
        let reader = primitive.reader(|_| Some(bin));
        let positions: Vec<[f32; 3]> = reader.read_positions().unwrap().collect();
        let indices: Vec<u32> = reader.read_indices().unwrap().into_u32().collect();
        let uvs: Vec<[f32; 2]> = reader.read_tex_coords(0).unwrap().into_f32().collect();
        assert_eq!(
            positions.len(),
            grid * grid,
            "{name}: one vertex a grid point"
        );
        assert_eq!(positions, surface.positions);
        assert_eq!(uvs, surface.uvs);
        assert_eq!(
            indices.len() / 3,
            2 * (grid - 1) * (grid - 1) - 2 * (grid - 1),
            "{name}: two triangles a cell, less the torn cells"
        );
        assert_eq!(indices, surface.indices);
        let material = primitive.material();
        assert!(material.double_sided());
        match name {
            "colours.glb" => {
                let read: Vec<[f32; 3]> = reader.read_colors(0).unwrap().into_rgb_f32().collect();
                assert_eq!(read.len(), grid * grid);
                // The notebook's sRGB bytes, stored linear: red 120 is 0.188 linear.
                let [r, _, b] = read[grid * grid / 2 + grid / 2];
                assert!((r - 0.188).abs() < 0.01 && b == 0.0, "{:?}", read[0]);
            }
            _ => {
                let info = material
                    .pbr_metallic_roughness()
                    .base_color_texture()
                    .unwrap();
                let gltf::image::Source::View { view, mime_type } =
                    info.texture().source().source()
                else {
                    panic!("the texture is embedded");
                };
                assert_eq!(mime_type, "image/png");
                let png = &bin[view.offset()..view.offset() + view.length()];
                let decoded = image::load_from_memory(png).unwrap().to_rgba8();
                assert_eq!(decoded, texture, "the texture comes back pixel for pixel");
            }
        }
    }

    // A mapping that is not finite is refused, and no file is left.
    let mut broken = surface.clone();
    broken.positions[0] = [f32::NAN; 3];
    let path = dir.join("broken.glb");
    let err = write_glb(&path, &broken, SurfacePaint::VertexColours(&colours)).unwrap_err();
    assert!(err.to_string().contains("not finite"), "{err}");
    assert!(!path.exists());
    std::fs::remove_dir_all(dir).unwrap();
}
