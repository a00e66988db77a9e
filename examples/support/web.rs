//! The demo's side of its web page (`web/index.html`): the bundled images, compiled in since a
//! page has no file system; images and checkpoints the page hands over (its file input, a
//! drop); downloads it asks for; and what the page can read back (steps, speed, backend, the
//! panel's latest word), for people and for the browser test.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bevy::prelude::*;
use bevy_neural_sphere::{
    ImageLibrary, SelectedSphere, SphereCommand, TrainingState, learn::CHECKPOINT_EXTENSION,
};
use wasm_bindgen::prelude::wasm_bindgen;

/// The images in `assets/images`, by name.
const BUNDLED: [(&str, &[u8]); 4] = [
    (
        "astronaut.jpg",
        include_bytes!("../../assets/images/astronaut.jpg"),
    ),
    (
        "chelsea.jpg",
        include_bytes!("../../assets/images/chelsea.jpg"),
    ),
    (
        "coffee.jpg",
        include_bytes!("../../assets/images/coffee.jpg"),
    ),
    ("earth.jpg", include_bytes!("../../assets/images/earth.jpg")),
];

/// A library of the bundled images.
pub fn bundled_images() -> ImageLibrary {
    let mut library = ImageLibrary::default();
    for (name, contents) in BUNDLED {
        library.add_contents(name, contents);
    }
    library
}

/// Files handed over by the page since the last frame.
static UPLOADS: Mutex<Vec<(String, Vec<u8>)>> = Mutex::new(Vec::new());

/// Downloads asked for by the page since the last frame.
static DOWNLOADS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// What the page reads back, as of the last frame.
static STATUS: Mutex<PageStatus> = Mutex::new(PageStatus {
    steps: 0,
    steps_per_second: 0.0,
    frames: 0,
    backend: String::new(),
    message: String::new(),
});

struct PageStatus {
    steps: usize,
    steps_per_second: f64,
    frames: usize,
    backend: String,
    message: String,
}

/// Opens a file's contents from the next frame: a checkpoint (`.mpk`) to train on from, else
/// an image (PNG or JPEG) on the sphere. The page calls this for its file input and for files
/// dropped on it.
#[wasm_bindgen]
pub fn open_file(name: String, contents: Vec<u8>) {
    UPLOADS.lock().unwrap().push((name, contents));
}

/// Downloads `name` from the next frame: a checkpoint (`.mpk`) or an export of the grid
/// (`.glb`, `.ply`, `.csv`), as the panel's buttons do.
#[wasm_bindgen]
pub fn download(name: String) {
    DOWNLOADS.lock().unwrap().push(name);
}

/// Training steps taken so far.
#[wasm_bindgen]
pub fn training_steps() -> usize {
    STATUS.lock().unwrap().steps
}

/// Training steps per second, over about the last second.
#[wasm_bindgen]
pub fn steps_per_second() -> f64 {
    STATUS.lock().unwrap().steps_per_second
}

/// Frames drawn so far.
#[wasm_bindgen]
pub fn frames() -> usize {
    STATUS.lock().unwrap().frames
}

/// Which backend trains, and why.
#[wasm_bindgen]
pub fn backend() -> String {
    STATUS.lock().unwrap().backend.clone()
}

/// The panel's latest word: an error, else the latest notice ("loaded …", "saved …").
#[wasm_bindgen]
pub fn message() -> String {
    STATUS.lock().unwrap().message.clone()
}

/// Connects the app to the page: takes its files and its downloads, publishes the status.
pub struct PagePlugin;

impl Plugin for PagePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Update, (take_uploads, take_downloads, publish_status));
    }
}

/// Loads the page's uploads: checkpoints into the selected sphere, images into the library.
fn take_uploads(
    mut library: ResMut<ImageLibrary>,
    selected: Res<SelectedSphere>,
    mut commands: Commands,
) {
    let Some(sphere) = selected.0 else {
        return;
    };
    for (name, contents) in std::mem::take(&mut *UPLOADS.lock().unwrap()) {
        let name = PathBuf::from(name);
        if name.extension().is_some_and(|e| e == CHECKPOINT_EXTENSION) {
            let contents = Arc::from(contents);
            commands.trigger(SphereCommand::LoadContents { name, contents }.to(sphere));
        } else {
            library.add_contents(name.clone(), contents);
            library.request = Some(name);
        }
    }
}

/// Saves or exports the selected sphere for the page's downloads.
fn take_downloads(selected: Res<SelectedSphere>, mut commands: Commands) {
    let Some(sphere) = selected.0 else {
        return;
    };
    for name in std::mem::take(&mut *DOWNLOADS.lock().unwrap()) {
        let path = PathBuf::from(name);
        let command = match path.extension().is_some_and(|e| e == "mpk") {
            true => SphereCommand::Save(path),
            false => SphereCommand::Export(path),
        };
        commands.trigger(command.to(sphere));
    }
}

/// Publishes the selected sphere's status to the page.
fn publish_status(selected: Res<SelectedSphere>, spheres: Query<&TrainingState>) {
    let Some(state) = selected.0.and_then(|sphere| spheres.get(sphere).ok()) else {
        return;
    };
    let mut status = STATUS.lock().unwrap();
    status.steps = state.steps();
    status.steps_per_second = state.steps_per_second();
    status.frames += 1;
    if status.backend != state.backend() {
        state.backend().clone_into(&mut status.backend);
    }
    let message = state.error().or(state.notice());
    if let Some(message) = message.filter(|m| *m != status.message) {
        message.clone_into(&mut status.message);
    }
}
