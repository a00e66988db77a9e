//! The egui control panel (feature `ui`): the list of spheres, then the selected sphere's loss
//! curve, training controls, quality metrics, view, image picker, checkpoints, export and orbit
//! recording. It reads the selected sphere's components, edits its settings and triggers
//! [`SphereCommand`]s on it and [`RecordOrbit`]s of it.

use std::path::PathBuf;

use bevy::camera::SubCameraView;
use bevy::prelude::*;
use bevy_egui::{
    EguiContexts, EguiPlugin, EguiPrimaryContextPass, EguiTextureHandle, PrimaryEguiContext, egui,
};
use egui_plot::{AxisHints, FilledArea, Line, Plot};

use super::commands::SphereCommand;
#[cfg(not(target_arch = "wasm32"))]
use super::file_dialog::{DialogPurpose, FileDialog};
use super::library::{Decoded, ImageLibrary, open_requested_images};
use super::orbit::OrbitSpec;
#[cfg(not(target_arch = "wasm32"))]
use super::orbit::{RecordOrbit, RecordingStatus};
use super::quality::SphereQuality;
use super::selection::{SelectedSphere, SelectionPlugin};
use super::settings::{ColourMode, NeuralSphere, SphereView};
use super::training::TrainingState;
use crate::learn::config::Preset;
use crate::learn::distortion::DistortionScale;
use crate::learn::history::LossHistory;
use crate::learn::image_file::ImageFit;
use crate::learn::objective::Objective;
use crate::learn::worker::TrainingPhase;

/// Adds the control panel to an app with [`NeuralSpherePlugin`](crate::NeuralSpherePlugin).
///
/// While the panel is open, the view of the camera it is drawn on is centred in the part of the
/// window the panel leaves free, so that the sphere stands beside the panel rather than under
/// it. The panel sets that camera's [`Camera::sub_camera_view`] for this, and clears it while
/// collapsed.
pub struct NeuralSphereUiPlugin;

impl Plugin for NeuralSphereUiPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<EguiPlugin>() {
            app.add_plugins(EguiPlugin::default());
        }
        app.add_plugins(SelectionPlugin)
            .init_resource::<ImageLibrary>()
            .init_resource::<PanelState>()
            .add_systems(Update, open_requested_images)
            .add_systems(
                EguiPrimaryContextPass,
                (panel, centre_view_beside_panel).chain(),
            );
    }
}

/// Commands for the selected sphere, triggered on it once the panel has drawn.
#[derive(Default)]
struct Orders(Vec<SphereCommand>);

impl Orders {
    fn write(&mut self, command: SphereCommand) {
        self.0.push(command);
    }

    /// Triggers the commands on `sphere`.
    fn send(self, sphere: Entity, commands: &mut Commands) {
        self.0
            .into_iter()
            .for_each(|command| commands.trigger(command.to(sphere)));
    }
}

/// Panel inputs that are not settings yet.
#[derive(Resource)]
#[cfg_attr(
    target_arch = "wasm32",
    expect(dead_code, reason = "a page has no file paths to type")
)]
struct PanelState {
    /// The seed the next reset uses.
    seed: u64,
    /// The grid side the slider shows; it applies when the slider is let go.
    grid: u32,
    /// The sphere and its seed and grid as last shown, to follow changes made elsewhere.
    shown: Option<(Entity, u64, u32)>,
    /// Where the open panel lies on the window, in physical pixels; `None` while collapsed.
    covers: Option<Rect>,
    /// An image file to open.
    image_path: String,
    /// Where checkpoints are saved and loaded.
    checkpoint_path: String,
    /// Where the grid is exported, without extension.
    export_path: String,
    /// The next recording.
    orbit: OrbitSpec,
    /// The file dialog open now, if any.
    #[cfg(not(target_arch = "wasm32"))]
    dialog: Option<FileDialog>,
}

impl Default for PanelState {
    fn default() -> Self {
        Self {
            seed: 0,
            grid: 100,
            shown: None,
            covers: None,
            image_path: String::new(),
            checkpoint_path: "sphere.mpk".into(),
            export_path: "sphere".into(),
            orbit: OrbitSpec::new("orbit.mp4"),
            #[cfg(not(target_arch = "wasm32"))]
            dialog: None,
        }
    }
}

