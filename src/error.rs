//! The crate's error type.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong in this crate, each with a message meant for a person.
#[derive(Debug)]
pub enum Error {
    /// A configuration value that cannot work.
    Config(String),
    /// A file that could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A checkpoint that could not be saved or loaded.
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An image file that could not be read.
    Image {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No usable GPU adapter or device.
    Gpu(String),
    /// A read from the GPU that failed, as when the device is lost; the message says what the
    /// device said.
    DeviceRead(String),
    /// Training stopped: its steps keep going non-finite; the message says from where.
    Training(String),
    /// A video that could not be recorded; the message says why.
    Recording(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(message) => write!(f, "invalid configuration: {message}"),
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Checkpoint { path, reason } => {
                write!(f, "checkpoint {}: {reason}", path.display())
            }
            Error::Image { path, reason } => write!(f, "image {}: {reason}", path.display()),
            Error::Gpu(message) => write!(f, "no usable GPU: {message}"),
            Error::DeviceRead(message) => write!(f, "reading from the GPU failed: {message}"),
            Error::Training(message) => write!(f, "training stopped: {message}"),
            Error::Recording(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
