//! Writing mapped grids and loss traces to disk, or to memory for the app to hand on.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::distortion::cell_distortion;
use super::engine::StepStats;
use crate::Error;

fn write_file(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut out = BufWriter::new(File::create(path).map_err(io)?);
    body(&mut out).and_then(|()| out.flush()).map_err(io)
}

/// `body`, written to memory: the bytes of a file.
fn in_memory(body: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> Vec<u8> {
    let mut out = Vec::new();
    body(&mut out).expect("writing to memory does not fail");
    out
}

/// Writes `u,v,x,y,z`: each source point beside its image on the sphere.
pub fn write_grid_csv(path: &Path, points: &[[f32; 2]], mapped: &[[f32; 3]]) -> Result<(), Error> {
    write_file(path, |out| out.write_all(&grid_csv_bytes(points, mapped)))
}

/// The bytes of [`write_grid_csv`]'s file.
pub(crate) fn grid_csv_bytes(points: &[[f32; 2]], mapped: &[[f32; 3]]) -> Vec<u8> {
    in_memory(|out| {
        writeln!(out, "u,v,x,y,z")?;
        for ([u, v], [x, y, z]) in points.iter().zip(mapped) {
            writeln!(out, "{u},{v},{x},{y},{z}")?;
        }
        Ok(())
    })
}

/// Writes `row,col,area,shape`: each cell of a `grid × grid` mapping by its first corner's
/// row and column, with its area over an equal share of the sphere and its shape distortion
/// (see [`cell_distortion`]).
pub fn write_cells_csv(path: &Path, grid: usize, mapped: &[[f32; 3]]) -> Result<(), Error> {
    let cells = cell_distortion(grid, mapped);
    write_file(path, |out| {
        writeln!(out, "row,col,area,shape")?;
        for (i, cell) in cells.iter().enumerate() {
            let (row, col) = (i / (grid - 1), i % (grid - 1));
            writeln!(out, "{row},{col},{},{}", cell.area, cell.shape)?;
        }
        Ok(())
    })
}

/// Writes an ASCII PLY point cloud with one colour per vertex.
pub fn write_ply(path: &Path, mapped: &[[f32; 3]], colours: &[[u8; 3]]) -> Result<(), Error> {
    write_file(path, |out| out.write_all(&ply_bytes(mapped, colours)))
}

/// The bytes of [`write_ply`]'s file.
pub(crate) fn ply_bytes(mapped: &[[f32; 3]], colours: &[[u8; 3]]) -> Vec<u8> {
    in_memory(|out| {
        write!(
            out,
            "ply\nformat ascii 1.0\nelement vertex {}\n\
             property float x\nproperty float y\nproperty float z\n\
             property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n",
            mapped.len()
        )?;
        for ([x, y, z], [r, g, b]) in mapped.iter().zip(colours) {
            writeln!(out, "{x} {y} {z} {r} {g} {b}")?;
        }
        Ok(())
    })
}

/// Writes `step,loss,lr`, one row per step.
pub fn write_loss_csv(path: &Path, stats: &[StepStats]) -> Result<(), Error> {
    write_file(path, |out| {
        writeln!(out, "step,loss,lr")?;
        for s in stats {
            writeln!(out, "{},{},{}", s.step, s.loss, s.lr)?;
        }
        Ok(())
    })
}