impl PanelState {
    /// Shows the seed and the grid the sphere has, on the first frame, when another sphere is
    /// selected and whenever one of them changes, whether by this panel or by the game. Until
    /// then each keeps what is being typed or dragged.
    fn follow(&mut self, sphere: Entity, settings: &NeuralSphere) {
        let now = (sphere, settings.train.seed, settings.grid);
        let before = self.shown.replace(now).filter(|shown| shown.0 == sphere);
        if before.map(|(_, seed, _)| seed) != Some(now.1) {
            self.seed = now.1;
        }
        if before.map(|(_, _, grid)| grid) != Some(now.2) {
            self.grid = now.2;
        }
    }
}

/// Mean of the losses over a sliding window, for the smoothed curve.
fn smoothed(points: &[[f64; 2]], window: usize) -> Vec<[f64; 2]> {
    let mut sum = 0.0;
    points
        .iter()
        .enumerate()
        .map(|(i, &[x, y])| {
            sum += y;
            if i >= window {
                sum -= points[i - window][1];
            }
            [x, sum / (i + 1).min(window) as f64]
        })
        .collect()
}

/// Acts on a file dialog's answer, if it has come.
#[cfg(not(target_arch = "wasm32"))]
fn answer_dialog(panel: &mut PanelState, library: &mut ImageLibrary, commands: &mut Orders) {
    let Some(dialog) = panel.dialog.take_if(|d| d.closed()) else {
        return;
    };
    let purpose = dialog.purpose;
    // A dialog that failed or was cancelled answers nothing.
    let Some(path) = dialog.chosen() else {
        return;
    };
    match purpose {
        DialogPurpose::OpenImage => library.request = Some(path),
        DialogPurpose::LoadCheckpoint => {
            panel.checkpoint_path = path.display().to_string();
            commands.write(SphereCommand::Load(path));
        }
        DialogPurpose::SaveCheckpoint => {
            panel.checkpoint_path = path.display().to_string();
            commands.write(SphereCommand::Save(path));
        }
        DialogPurpose::RecordTo => panel.orbit.out = path,
    }
}

/// A button that opens a file dialog, disabled while one is open.
#[cfg(not(target_arch = "wasm32"))]
fn dialog_button(ui: &mut egui::Ui, panel: &mut PanelState, label: &str, purpose: DialogPurpose) {
    let button = ui
        .add_enabled(panel.dialog.is_none(), egui::Button::new(label))
        .on_hover_text("a native file dialog; the path field beside it works without one");
    if button.clicked() {
        panel.dialog = Some(FileDialog::open(purpose));
    }
}

/// The selected sphere's components the panel reads and edits.
type Sphere<'a> = (
    Entity,
    &'a mut NeuralSphere,
    &'a TrainingState,
    &'a SphereQuality,
    Option<&'a Name>,
);

