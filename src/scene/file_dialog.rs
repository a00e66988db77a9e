//! The panel's native file dialogs (through the desktop portal; zenity is the fallback), each
//! on a thread of its own so that the app keeps drawing while one is open. A browser has none:
//! its page opens images with a file input of its own.

use std::path::PathBuf;
use std::thread::JoinHandle;

/// What a file dialog's answer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DialogPurpose {
    OpenImage,
    LoadCheckpoint,
    SaveCheckpoint,
    RecordTo,
}

/// A native file dialog, open on its own thread.
pub(crate) struct FileDialog {
    pub purpose: DialogPurpose,
    answer: JoinHandle<Option<PathBuf>>,
}

impl FileDialog {
    pub fn open(purpose: DialogPurpose) -> Self {
        let answer = std::thread::spawn(move || {
            let dialog = rfd::FileDialog::new();
            match purpose {
                DialogPurpose::OpenImage => dialog
                    .add_filter("images", &["png", "jpg", "jpeg"])
                    .pick_file(),
                DialogPurpose::LoadCheckpoint => dialog
                    .add_filter("checkpoints", &[crate::learn::CHECKPOINT_EXTENSION])
                    .pick_file(),
                DialogPurpose::SaveCheckpoint => dialog
                    .add_filter("checkpoints", &[crate::learn::CHECKPOINT_EXTENSION])
                    .set_file_name("sphere.mpk")
                    .save_file(),
                DialogPurpose::RecordTo => dialog
                    .add_filter("videos", &["mp4", "gif"])
                    .set_file_name("orbit.mp4")
                    .save_file(),
            }
        });
        Self { purpose, answer }
    }

    /// Whether the dialog has closed.
    pub fn closed(&self) -> bool {
        self.answer.is_finished()
    }

    /// The path chosen in a closed dialog; `None` if it was cancelled or failed.
    pub fn chosen(self) -> Option<PathBuf> {
        self.answer.join().ok().flatten()
    }
}
