//! How well the mapped grid covers the sphere, measured as a task on Bevy's
//! `AsyncComputeTaskPool` (another thread natively, between frames in a browser) about once a
//! second. Where the points live on the GPU, the mapping is read back for it at that pace and
//! no faster.

use std::time::Duration;

use bevy::platform::time::Instant;
use bevy::prelude::*;
use bevy::tasks::{AsyncComputeTaskPool, Task, futures::check_ready};

use super::positions::SphereMapping;
use super::training::{SphereTrainer, TrainingState};
use crate::learn::metrics::{GridMetrics, SphereMetrics, grid_metrics, sphere_metrics};
use crate::learn::worker::Request;

/// How well one sphere's grid covers it, measured about once a second off the frame path.
/// Written by the plugin, on the sphere's entity.
#[derive(Component, Debug, Default, Clone)]
pub struct SphereQuality {
    /// Coverage, empty cap, balance and uniformity of the mapped grid.
    pub(crate) sphere: Option<SphereMetrics>,
    /// Torn neighbours, overlap and cell areas of the mapped grid.
    pub(crate) grid: Option<GridMetrics>,
    /// The training step they were measured at.
    pub(crate) step: usize,
}

/// What a game reads of a sphere's quality; the plugin alone writes it.
impl SphereQuality {
    /// Coverage, empty cap, balance and uniformity of the mapped grid.
    pub fn sphere(&self) -> Option<&SphereMetrics> {
        self.sphere.as_ref()
    }

    /// Torn neighbours, overlap and cell areas of the mapped grid.
    pub fn grid(&self) -> Option<&GridMetrics> {
        self.grid.as_ref()
    }

    /// The training step they were measured at.
    pub fn step(&self) -> usize {
        self.step
    }
}

impl SphereQuality {
    /// Whether the grid closes the sphere and holds the image together
    /// ([`SphereMetrics::is_closed`] and [`GridMetrics::is_clean`]): the `closed` preset's bar.
    pub fn is_closed(&self) -> bool {
        self.sphere.is_some_and(|s| s.is_closed()) && self.grid.is_some_and(|g| g.is_clean())
    }
}

/// One sphere's metrics being computed off the frame path, and when the last ones started.
#[derive(Component, Default)]
pub(crate) struct QualityTask {
    running: Option<(usize, Task<(SphereMetrics, GridMetrics)>)>,
    started: Option<Instant>,
    /// The mapping changed since the last measurement started.
    stale: bool,
    /// A read-back is on its way.
    asked: bool,
}

/// How often [`SphereQuality`] is refreshed.
const QUALITY_INTERVAL: Duration = Duration::from_secs(1);

/// Measures each sphere's mapped grid off the frame path, at most about once a second, asking
/// its training thread for a read-back when the positions only live on the GPU.
pub(crate) fn measure_quality(
    mut spheres: Query<(
        Ref<SphereMapping>,
        &TrainingState,
        &mut SphereTrainer,
        &mut QualityTask,
        &mut SphereQuality,
    )>,
) {
    for (mapping, state, mut trainer, mut task, mut quality) in &mut spheres {
        measure(&mapping, state, &mut trainer, &mut task, &mut quality);
    }
}

fn measure(
    mapping: &Ref<SphereMapping>,
    state: &TrainingState,
    trainer: &mut SphereTrainer,
    task: &mut QualityTask,
    quality: &mut Mut<SphereQuality>,
) {
    if let Some((step, running)) = &mut task.running
        && let Some((sphere, grid)) = check_ready(running)
    {
        **quality = SphereQuality {
            sphere: Some(sphere),
            grid: Some(grid),
            step: *step,
        };
        task.running = None;
    }
    task.stale |= mapping.is_changed() && mapping.mapped.len() == mapping.points.len();
    let due = task.started.is_none_or(|t| t.elapsed() >= QUALITY_INTERVAL);
    if !due || task.running.is_some() {
        return;
    }
    if !task.stale {
        if state.positions_on_gpu && mapping.step != state.steps && !task.asked {
            trainer.send(Request::ReadBack);
            task.asked = true;
        }
        return;
    }
    task.started = Some(Instant::now());
    task.asked = false;
    let grid = mapping.grid as usize;
    let mapped = mapping.mapped.clone();
    task.stale = false;
    task.running = Some((
        mapping.step,
        AsyncComputeTaskPool::get()
            .spawn(async move { (sphere_metrics(&mapped), grid_metrics(grid, &mapped)) }),
    ));
}