#[allow(clippy::too_many_arguments)]
fn panel(
    mut contexts: EguiContexts,
    mut spheres: Query<Sphere>,
    mut selected: ResMut<SelectedSphere>,
    #[cfg(not(target_arch = "wasm32"))] recording: Res<RecordingStatus>,
    mut panel: ResMut<PanelState>,
    mut library: ResMut<ImageLibrary>,
    mut triggers: Commands,
    #[cfg(not(target_arch = "wasm32"))] mut record: MessageWriter<RecordOrbit>,
    time: Res<Time<Real>>,
    #[cfg(feature = "camera")] mut cameras: Query<(
        &mut super::camera::SphereCamera,
        &mut bevy_panorbit_camera::PanOrbitCamera,
    )>,
) -> Result {
    let names: Vec<(Entity, String)> = spheres
        .iter()
        .map(|(entity, .., name)| (entity, sphere_name(entity, name)))
        .collect();
    let Some(sphere) = selected.0 else {
        return Ok(());
    };
    let Ok((_, mut settings, state, quality, _)) = spheres.get_mut(sphere) else {
        return Ok(());
    };
    let mut commands = Orders::default();
    let panel = &mut *panel;
    panel.follow(sphere, &settings);
    #[cfg(not(target_arch = "wasm32"))]
    answer_dialog(panel, &mut library, &mut commands);
    let thumbnails: Vec<(PathBuf, Thumbnail)> = (library.files.clone().into_iter())
        .map(|path| {
            let thumbnail = match library.decode(&path) {
                Decoded::Pending(_) => Thumbnail::Pending,
                Decoded::Ready(handle) => {
                    Thumbnail::Image(contexts.add_image(EguiTextureHandle::Strong(handle.clone())))
                }
                Decoded::Failed(error) => Thumbnail::Failed(error.clone()),
            };
            (path, thumbnail)
        })
        .collect();
    // Widgets edit a copy, so the settings only count as changed when a value really changes
    // (the plugin re-places every point when they do).
    let mut edited = settings.clone();
    let ctx = contexts.ctx_mut()?;
    // No drop shadow: on a software rasteriser its blurred edge costs milliseconds a frame.
    let frame = egui::Frame::window(&ctx.global_style()).shadow(egui::Shadow::NONE);
    let shown = egui::Window::new("Neural sphere")
        .frame(frame)
        .default_pos([8.0, 8.0])
        .default_width(320.0)
        .default_height(720.0)
        .show(ctx, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                if names.len() > 1
                    && let Some(picked) = sphere_list(ui, &names, sphere)
                {
                    selected.0 = Some(picked);
                }
                if let Some(error) = &state.error {
                    ui.colored_label(egui::Color32::LIGHT_RED, error);
                }
                if let Some(notice) = &state.notice {
                    ui.colored_label(egui::Color32::LIGHT_GREEN, notice);
                }
                if let Some(recovery) = &state.recovery {
                    ui.colored_label(egui::Color32::YELLOW, recovery.to_string());
                }
                progress(ui, state, &edited, &time);
                training(ui, &mut edited, panel, &mut commands);
                egui::CollapsingHeader::new("Quality")
                    .default_open(true)
                    .show(ui, |ui| quality_lines(ui, quality));
                egui::CollapsingHeader::new("View")
                    .default_open(true)
                    .show(ui, |ui| {
                        view(ui, &mut edited);
                        #[cfg(feature = "camera")]
                        for (mut sphere, mut camera) in &mut cameras {
                            ui.horizontal(|ui| {
                                ui.add(
                                    egui::Slider::new(&mut sphere.auto_orbit, -1.0..=1.0)
                                        .text("auto-orbit"),
                                );
                                if ui.button("Reset view").clicked() {
                                    super::camera::SphereCamera::reset_view(&mut camera);
                                    selected.set_changed();
                                }
                            });
                        }
                    });
                egui::CollapsingHeader::new("Image")
                    .default_open(true)
                    .show(ui, |ui| image_picker(ui, panel, &mut library, &thumbnails));
                #[cfg(not(target_arch = "wasm32"))]
                {
                    egui::CollapsingHeader::new("Checkpoint and export")
                        .show(ui, |ui| files(ui, panel, state, &mut commands));
                    egui::CollapsingHeader::new("Record orbit").show(ui, |ui| {
                        record_orbit(ui, panel, &recording, sphere, &mut record)
                    });
                }
                #[cfg(target_arch = "wasm32")]
                egui::CollapsingHeader::new("Checkpoint and export")
                    .show(ui, |ui| downloads(ui, state, &mut commands));
            });
        });
    let scale = ctx.pixels_per_point();
    panel.covers = (shown.filter(|shown| shown.inner.is_some())).map(|shown| {
        let corner = |p: egui::Pos2| Vec2::new(p.x, p.y) * scale;
        Rect::from_corners(
            corner(shown.response.rect.min),
            corner(shown.response.rect.max),
        )
    });
    settings.set_if_neq(edited);
    commands.send(sphere, &mut triggers);
    Ok(())
}

/// A sphere's `Name`, or its entity.
fn sphere_name(entity: Entity, name: Option<&Name>) -> String {
    name.map_or_else(|| format!("sphere {entity}"), |name| name.to_string())
}

/// The spheres, the selected one marked; returns the one clicked.
fn sphere_list(ui: &mut egui::Ui, names: &[(Entity, String)], selected: Entity) -> Option<Entity> {
    let mut picked = None;
    ui.horizontal_wrapped(|ui| {
        ui.label("sphere:");
        for (entity, name) in names {
            if ui.selectable_label(selected == *entity, name).clicked() {
                picked = Some(*entity);
            }
        }
    });
    picked
}

