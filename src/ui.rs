//! The egui control panel (feature `ui`): the loss curve, training controls, the view and the
//! image picker. It only reads the plugin's resources and sends [`SphereCommand`]s.

use std::path::{Path, PathBuf};

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, EguiTextureHandle, egui};
use egui_plot::{Line, Plot};

use crate::Error;
use crate::images::{ImageFit, load_image_file};
use crate::plugin::{SphereCommand, SphereSettings, TrainingState};
use crate::points::ColourMode;

/// Adds the control panel to an app with [`NeuralSpherePlugin`](crate::NeuralSpherePlugin).
pub struct NeuralSphereUiPlugin;

impl Plugin for NeuralSphereUiPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<EguiPlugin>() {
            app.add_plugins(EguiPlugin::default());
        }
        app.init_resource::<ImageLibrary>()
            .init_resource::<PanelState>()
            .add_systems(Update, open_requested_images)
            .add_systems(EguiPrimaryContextPass, panel);
    }
}

/// The images the panel offers, shown as thumbnails.
#[derive(Resource, Debug, Default)]
pub struct ImageLibrary {
    /// Image files, in the order shown.
    pub files: Vec<PathBuf>,
    /// How non-square images are fitted.
    pub fit: ImageFit,
    /// An image file to open on the next frame.
    pub request: Option<PathBuf>,
    loaded: Vec<(PathBuf, Handle<Image>)>,
    selected: Option<PathBuf>,
    error: Option<String>,
}

impl ImageLibrary {
    /// A library of the given files.
    pub fn new(files: impl IntoIterator<Item = PathBuf>) -> Self {
        Self {
            files: files.into_iter().map(|f| canonical(&f)).collect(),
            ..default()
        }
    }

