//! Where a recording's frames go: an encoder thread writes them, in order, as MP4 (through the
//! system `ffmpeg`), GIF or numbered PNG frames.
//!
//! Everything is written beside the output first, under a hidden `.part` name, and only moved
//! to the output once the last frame is in: a recording that fails half-way (a full disk, an
//! unwritable folder, ffmpeg stopping) leaves nothing behind.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use bevy::prelude::*;

use super::orbit::{OrbitSpec, VideoFormat, find_ffmpeg};
use crate::Error;

/// Where a recording's frames go, each with its number.
pub(crate) type FrameSender = Sender<(u32, Image)>;

/// The thread that writes the frames; it ends with the video complete, or with why not.
pub(crate) type EncoderThread = JoinHandle<Result<(), Error>>;

/// Opens the output and starts the thread that writes the frames in order.
pub(crate) fn spawn_encoder(
    spec: &OrbitSpec,
    format: VideoFormat,
) -> Result<(FrameSender, EncoderThread), Error> {
    let sink = FrameSink::open(spec, format)?;
    let (sender, receiver) = channel();
    let total = spec.frames;
    let encoder = std::thread::Builder::new()
        .name("orbit encoder".into())
        .spawn(move || sink.write_in_order(receiver, total))
        .map_err(|e| Error::Recording(format!("cannot start the encoder thread: {e}")))?;
    Ok((sender, encoder))
}

/// The output being written, under its staging name until it is complete.
struct FrameSink {
    /// Where the video goes once it is complete.
    out: PathBuf,
    /// Where it is written meanwhile.
    staging: PathBuf,
    encoder: Encoder,
}

enum Encoder {
    Mp4 {
        ffmpeg: Child,
        input: BufWriter<ChildStdin>,
    },
    Gif {
        encoder: gif::Encoder<BufWriter<File>>,
        /// Frame delay in hundredths of a second.
        delay: u16,
    },
    Png,
}