/// Centres the view in the part of the window the open panel leaves free, by moving the
/// projection's centre rather than the camera: orbiting still turns about the sphere.
fn centre_view_beside_panel(
    panel: Res<PanelState>,
    mut views: Query<&mut Camera, With<PrimaryEguiContext>>,
) {
    for mut camera in &mut views {
        let Some(viewport) = camera.physical_viewport_rect() else {
            continue;
        };
        let view = panel.covers.and_then(|covers| beside(viewport, covers));
        if camera.sub_camera_view != view {
            camera.sub_camera_view = view;
        }
    }
}

/// A view whose centre lies in the middle of the wider of the two spans of `viewport` left and
/// right of `covers`: the viewport as the left or right part of a wider view. `None` when
/// neither span is a quarter of the viewport wide.
fn beside(viewport: URect, covers: Rect) -> Option<SubCameraView> {
    let (origin, width) = (viewport.min.x as f32, viewport.width() as f32);
    let (left, right) = (
        (covers.min.x - origin).clamp(0.0, width),
        (covers.max.x - origin).clamp(0.0, width),
    );
    let (span, centre) = match left > width - right {
        true => (left, left / 2.0),
        false => (width - right, (right + width) / 2.0),
    };
    if span < width / 4.0 {
        return None;
    }
    let full = 2.0 * centre.max(width - centre);
    Some(SubCameraView {
        full_size: UVec2::new(full.round() as u32, viewport.height()),
        offset: Vec2::new(full / 2.0 - centre, 0.0),
        size: viewport.size(),
    })
}

/// What trains and how fast, and the loss curve.
fn progress(ui: &mut egui::Ui, state: &TrainingState, settings: &NeuralSphere, time: &Time<Real>) {
    match state.phase {
        TrainingPhase::Starting => {
            ui.label("starting...");
        }
        TrainingPhase::PreparingKernels => {
            ui.colored_label(
                egui::Color32::YELLOW,
                "preparing GPU kernels (compiled once; burn's op path also tunes them)...",
            );
        }
        TrainingPhase::Training | TrainingPhase::Paused | TrainingPhase::Evaluated => {}
    }
    let positions = match state.positions_on_gpu {
        true => "positions stay on the GPU",
        false => "positions uploaded from the host",
    };
    ui.small(format!("{}; {positions}", state.backend));
    if !state.training_path.is_empty() {
        ui.small(&state.training_path);
    }
    let last = state.history.last();
    ui.label(format!(
        "step {}   lr {:.2e}   {:.0} steps/s   frame {:.1} ms",
        state.steps,
        last.map_or(settings.train.lr, |s| s.lr),
        state.steps_per_second,
        time.delta_secs() * 1000.0,
    ));
    ui.label(format!("loss {:.4}", last.map_or(f32::NAN, |s| s.loss)));
    loss_plot(ui, &state.history);
}

/// The loss on a log scale, one column per pixel of the plot's width however long training
/// runs: in grey the band each column's losses span, in yellow their running mean.
fn loss_plot(ui: &mut egui::Ui, history: &LossHistory) {
    // The uniformity loss is negative: plot how far each loss is above the lowest seen.
    let floor = history.lowest().map_or(0.0, f64::from).min(0.0);
    let log = |loss: f32| (loss as f64 - floor).max(1e-3).log10();
    let pixels = ui.available_width() * ui.ctx().pixels_per_point();
    let columns = history.columns(pixels as usize);
    let steps: Vec<f64> = (columns.iter())
        .map(|c| c.first_step as f64 + (c.steps as f64 - 1.0) / 2.0)
        .collect();
    let lows: Vec<f64> = columns.iter().map(|c| log(c.min)).collect();
    let highs: Vec<f64> = columns.iter().map(|c| log(c.max)).collect();
    let means: Vec<[f64; 2]> = (steps.iter().zip(&columns))
        .map(|(&step, c)| [step, log(c.mean)])
        .collect();
    let label = match floor < 0.0 {
        true => format!("loss - ({floor:.3}), log scale"),
        false => "loss, log scale".into(),
    };
    ui.small(label);
    Plot::new("loss")
        .height(150.0)
        .allow_scroll(false)
        .custom_x_axes(vec![
            // Short labels fit closer together than egui_plot's default 60 points allow.
            AxisHints::new_x()
                .formatter(|mark, _| step_label(mark.value))
                .label_spacing(30.0..=45.0),
        ])
        .y_axis_formatter(|mark, _| format!("{:.0e}", 10f64.powf(mark.value)))
        .show(ui, |plot| {
            let band = FilledArea::new("loss", &steps, &lows, &highs);
            plot.add(band.fill_color(egui::Color32::from_gray(140)));
            // Smoothed over a twentieth of the columns.
            let mean = smoothed(&means, means.len().div_ceil(20));
            plot.line(Line::new("smoothed", mean).color(egui::Color32::YELLOW));
        });
}

