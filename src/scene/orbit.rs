//! What an orbit video is: its [`OrbitSpec`], the [`RecordOrbit`] message that starts one and
//! the [`RecordingStatus`] that follows it. The `record` module records, `video` encodes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use bevy::prelude::*;

use crate::Error;

/// What a recording writes, picked by the output path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoFormat {
    /// `.mp4`: H.264, yuv420p, encoded by the system `ffmpeg`.
    Mp4,
    /// `.gif`: an endlessly looping GIF, encoded in Rust.
    Gif,
    /// Any path without an extension: a folder of `frame_0000.png`, `frame_0001.png`, ...
    PngFrames,
}

impl VideoFormat {
    /// The format for an output path.
    pub fn from_path(path: &Path) -> Result<Self, Error> {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("mp4") => Ok(Self::Mp4),
            Some(e) if e.eq_ignore_ascii_case("gif") => Ok(Self::Gif),
            None => Ok(Self::PngFrames),
            Some(e) => Err(Error::Config(format!(
                "cannot record to '.{e}': use a .mp4 or .gif file, or a folder for PNG frames"
            ))),
        }
    }
}

/// What to record.
#[derive(Debug, Clone, PartialEq)]
pub struct OrbitSpec {
    /// The file or folder to write; its extension picks the [`VideoFormat`].
    pub out: PathBuf,
    /// Number of frames.
    pub frames: u32,
    /// Playback speed.
    pub fps: u32,
    /// Width and height in pixels.
    pub size: UVec2,
    /// Full turns of the camera over the video.
    pub orbits: u32,
    /// Height of the camera above the equator, in degrees.
    pub elevation_deg: f32,
    /// Distance from the camera to the sphere's centre, in sphere radii (the sphere's scale).
    pub distance: f32,
    /// Colour behind the sphere.
    pub background: Color,
}

impl OrbitSpec {
    /// 240 frames at 30 fps, 1280×720, one orbit at 20° elevation, written to `out`.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        Self {
            out: out.into(),
            frames: 240,
            fps: 30,
            size: UVec2::new(1280, 720),
            orbits: 1,
            elevation_deg: 20.0,
            distance: 3.2,
            background: Color::srgb(0.05, 0.05, 0.08),
        }
    }

    /// Checks that the recording can be made and returns its format; for MP4 that includes
    /// finding `ffmpeg`.
    pub fn validate(&self) -> Result<VideoFormat, Error> {
        let format = VideoFormat::from_path(&self.out)?;
        if self.frames == 0 || self.fps == 0 || self.orbits == 0 {
            return Err(Error::Config(
                "frames, fps and orbits must be at least 1".into(),
            ));
        }
        if !(2..=8192).contains(&self.size.x) || !(2..=8192).contains(&self.size.y) {
            return Err(Error::Config(format!(
                "size {}x{} is outside 2x2 to 8192x8192",
                self.size.x, self.size.y
            )));
        }
        if format == VideoFormat::Gif && self.size.max_element() > u16::MAX as u32 {
            return Err(Error::Config("a GIF is at most 65535 pixels wide".into()));
        }
        if format == VideoFormat::Mp4 {
            if self.size.x % 2 == 1 || self.size.y % 2 == 1 {
                return Err(Error::Config(format!(
                    "an MP4 (yuv420p) needs an even width and height, not {}x{}",
                    self.size.x, self.size.y
                )));
            }
            find_ffmpeg()?;
        }
        Ok(format)
    }

    /// Where the camera is for frame `frame` around a sphere at `centre` of radius `radius`: on
    /// a circle at the spec's elevation, `distance · radius` from the centre, turned by
    /// `360° · orbits · frame / frames` about the vertical axis, looking at the centre.
    pub fn camera_transform(&self, frame: u32, centre: Vec3, radius: f32) -> Transform {
        let turn = std::f32::consts::TAU * self.orbits as f32 * frame as f32 / self.frames as f32;
        let elevation = self.elevation_deg.to_radians();
        let offset = self.distance
            * radius
            * Vec3::new(
                elevation.cos() * turn.sin(),
                elevation.sin(),
                elevation.cos() * turn.cos(),
            );
        Transform::from_translation(centre + offset).looking_at(centre, Vec3::Y)
    }
}

/// Starts recording an orbit around one sphere, centred on its global translation and sized by
/// its scale; ignored while another recording runs. The sphere's training is held while it
/// records; other spheres go on.
#[derive(Message, Debug, Clone)]
pub struct RecordOrbit {
    /// The sphere's entity.
    pub sphere: Entity,
    /// What to record.
    pub spec: OrbitSpec,
}

/// Where the current or latest recording stands.
#[derive(Resource, Debug, Clone, Default, PartialEq)]
pub enum RecordingStatus {
    /// Nothing recorded yet.
    #[default]
    Idle,
    /// Waiting for the first frame to show the points (pipelines compile on first use).
    Preparing,
    /// Frames rendered and handed to the encoder so far.
    Capturing {
        /// Frames read back.
        done: u32,
        /// Frames in the video.
        total: u32,
    },
    /// All frames are read back; the encoder is finishing.
    Encoding,
    /// The video is written.
    Done {
        /// The file or folder written.
        path: PathBuf,
        /// Frames in it.
        frames: u32,
        /// Time from the request to the finished file.
        seconds: f64,
    },
    /// Why the recording failed; nothing else changed.
    Failed(String),
}

impl RecordingStatus {
    /// Whether a recording is under way.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            Self::Preparing | Self::Capturing { .. } | Self::Encoding
        )
    }
}

/// The `ffmpeg` on `PATH`, or an error that says how to install it.
pub(crate) fn find_ffmpeg() -> Result<&'static str, Error> {
    match Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => Ok("ffmpeg"),
        Err(_) => Err(Error::Recording(
            "MP4 needs ffmpeg on PATH: install the ffmpeg package (apt install ffmpeg), or \
             record a .gif or a folder of PNG frames instead"
                .into(),
        )),
    }
}