    /// Colours the points with the image at `path`, if it reads; if it does not, the current
    /// image stays and the panel shows why.
    fn open(
        &mut self,
        path: &Path,
        images: &mut Assets<Image>,
        commands: &mut MessageWriter<SphereCommand>,
    ) {
        let path = canonical(path);
        match self.fitted(&path, images) {
            Ok(handle) => {
                commands.write(SphereCommand::SetImage(handle));
                if !self.files.contains(&path) {
                    self.files.push(path.clone());
                }
                self.selected = Some(path);
                self.error = None;
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// The image at `path` fitted with the current fit: decoded once, then shared by its
    /// thumbnail and the points.
    fn fitted(&mut self, path: &Path, images: &mut Assets<Image>) -> Result<Handle<Image>, Error> {
        if let Some((_, handle)) = self.loaded.iter().find(|(p, _)| p == path) {
            return Ok(handle.clone());
        }
        let handle = images.add(load_image_file(path, self.fit)?);
        self.loaded.push((path.to_path_buf(), handle.clone()));
        Ok(handle)
    }
}

/// One entry per file, however its path was written.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Panel inputs that are not settings yet.
#[derive(Resource, Debug)]
struct PanelState {
    seed: u64,
    grid: u32,
    path: String,
}

impl Default for PanelState {
    fn default() -> Self {
        Self {
            seed: 0,
            grid: 100,
            path: String::new(),
        }
    }
}

/// Opens files dropped on the window and [`ImageLibrary::request`].
fn open_requested_images(
    mut drops: MessageReader<FileDragAndDrop>,
    mut library: ResMut<ImageLibrary>,
    mut images: ResMut<Assets<Image>>,
    mut commands: MessageWriter<SphereCommand>,
) {
    let dropped = drops.read().filter_map(|drop| match drop {
        FileDragAndDrop::DroppedFile { path_buf, .. } => Some(path_buf.clone()),
        _ => None,
    });
    let requested: Vec<PathBuf> = library.request.take().into_iter().chain(dropped).collect();
    for path in requested {
        library.open(&path, &mut images, &mut commands);
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

#[allow(clippy::too_many_arguments)]
fn panel(
    mut contexts: EguiContexts,
    mut settings: ResMut<SphereSettings>,
    state: Res<TrainingState>,
    mut panel: ResMut<PanelState>,
    mut library: ResMut<ImageLibrary>,
    mut images: ResMut<Assets<Image>>,
    mut commands: MessageWriter<SphereCommand>,
    time: Res<Time>,
    #[cfg(feature = "camera")] mut cameras: Query<(
        &mut crate::camera::SphereCamera,
        &mut bevy_panorbit_camera::PanOrbitCamera,
    )>,
) -> Result {
    let thumbnails: Vec<(PathBuf, Option<egui::TextureId>)> = (library.files.clone().into_iter())
        .map(|path| {
            let id = library
                .fitted(&path, &mut images)
                .ok()
                .map(|handle| contexts.add_image(EguiTextureHandle::Strong(handle)));
            (path, id)
        })
        .collect();
    // Widgets edit a copy, so the settings only count as changed when a value really changes
    // (the plugin re-places every point when they do).
    let mut edited = settings.clone();
    let ctx = contexts.ctx_mut()?;
    egui::Window::new("Neural sphere")
        .default_pos([8.0, 8.0])
        .default_width(300.0)
        .default_height(700.0)
        .show(ctx, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                if let Some(error) = &state.error {
                    ui.colored_label(egui::Color32::LIGHT_RED, error);
                }

                // Progress and the loss curve.
                let last = state.history.last();
                ui.label(format!(
                    "step {}   lr {:.4}   {:.0} steps/s   frame {:.1} ms",
                    last.map_or(0, |s| s.step + 1),
                    last.map_or(edited.train.lr, |s| s.lr),
                    state.steps_per_second,
                    time.delta_secs() * 1000.0,
                ));
                ui.label(format!("loss {:.1}", last.map_or(f32::NAN, |s| s.loss)));
                let raw: Vec<[f64; 2]> = (state.history.iter())
                    .map(|s| [s.step as f64, (s.loss.max(1e-3) as f64).log10()])
                    .collect();
                Plot::new("loss")
                    .height(150.0)
                    .allow_scroll(false)
                    .y_axis_formatter(|mark, _| format!("{:.0e}", 10f64.powf(mark.value)))
                    .show(ui, |plot| {
                        plot.line(
                            Line::new("smoothed", smoothed(&raw, 100)).color(egui::Color32::YELLOW),
                        );
                        plot.line(Line::new("loss", raw).color(egui::Color32::from_gray(140)));
                    });

                // Training.
                ui.horizontal(|ui| {
                    let (label, command) = if edited.paused {
                        ("Resume", SphereCommand::Resume)
                    } else {
                        ("Pause", SphereCommand::Pause)
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
                ui.add(
                    egui::Slider::new(&mut edited.train.lr, 0.001..=0.2)
                        .logarithmic(true)
                        .text("lr (on reset)"),
                );
                ui.add(
                    egui::Slider::new(&mut edited.train.batch, 100..=5000)
                        .step_by(100.0)
                        .text("batch (on reset)"),
                );
                let mut budget = edited.frame_budget.as_secs_f32() * 1000.0;
                if ui
                    .add(egui::Slider::new(&mut budget, 0.5..=30.0).text("budget ms/frame"))
                    .changed()
                {
                    edited.frame_budget = std::time::Duration::from_secs_f32(budget / 1000.0);
                }
                let grid = ui.add(egui::Slider::new(&mut panel.grid, 10..=256).text("grid"));
                if grid.drag_stopped() || (grid.changed() && !grid.dragged()) {
                    commands.write(SphereCommand::SetGrid(panel.grid));
                }

                // The view.
                ui.separator();
                ui.add(
                    egui::Slider::new(&mut edited.point_radius, 0.002..=0.05).text("point size"),
                );
                ui.add(egui::Slider::new(&mut edited.morph, 0.0..=1.0).text("square to sphere"));
                ui.horizontal(|ui| {
                    ui.radio_value(&mut edited.colour_mode, ColourMode::Texture, "texture");
                    ui.radio_value(
                        &mut edited.colour_mode,
                        ColourMode::Notebook,
                        "notebook red/green",
                    );
                });
                #[cfg(feature = "camera")]
                for (mut sphere, mut camera) in &mut cameras {
                    ui.horizontal(|ui| {
                        ui.add(
                            egui::Slider::new(&mut sphere.auto_orbit, -1.0..=1.0)
                                .text("auto-orbit"),
                        );
                        if ui.button("Reset view").clicked() {
                            crate::camera::SphereCamera::reset_view(&mut camera);
                        }
                    });
                }

                // Images.
                ui.separator();
                let mut open = None;
                let fit = library.fit;
                ui.horizontal(|ui| {
                    ui.label("fit:");
                    ui.radio_value(&mut library.fit, ImageFit::Letterbox, "letterbox");
                    ui.radio_value(&mut library.fit, ImageFit::Crop, "crop");
                });
                if library.fit != fit {
                    library.loaded.clear();
                    open = library.selected.clone();
                }
                ui.horizontal_wrapped(|ui| {
                    for (path, id) in &thumbnails {
                        let name = path
                            .file_name()
                            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                        let selected = library.selected.as_ref() == Some(path);
                        let clicked = match id {
                            Some(id) => ui
                                .add(
                                    egui::Button::image((*id, egui::vec2(56.0, 56.0)))
                                        .selected(selected),
                                )
                                .on_hover_text(&name)
                                .clicked(),
                            None => ui.selectable_label(selected, &name).clicked(),
                        };
                        if clicked {
                            open = Some(path.clone());
                        }
                    }
                });
                ui.horizontal(|ui| {
                    ui.text_edit_singleline(&mut panel.path)
                        .on_hover_text("an image file, or drop one on the window");
                    if ui.button("Open").clicked() {
                        open = Some(PathBuf::from(panel.path.trim()));
                    }
                });
                if let Some(path) = open {
                    library.open(&path, &mut images, &mut commands);
                }
                if let Some(error) = &library.error {
                    ui.colored_label(egui::Color32::LIGHT_RED, error);
                }
            });
        });
    settings.set_if_neq(edited);
    Ok(())
}