/// A step count in a few characters (950, 20k, 1.5M), so that the axis keeps its labels however
/// long training runs; none for the fractional marks of a short run.
fn step_label(step: f64) -> String {
    match step {
        s if s.fract() != 0.0 => String::new(),
        s if s.abs() >= 1e6 => format!("{}M", s / 1e6),
        s if s.abs() >= 1e3 => format!("{}k", s / 1e3),
        s => format!("{s}"),
    }
}

/// Pause, step, reset, presets and the hyper-parameters.
fn training(
    ui: &mut egui::Ui,
    edited: &mut NeuralSphere,
    panel: &mut PanelState,
    commands: &mut Orders,
) {
    ui.horizontal(|ui| {
        let (label, command) = match edited.paused {
            true => ("Resume", SphereCommand::Resume),
            false => ("Pause", SphereCommand::Pause),
        };
        if ui.button(label).clicked() {
            commands.write(command);
        }
        if ui.button("Step").clicked() {
            commands.write(SphereCommand::Step);
        }
        ui.add(egui::DragValue::new(&mut panel.seed).prefix("seed "));
        if ui.button("Reset").clicked() {
            commands.write(SphereCommand::Reset { seed: panel.seed });
        }
    });
    ui.horizontal(|ui| {
        ui.label("preset:");
        for preset in Preset::ALL {
            if ui
                .button(preset.name())
                .on_hover_text("switch and reset")
                .clicked()
            {
                edited.train = preset.config().with_seed(panel.seed);
                commands.write(SphereCommand::Reset { seed: panel.seed });
            }
        }
    });
    ui.horizontal(|ui| {
        ui.label("objective (on reset):");
        for objective in Objective::ALL {
            ui.radio_value(&mut edited.train.objective, objective, objective.name());
        }
    });
    if edited.train.objective == Objective::Uniformity {
        ui.add(
            egui::Slider::new(&mut edited.train.temperature, 0.5..=100.0)
                .logarithmic(true)
                .text("temperature (on reset)"),
        );
    }
    if edited.train.model.dropout.iter().all(|&p| p == 0.0) {
        ui.add(
            egui::Slider::new(&mut edited.train.shape_weight, 0.0..=1.0)
                .text("shape term (on reset)"),
        )
        .on_hover_text(
            "the weight of the shape term, a trade between shapes and areas: higher keeps the \
             texture's shapes, lower its areas even (the closed preset: 0.05)",
        );
    }
    ui.add(
        egui::Slider::new(&mut edited.train.lr, 0.001..=0.2)
            .logarithmic(true)
            .text("lr"),
    );
    ui.add(
        egui::Slider::new(&mut edited.train.batch, 100..=5000)
            .step_by(100.0)
            .text("batch"),
    );
    ui.horizontal(|ui| {
        let mut limited = edited.max_steps_per_second.is_some();
        ui.checkbox(&mut limited, "limit")
            .on_hover_text("leave the rest of the machine to the game");
        edited.max_steps_per_second = match limited {
            true => {
                let mut rate = edited.max_steps_per_second.unwrap_or(100.0);
                ui.add(
                    egui::Slider::new(&mut rate, 1.0..=5000.0)
                        .logarithmic(true)
                        .text("steps/s"),
                );
                Some(rate)
            }
            false => None,
        };
    });
    let grid = ui.add(egui::Slider::new(&mut panel.grid, 10..=256).text("grid"));
    if grid.drag_stopped() || (grid.changed() && !grid.dragged()) {
        commands.write(SphereCommand::SetGrid(panel.grid));
    }
}