impl FrameSink {
    fn open(spec: &OrbitSpec, format: VideoFormat) -> Result<Self, Error> {
        let out = spec.out.clone();
        let staging = staging_path(&out);
        let io = |path: &Path, source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        let encoder = match format {
            VideoFormat::Mp4 => {
                let mut ffmpeg = Command::new(find_ffmpeg()?)
                    .args(["-y", "-loglevel", "error", "-f", "rawvideo"])
                    .args(["-pix_fmt", "rgba"])
                    .args(["-s", &format!("{}x{}", spec.size.x, spec.size.y)])
                    .args(["-r", &spec.fps.to_string(), "-i", "-"])
                    .args(["-c:v", "libx264", "-pix_fmt", "yuv420p"])
                    .args(["-movflags", "+faststart", "-f", "mp4"])
                    .arg(&staging)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|e| io(&out, e))?;
                let input = BufWriter::new(ffmpeg.stdin.take().expect("stdin is piped"));
                Encoder::Mp4 { ffmpeg, input }
            }
            VideoFormat::Gif => {
                let file = BufWriter::new(File::create(&staging).map_err(|e| io(&out, e))?);
                let (width, height) = (spec.size.x as u16, spec.size.y as u16);
                let gif = gif::Encoder::new(file, width, height, &[])
                    .and_then(|mut encoder| {
                        encoder.set_repeat(gif::Repeat::Infinite)?;
                        Ok(encoder)
                    })
                    .map_err(|e| gif_error(&out, e));
                let encoder = gif.inspect_err(|_| remove(&staging))?;
                Encoder::Gif {
                    delay: (100.0 / spec.fps as f64).round().max(1.0) as u16,
                    encoder,
                }
            }
            VideoFormat::PngFrames => {
                std::fs::create_dir_all(&staging).map_err(|e| io(&out, e))?;
                Encoder::Png
            }
        };
        Ok(Self {
            out,
            staging,
            encoder,
        })
    }

    /// Writes frames as they arrive, reordered by index, until the channel closes; then moves
    /// the finished video to its place. On any failure nothing is left behind.
    fn write_in_order(mut self, frames: Receiver<(u32, Image)>, total: u32) -> Result<(), Error> {
        let mut waiting = BTreeMap::new();
        let mut next = 0;
        for (index, image) in frames {
            waiting.insert(index, image);
            while let Some(image) = waiting.remove(&next) {
                if let Err(e) = self.write(next, image) {
                    return Err(self.abandon(e));
                }
                next += 1;
            }
        }
        if next < total {
            let e = format!("only {next} of {total} frames came back from the renderer");
            return Err(self.abandon(Error::Recording(e)));
        }
        let staging = self.staging.clone();
        self.finish().inspect_err(|_| remove(&staging))
    }

    fn write(&mut self, index: u32, image: Image) -> Result<(), Error> {
        let mut rgba = image
            .try_into_dynamic()
            .map_err(|e| Error::Recording(format!("frame {index} cannot be read: {e}")))?
            .to_rgba8();
        let out = &self.out;
        match &mut self.encoder {
            Encoder::Mp4 { input, .. } => input.write_all(&rgba).map_err(|source| Error::Io {
                path: out.clone(),
                source,
            }),
            Encoder::Gif { encoder, delay } => {
                let (width, height) = (rgba.width() as u16, rgba.height() as u16);
                let mut frame = gif::Frame::from_rgba_speed(width, height, &mut rgba, 10);
                frame.delay = *delay;
                encoder.write_frame(&frame).map_err(|e| gif_error(out, e))
            }
            Encoder::Png => {
                let name = format!("frame_{index:04}.png");
                rgba.save(self.staging.join(&name))
                    .map_err(|e| Error::Image {
                        path: out.join(name),
                        reason: e.to_string(),
                    })
            }
        }
    }

    /// Completes the video under its staging name, then moves it to the output.
    fn finish(self) -> Result<(), Error> {
        let Self {
            out,
            staging,
            encoder,
        } = self;
        let io = |source| Error::Io {
            path: out.clone(),
            source,
        };
        match encoder {
            Encoder::Mp4 { ffmpeg, input } => {
                // Closing its input ends ffmpeg's stream.
                input.into_inner().map_err(|e| io(e.into_error()))?;
                let output = ffmpeg.wait_with_output().map_err(io)?;
                if !output.status.success() {
                    return Err(ffmpeg_error(&out, &output.stderr));
                }
                std::fs::rename(&staging, &out).map_err(io)
            }
            Encoder::Gif { encoder, .. } => {
                let mut file = encoder.into_inner().map_err(|e| gif_error(&out, e))?;
                file.flush().map_err(io)?;
                file.into_inner()
                    .map_err(|e| io(e.into_error()))?
                    .sync_all()
                    .map_err(io)?;
                std::fs::rename(&staging, &out).map_err(io)
            }
            Encoder::Png => {
                // Frames join whatever the folder already holds, as they always did.
                std::fs::create_dir_all(&out).map_err(io)?;
                for entry in std::fs::read_dir(&staging).map_err(io)? {
                    let entry = entry.map_err(io)?;
                    std::fs::rename(entry.path(), out.join(entry.file_name())).map_err(io)?;
                }
                std::fs::remove_dir(&staging).map_err(io)
            }
        }
    }

    /// Stops writing and removes what was written; returns the error to report, ffmpeg's own
    /// words where it stopped first.
    fn abandon(self, error: Error) -> Error {
        let error = match self.encoder {
            Encoder::Mp4 { mut ffmpeg, input } => {
                drop(input);
                // A frame that could not be written because ffmpeg closed its end: ffmpeg
                // stopped on its own, and says why. Any other failure stops ffmpeg here.
                let ffmpeg_stopped = matches!(&error, Error::Io { source, .. }
                    if source.kind() == std::io::ErrorKind::BrokenPipe);
                if !ffmpeg_stopped {
                    let _ = ffmpeg.kill();
                }
                match ffmpeg.wait_with_output() {
                    Ok(output) if ffmpeg_stopped && !output.status.success() => {
                        ffmpeg_error(&self.out, &output.stderr)
                    }
                    _ => error,
                }
            }
            Encoder::Gif { .. } | Encoder::Png => error,
        };
        remove(&self.staging);
        error
    }
}

/// The hidden name beside `out` that a recording is written under until it is complete.
fn staging_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map_or("orbit".into(), |n| n.to_string_lossy());
    out.with_file_name(format!(".{name}.part"))
}

/// Removes a staging file or folder, if there is one.
fn remove(staging: &Path) {
    let _ = match staging.is_dir() {
        true => std::fs::remove_dir_all(staging),
        false => std::fs::remove_file(staging),
    };
}

fn ffmpeg_error(out: &Path, stderr: &[u8]) -> Error {
    let said = String::from_utf8_lossy(stderr);
    Error::Recording(format!(
        "ffmpeg failed writing {}: {}",
        out.display(),
        said.lines().next().unwrap_or("no message")
    ))
}

fn gif_error(path: &Path, e: gif::EncodingError) -> Error {
    Error::Image {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}
