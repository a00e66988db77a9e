//! The panel's image library (feature `ui`): image files and files given by their contents,
//! each decoded and fitted once on Bevy's `AsyncComputeTaskPool`, so that no frame waits for an
//! image; a file that fails keeps its error and is not read again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bevy::prelude::*;
use bevy::tasks::{AsyncComputeTaskPool, Task, futures::check_ready};

use super::commands::SphereCommand;
use super::selection::SelectedSphere;
use super::texture::{load_image_bytes, load_image_file};
use crate::Error;
use crate::learn::image_file::ImageFit;

/// The images the panel offers, shown as thumbnails. Opening one ([`ImageLibrary::request`],
/// a thumbnail, a dropped file) sets it on the selected sphere once it has been decoded.
#[derive(Resource, Debug, Default)]
pub struct ImageLibrary {
    /// Image files, in the order shown.
    pub files: Vec<PathBuf>,
    /// How non-square images are fitted.
    pub fit: ImageFit,
    /// An image file to open on the next frame.
    pub request: Option<PathBuf>,
    /// Files given by their contents rather than read from disk (a browser has no file
    /// system): see [`ImageLibrary::add_contents`].
    contents: Vec<(PathBuf, Arc<[u8]>)>,
    /// The files decoded, or being decoded, with `decoded_fit`.
    decoded: Vec<(PathBuf, Decoded)>,
    decoded_fit: ImageFit,
    /// The file being opened, set on the selected sphere once decoded.
    opening: Option<PathBuf>,
    pub(crate) selected: Option<PathBuf>,
    error: Option<String>,
}

/// One library file, fitted to a square texture.
#[derive(Debug)]
pub(crate) enum Decoded {
    /// Being read and fitted on the task pool.
    Pending(Task<Result<Image, Error>>),
    /// Ready, shared by its thumbnail and the spheres that show it.
    Ready(Handle<Image>),
    /// Why it cannot be shown.
    Failed(String),
}

impl ImageLibrary {
    /// A library of the given files.
    pub fn new(files: impl IntoIterator<Item = PathBuf>) -> Self {
        Self {
            files: files.into_iter().map(|f| canonical(&f)).collect(),
            ..default()
        }
    }

    /// Adds an image file by its contents under `name` (the web demo's bundled images and
    /// uploads), in place of an earlier one of that name. Open it by setting
    /// [`ImageLibrary::request`] to `name`.
    pub fn add_contents(&mut self, name: impl Into<PathBuf>, contents: impl Into<Arc<[u8]>>) {
        let name = name.into();
        self.contents.retain(|(n, _)| *n != name);
        self.decoded.retain(|(n, _)| *n != name);
        if !self.files.contains(&name) {
            self.files.push(name.clone());
        }
        self.contents.push((name, contents.into()));
    }

    /// Why the image opened last could not be shown, if it could not.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Starts opening the image at `path`: once decoded, it colours the selected sphere; if it
    /// does not read, the current image stays and the panel shows why. A file that failed
    /// before is read again (its thumbnail alone does not retry it).
    pub(crate) fn open(&mut self, path: &Path) {
        // A name given by its contents stays as it is, even where a file of that name exists.
        let path = match self.contents.iter().any(|(name, _)| name == path) {
            true => path.to_path_buf(),
            false => canonical(path),
        };
        (self.decoded).retain(|(p, decoded)| *p != path || !matches!(decoded, Decoded::Failed(_)));
        self.decode(&path);
        self.opening = Some(path);
    }

    /// The image at `path` fitted with the current fit, its decoding started on the task pool
    /// the first time it is asked for.
    pub(crate) fn decode(&mut self, path: &Path) -> &Decoded {
        let at = match self.decoded.iter().position(|(p, _)| p == path) {
            Some(at) => at,
            None => {
                let (name, fit) = (path.to_path_buf(), self.fit);
                let contents = (self.contents.iter())
                    .find(|(p, _)| p == path)
                    .map(|(_, contents)| contents.clone());
                let task = AsyncComputeTaskPool::get().spawn(async move {
                    match contents {
                        Some(contents) => load_image_bytes(&name, &contents, fit),
                        None => load_image_file(&name, fit),
                    }
                });
                self.decoded
                    .push((path.to_path_buf(), Decoded::Pending(task)));
                self.decoded.len() - 1
            }
        };
        &self.decoded[at].1
    }

    /// Takes the images decoded since the last frame. After a change of fit, decodes the
    /// images again and opens the selected one again.
    fn finish(&mut self, images: &mut Assets<Image>) {
        if self.fit != self.decoded_fit {
            self.decoded_fit = self.fit;
            self.decoded.clear();
            if let Some(selected) = self.selected.clone() {
                self.open(&selected);
            }
        }
        for (_, decoded) in &mut self.decoded {
            if let Decoded::Pending(task) = decoded
                && let Some(result) = check_ready(task)
            {
                *decoded = match result {
                    Ok(image) => Decoded::Ready(images.add(image)),
                    Err(e) => Decoded::Failed(e.to_string()),
                };
            }
        }
    }

    /// The image being opened, once it is ready; one that failed sets the library's error.
    fn opened(&mut self) -> Option<Handle<Image>> {
        let path = self.opening.as_ref()?;
        let handle = match &self.decoded.iter().find(|(p, _)| p == path)?.1 {
            Decoded::Pending(_) => return None,
            Decoded::Ready(handle) => handle.clone(),
            Decoded::Failed(error) => {
                self.error = Some(error.clone());
                self.opening = None;
                return None;
            }
        };
        let path = self.opening.take()?;
        if !self.files.contains(&path) {
            self.files.push(path.clone());
        }
        self.selected = Some(path);
        self.error = None;
        Some(handle)
    }
}

/// One entry per file, however its path was written.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Starts opening the files dropped on the window and [`ImageLibrary::request`], takes the
/// images decoded since the last frame, and sets the one opened on the selected sphere.
pub(crate) fn open_requested_images(
    mut drops: MessageReader<FileDragAndDrop>,
    mut library: ResMut<ImageLibrary>,
    mut images: ResMut<Assets<Image>>,
    selected: Res<SelectedSphere>,
    mut commands: Commands,
) {
    let dropped = drops.read().filter_map(|drop| match drop {
        FileDragAndDrop::DroppedFile { path_buf, .. } => Some(path_buf.clone()),
        _ => None,
    });
    let requested: Vec<PathBuf> = library.request.take().into_iter().chain(dropped).collect();
    for path in requested {
        library.open(&path);
    }
    library.finish(&mut images);
    if let Some(sphere) = selected.0
        && let Some(handle) = library.opened()
    {
        commands.trigger(SphereCommand::SetImage(handle).to(sphere));
    }
}