/// The metrics of the mapped grid.
fn quality_lines(ui: &mut egui::Ui, quality: &SphereQuality) {
    let (Some(sphere), Some(grid)) = (quality.sphere, quality.grid) else {
        ui.label("measuring...");
        return;
    };
    ui.label(format!(
        "coverage {:.1} %   largest empty cap {:.1}°",
        sphere.coverage * 100.0,
        sphere.largest_empty_cap_deg
    ));
    ui.label(format!(
        "|mean| {:.3}   uniformity {:.3} (uniform: -2.080)",
        sphere.mean_resultant, sphere.uniformity
    ));
    ui.label(format!(
        "torn neighbours {:.2} %   covered twice {:.1} %",
        grid.torn_pairs * 100.0,
        grid.overlap * 100.0
    ))
    .on_hover_text(format!(
        "adjacent grid points more than {}° apart; sphere covered by two or more grid cells",
        crate::learn::metrics::STRETCH_LIMIT_DEG
    ));
    ui.label(format!(
        "area sum {:.3}   area CV {:.3}",
        grid.area_sum, grid.area_cv
    ))
    .on_hover_text(
        "the cells' areas on the sphere over 4π (1: covered once; less: holes; more: folds); \
         their coefficient of variation (0: equal-area, the texture nowhere stretched)",
    );
    // A cell folded flat stretches without bound: past 100 the figure says nothing more.
    let stretch = |s: f64| match s < 100.0 {
        true => format!("{s:.2}"),
        false => "> 100".into(),
    };
    ui.label(format!(
        "shape median {}   p95 {}   over 2: {:.0} %",
        stretch(grid.shape_median),
        stretch(grid.shape_p95),
        grid.shape_over_2 * 100.0
    ))
    .on_hover_text(
        "each cell's s1/s2, how much longer the map draws it one way than the other \
         (1: shapes kept; Clarberg's equal-area map: median 2.03, p95 2.61)",
    );
    ui.small(format!("at step {}", quality.step));
}

/// Points or surface, point size, lighting, morph and colours.
fn view(ui: &mut egui::Ui, edited: &mut NeuralSphere) {
    ui.horizontal(|ui| {
        ui.radio_value(&mut edited.view, SphereView::Grid, "points");
        ui.radio_value(&mut edited.view, SphereView::Surface, "surface");
        ui.radio_value(
            &mut edited.view,
            SphereView::TrainingBatch,
            "training batch (dropout on)",
        );
    });
    match edited.view {
        SphereView::Surface => {
            ui.checkbox(&mut edited.lit, "lit")
                .on_hover_text("shaded by a light over your shoulder, or the texture as it is");
        }
        _ => {
            // The same range at every grid relative to its spacing (0.002 to 0.05 at 100), so
            // that the radius a new grid scales to stays in range.
            let grid = edited.grid as f32;
            let range = 0.2 / grid..=5.0 / grid;
            ui.add(egui::Slider::new(&mut edited.point_radius, range).text("point size"));
        }
    }
    ui.add(egui::Slider::new(&mut edited.morph, 0.0..=1.0).text("square to sphere"));
    ui.horizontal(|ui| {
        ui.radio_value(&mut edited.colour_mode, ColourMode::Texture, "texture");
        ui.radio_value(
            &mut edited.colour_mode,
            ColourMode::Notebook,
            "notebook red/green",
        );
    });
    ui.horizontal(|ui| {
        ui.label("distortion:");
        ui.radio_value(&mut edited.colour_mode, ColourMode::Area, "area")
            .on_hover_text("each cell's area over an equal share of the sphere, log₂");
        ui.radio_value(&mut edited.colour_mode, ColourMode::Shape, "shape")
            .on_hover_text("each cell's s1/s2: how much longer the map draws it one way");
    });
    if let Some(scale) = edited.colour_mode.distortion_scale() {
        legend(ui, scale);
    }
}

