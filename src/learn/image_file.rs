//! Image files fitted to the square the grid covers: decoded within set limits, then
//! stretched, extended, letterboxed or cropped to a square at their own resolution.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Seek};
use std::path::Path;

use image::imageops::FilterType;
use image::{DynamicImage, RgbaImage};

use crate::Error;

/// How a non-square image is fitted to the square grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "scene", derive(bevy::reflect::Reflect))]
pub enum ImageFit {
    /// Scale each side to the square's: the whole image, nothing cut and no bars, its longer
    /// side squeezed. What a map made for a sphere (such as Earth's 2:1 map) expects.
    #[default]
    Stretch,
    /// Keep the whole image at its shape and fill the rest of the square with its edge pixels,
    /// repeated outwards.
    Extend,
    /// Keep the whole image at its shape and pad it to a square with black bars.
    Letterbox,
    /// Fill the square with the image's centre and cut what sticks out.
    Crop,
}

impl std::str::FromStr for ImageFit {
    type Err = Error;

    /// `stretch`, `extend`, `letterbox` or `crop`, as the examples' `--fit` takes them.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "stretch" => Ok(Self::Stretch),
            "extend" => Ok(Self::Extend),
            "letterbox" => Ok(Self::Letterbox),
            "crop" => Ok(Self::Crop),
            _ => Err(Error::Config(format!(
                "unknown fit '{s}' (expected stretch, extend, letterbox or crop)"
            ))),
        }
    }
}

/// The largest side, in pixels, of a fitted image: larger images are scaled down to it.
pub const MAX_TEXTURE_SIDE: u32 = 2048;

/// The widest and tallest image [`read_image_file`] decodes, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 16_384;

/// The most memory [`read_image_file`] lets a decoder allocate, in bytes.
pub const MAX_IMAGE_BYTES: u64 = 512 << 20;

/// Reads an image file (PNG or JPEG, told apart by its contents) and fits it to a square
/// texture.
///
/// Files wider or taller than [`MAX_IMAGE_SIDE`], or that would take more than
/// [`MAX_IMAGE_BYTES`] to decode, are refused before their pixels are read.
pub fn read_image_file(path: &Path, fit: ImageFit) -> Result<RgbaImage, Error> {
    read_image(path, fit, || Ok(BufReader::new(File::open(path)?)))
}

/// [`read_image_file`] for a file's contents already in memory (an upload in a browser);
/// `name` names it in errors.
pub fn read_image_bytes(name: &Path, bytes: &[u8], fit: ImageFit) -> Result<RgbaImage, Error> {
    read_image(name, fit, || Ok(Cursor::new(bytes)))
}

/// Decodes the image `source` reads, each time from its start, within the limits.
fn read_image<R: BufRead + Seek>(
    path: &Path,
    fit: ImageFit,
    source: impl Fn() -> std::io::Result<R>,
) -> Result<RgbaImage, Error> {
    let fail = |e: image::ImageError| Error::Image {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_IMAGE_BYTES);
    let open = || -> Result<_, Error> {
        let reader = image::ImageReader::new(source().map_err(|e| fail(e.into()))?);
        reader.with_guessed_format().map_err(|e| fail(e.into()))
    };
    // The header first, so that a refusal can say what the file holds.
    let mut header = open()?;
    header.no_limits();
    let (width, height) = header.into_dimensions().map_err(fail)?;
    if width.max(height) > MAX_IMAGE_SIDE {
        return Err(Error::Image {
            path: path.to_path_buf(),
            reason: format!("{width}×{height} pixels; at most {MAX_IMAGE_SIDE} a side"),
        });
    }
    let mut reader = open()?;
    reader.limits(limits);
    Ok(square_image(&reader.decode().map_err(fail)?, fit))
}

/// Fits an image to a square texture as `fit` says, at the image's own resolution (its shorter
/// side when cropped, else its longer) up to [`MAX_TEXTURE_SIDE`].
pub fn square_image(image: &DynamicImage, fit: ImageFit) -> RgbaImage {
    let (width, height) = (image.width().max(1), image.height().max(1));
    let side = match fit {
        ImageFit::Crop => width.min(height),
        ImageFit::Stretch | ImageFit::Extend | ImageFit::Letterbox => width.max(height),
    }
    .min(MAX_TEXTURE_SIDE);
    match fit {
        ImageFit::Stretch => image
            .resize_exact(side, side, FilterType::Triangle)
            .to_rgba8(),
        ImageFit::Crop => image
            .resize_to_fill(side, side, FilterType::Triangle)
            .to_rgba8(),
        ImageFit::Extend | ImageFit::Letterbox => {
            let scaled = image.resize(side, side, FilterType::Triangle).to_rgba8();
            let x = (side - scaled.width()) / 2;
            let y = (side - scaled.height()) / 2;
            if fit == ImageFit::Letterbox {
                let mut canvas = RgbaImage::from_pixel(side, side, image::Rgba([0, 0, 0, 255]));
                image::imageops::overlay(&mut canvas, &scaled, x.into(), y.into());
                return canvas;
            }
            // Each pixel of the square takes the image's nearest pixel.
            RgbaImage::from_fn(side, side, |px, py| {
                let sx = px.saturating_sub(x).min(scaled.width() - 1);
                let sy = py.saturating_sub(y).min(scaled.height() - 1);
                *scaled.get_pixel(sx, sy)
            })
        }
    }
}