/// A distortion scale's colour bar, with its numbers under it.
fn legend(ui: &mut egui::Ui, scale: DistortionScale) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(200.0, 12.0), egui::Sense::hover());
    let [low, high] = scale.range();
    let steps = 50;
    for i in 0..steps {
        let t = (i as f64 + 0.5) / steps as f64;
        let [r, g, b] = scale.colour(low + t * (high - low));
        let x = |k: usize| rect.left() + rect.width() * k as f32 / steps as f32;
        let slice = egui::Rect::from_x_y_ranges(x(i)..=x(i + 1), rect.y_range());
        ui.painter()
            .rect_filled(slice, 0.0, egui::Color32::from_rgb(r, g, b));
    }
    let ticks: &[&str] = match scale {
        DistortionScale::Area => &["½ share", "1", "2×"],
        DistortionScale::Shape => &["1", "2", "3", "4", "≥5"],
    };
    let (under, _) = ui.allocate_exact_size(egui::vec2(rect.width(), 14.0), egui::Sense::hover());
    let gap = rect.width() / (ticks.len() - 1) as f32;
    for (i, tick) in ticks.iter().enumerate() {
        let align = match i {
            0 => egui::Align2::LEFT_TOP,
            _ if i + 1 == ticks.len() => egui::Align2::RIGHT_TOP,
            _ => egui::Align2::CENTER_TOP,
        };
        ui.painter().text(
            egui::pos2(under.left() + gap * i as f32, under.top()),
            align,
            tick,
            egui::FontId::proportional(11.0),
            ui.visuals().text_color(),
        );
    }
}

/// What a library file shows in the picker.
enum Thumbnail {
    /// The image, fitted.
    Image(egui::TextureId),
    /// Its name, while it is being read.
    Pending,
    /// Its name, and why it cannot be shown when hovered.
    Failed(String),
}

/// Thumbnails of the library, a path field, a file dialog and the fit.
#[cfg_attr(
    target_arch = "wasm32",
    expect(unused_variables, reason = "a page has no path field")
)]
fn image_picker(
    ui: &mut egui::Ui,
    panel: &mut PanelState,
    library: &mut ImageLibrary,
    thumbnails: &[(PathBuf, Thumbnail)],
) {
    let mut open = None;
    ui.horizontal(|ui| {
        ui.label("fit:");
        ui.radio_value(&mut library.fit, ImageFit::Stretch, "stretch")
            .on_hover_text("the whole image squeezed to the square: no bars, nothing cut");
        ui.radio_value(&mut library.fit, ImageFit::Extend, "extend")
            .on_hover_text("the whole image at its shape, its edges repeated outwards");
        ui.radio_value(&mut library.fit, ImageFit::Letterbox, "letterbox");
        ui.radio_value(&mut library.fit, ImageFit::Crop, "crop");
    });
    ui.horizontal_wrapped(|ui| {
        for (path, thumbnail) in thumbnails {
            let name = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let selected = library.selected.as_ref() == Some(path);
            let clicked = match thumbnail {
                Thumbnail::Image(id) => ui
                    .add(egui::Button::image((*id, egui::vec2(56.0, 56.0))).selected(selected))
                    .on_hover_text(&name)
                    .clicked(),
                Thumbnail::Pending => ui
                    .selectable_label(selected, format!("{name} …"))
                    .on_hover_text("being read")
                    .clicked(),
                Thumbnail::Failed(error) => ui
                    .selectable_label(selected, &name)
                    .on_hover_text(error)
                    .clicked(),
            };
            if clicked {
                open = Some(path.clone());
            }
        }
    });
    #[cfg(not(target_arch = "wasm32"))]
    ui.horizontal(|ui| {
        ui.text_edit_singleline(&mut panel.image_path)
            .on_hover_text("an image file, or drop one on the window");
        if ui.button("Open").clicked() {
            open = Some(PathBuf::from(panel.image_path.trim()));
        }
        dialog_button(ui, panel, "Browse...", DialogPurpose::OpenImage);
    });
    #[cfg(target_arch = "wasm32")]
    ui.small("Open an image with the page's button, or drop one on the page.");
    if let Some(path) = open {
        library.open(&path);
    }
    if let Some(error) = library.error() {
        ui.colored_label(egui::Color32::LIGHT_RED, error);
    }
}

/// Saving and loading checkpoints, exporting the grid.
#[cfg(not(target_arch = "wasm32"))]
fn files(ui: &mut egui::Ui, panel: &mut PanelState, state: &TrainingState, commands: &mut Orders) {
    ui.label("trained with:");
    ui.small(&state.trained_with);
    ui.horizontal(|ui| {
        ui.text_edit_singleline(&mut panel.checkpoint_path);
        let path = PathBuf::from(panel.checkpoint_path.trim());
        if ui.button("Save").clicked() {
            commands.write(SphereCommand::Save(path.clone()));
        }
        if ui.button("Load").clicked() {
            commands.write(SphereCommand::Load(path));
        }
    });
    ui.horizontal(|ui| {
        dialog_button(ui, panel, "Save as...", DialogPurpose::SaveCheckpoint);
        dialog_button(ui, panel, "Load from...", DialogPurpose::LoadCheckpoint);
    });
    ui.horizontal(|ui| {
        ui.text_edit_singleline(&mut panel.export_path);
        for extension in ["glb", "ply", "csv"] {
            if ui.button(format!("Export .{extension}")).clicked() {
                let path = PathBuf::from(panel.export_path.trim()).with_extension(extension);
                commands.write(SphereCommand::Export(path));
            }
        }
    });
}

/// Checkpoints and exports, as the browser's downloads.
#[cfg(target_arch = "wasm32")]
fn downloads(ui: &mut egui::Ui, state: &TrainingState, commands: &mut Orders) {
    ui.label("trained with:");
    ui.small(&state.trained_with);
    let name = PathBuf::from(format!("sphere-{}", state.steps));
    ui.horizontal_wrapped(|ui| {
        if ui.button("Save checkpoint").clicked() {
            commands.write(SphereCommand::Save(name.clone()));
        }
        for extension in ["glb", "ply", "csv"] {
            if ui.button(format!("Export .{extension}")).clicked() {
                commands.write(SphereCommand::Export(name.with_extension(extension)));
            }
        }
    });
    ui.small(
        "They go to the browser's downloads; \"Open image or checkpoint…\" (or a drop on the \
         page) loads a checkpoint. Orbit videos are in the native demo.",
    );
}

/// Size, length and file of an orbit video, and the recording's progress.
#[cfg(not(target_arch = "wasm32"))]
fn record_orbit(
    ui: &mut egui::Ui,
    panel: &mut PanelState,
    status: &RecordingStatus,
    sphere: Entity,
    record: &mut MessageWriter<RecordOrbit>,
) {
    let orbit = &mut panel.orbit;
    ui.horizontal(|ui| {
        ui.add(
            egui::DragValue::new(&mut orbit.size.x)
                .range(16..=3840)
                .suffix(" px"),
        );
        ui.label("x");
        ui.add(
            egui::DragValue::new(&mut orbit.size.y)
                .range(16..=2160)
                .suffix(" px"),
        );
    });
    ui.horizontal(|ui| {
        ui.add(
            egui::DragValue::new(&mut orbit.frames)
                .range(1..=3600)
                .suffix(" frames"),
        );
        ui.add(
            egui::DragValue::new(&mut orbit.fps)
                .range(1..=120)
                .suffix(" fps"),
        );
        ui.add(
            egui::DragValue::new(&mut orbit.orbits)
                .range(1..=10)
                .suffix(" orbits"),
        );
    });
    ui.add(egui::Slider::new(&mut orbit.elevation_deg, -80.0..=80.0).text("elevation °"));
    let mut out = orbit.out.display().to_string();
    ui.horizontal(|ui| {
        if ui
            .text_edit_singleline(&mut out)
            .on_hover_text(".mp4 (needs ffmpeg), .gif, or a folder for PNG frames")
            .changed()
        {
            panel.orbit.out = PathBuf::from(out.trim());
        }
        dialog_button(ui, panel, "Browse...", DialogPurpose::RecordTo);
    });
    let busy = status.is_busy();
    if ui
        .add_enabled(!busy, egui::Button::new("Record orbit"))
        .clicked()
    {
        record.write(RecordOrbit {
            sphere,
            spec: panel.orbit.clone(),
        });
    }
    match status {
        RecordingStatus::Idle => {}
        RecordingStatus::Preparing => {
            ui.label("preparing...");
        }
        RecordingStatus::Capturing { done, total } => {
            ui.add(
                egui::ProgressBar::new(*done as f32 / *total as f32)
                    .text(format!("frame {done} of {total}")),
            );
        }
        RecordingStatus::Encoding => {
            ui.add(egui::ProgressBar::new(1.0).text("encoding..."));
        }
        RecordingStatus::Done {
            path,
            frames,
            seconds,
        } => {
            ui.colored_label(
                egui::Color32::LIGHT_GREEN,
                format!("wrote {} ({frames} frames, {seconds:.1} s)", path.display()),
            );
        }
        RecordingStatus::Failed(error) => {
            ui.colored_label(egui::Color32::LIGHT_RED, error);
        }
    }
}
