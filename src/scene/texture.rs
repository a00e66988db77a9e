//! Textures for the points and the surface: the built-in UV test grid and image files fitted to
//! a square, with mipmaps made in linear light.

use std::path::Path;

use bevy::asset::RenderAssetUsages;
use bevy::image::ImageSampler;
use bevy::platform::collections::HashSet;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use bevy::tasks::{AsyncComputeTaskPool, Task, futures::check_ready};
use image::{DynamicImage, RgbaImage};

use crate::Error;
use crate::learn::image_file::{ImageFit, read_image_bytes, read_image_file, square_image};

/// Side, in pixels, of the UV test grid.
const TEST_GRID_SIDE: u32 = 512;

/// A UV test grid: hue around u, brightness along v, with dark lines every eighth.
pub fn uv_test_grid() -> Image {
    let side = TEST_GRID_SIDE;
    let pixels = RgbaImage::from_fn(side, side, |x, y| {
        let (u, v) = (x as f32 / side as f32, y as f32 / side as f32);
        let line = (u * 8.0).fract() < 0.04 || (v * 8.0).fract() < 0.04;
        let colour = Color::hsl(u * 360.0, 0.8, 0.25 + 0.5 * (1.0 - v)).to_srgba();
        let scale = if line { 0.25 } else { 1.0 };
        image::Rgba([colour.red, colour.green, colour.blue, 1.0].map(|c| (c * scale * 255.0) as u8))
    });
    to_bevy(pixels)
}

/// Reads an image file (PNG or JPEG, told apart by its contents) and fits it to a square
/// texture: [`read_image_file`] made a Bevy image.
pub fn load_image_file(path: &Path, fit: ImageFit) -> Result<Image, Error> {
    read_image_file(path, fit).map(to_bevy)
}

/// [`load_image_file`] for a file's contents already in memory; `name` names it in errors.
pub fn load_image_bytes(name: &Path, bytes: &[u8], fit: ImageFit) -> Result<Image, Error> {
    read_image_bytes(name, bytes, fit).map(to_bevy)
}

/// Fits an image to a square texture: [`square_image`] made a Bevy image.
pub fn fit_image(image: &DynamicImage, fit: ImageFit) -> Image {
    to_bevy(square_image(image, fit))
}

/// The colour at texture coordinates `uv` (in [0, 1]², row 0 at the top), as sRGB bytes: a
/// bilinear sample of the full-size level in linear light with clamped edges. Textures other
/// than 8-bit sRGB RGBA (as this module makes them) read as black.
pub fn sample_texture(image: &Image, uv: [f32; 2]) -> [u8; 3] {
    to_srgb(sample_level(image, uv, 0).unwrap_or_default())
}

/// The colour the point at texture coordinates `uv` of a `grid × grid` grid shows, as the point
/// shader takes it: a trilinear sample at the mip level whose texels are about one grid cell
/// wide, so that each point shows its cell's mean colour rather than whichever texel it falls
/// on.
pub fn point_colour(image: &Image, uv: [f32; 2], grid: u32) -> [u8; 3] {
    let lod = grid_lod(image, grid);
    let below = lod.floor() as u32;
    let (Some(a), Some(b)) = (
        sample_level(image, uv, below),
        sample_level(image, uv, below + 1).or_else(|| sample_level(image, uv, below)),
    ) else {
        return [0; 3];
    };
    to_srgb(mix(a, b, lod.fract()))
}

/// The mip level the points of a `grid × grid` grid sample `image` at: where a texel is about
/// one grid cell wide, within the levels the image has.
pub(crate) fn grid_lod(image: &Image, grid: u32) -> f32 {
    let cells = grid.saturating_sub(1).max(1) as f32;
    let last = image.texture_descriptor.mip_level_count.saturating_sub(1) as f32;
    (image.width() as f32 / cells).log2().clamp(0.0, last)
}

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [0, 1, 2].map(|k| a[k] + (b[k] - a[k]) * t)
}

fn to_srgb([r, g, b]: [f32; 3]) -> [u8; 3] {
    let srgb = Color::linear_rgb(r, g, b).to_srgba().to_u8_array();
    [srgb[0], srgb[1], srgb[2]]
}

/// A bilinear sample of mip level `level` in linear light, if the image holds that level as
/// 8-bit RGBA.
fn sample_level(image: &Image, [u, v]: [f32; 2], level: u32) -> Option<[f32; 3]> {
    if level >= image.texture_descriptor.mip_level_count {
        return None;
    }
    let size = |k: u32| {
        let side = |s: u32| (s >> k).max(1) as usize;
        (side(image.width()), side(image.height()))
    };
    let offset: usize = (0..level).map(|k| size(k).0 * size(k).1 * 4).sum();
    let (width, height) = size(level);
    let data = image
        .data
        .as_deref()?
        .get(offset..offset + width * height * 4)?;
    let texel = |x: usize, y: usize| -> [f32; 3] {
        let p = &data[(y * width + x) * 4..][..3];
        [p[0], p[1], p[2]].map(|c| Color::srgb_u8(c, 0, 0).to_linear().red)
    };
    // Texel centres sit at (i + 0.5) / size.
    let axis = |t: f32, size: usize| {
        let x = (t * size as f32 - 0.5).clamp(0.0, (size - 1) as f32);
        let i = (x.floor() as usize).min(size.saturating_sub(2));
        (i, (i + 1).min(size - 1), x - i as f32)
    };
    let (x0, x1, fx) = axis(u, width);
    let (y0, y1, fy) = axis(v, height);
    let top = mix(texel(x0, y0), texel(x1, y0), fx);
    let bottom = mix(texel(x0, y1), texel(x1, y1), fx);
    Some(mix(top, bottom, fy))
}

/// The full-size level of a texture this module made, as an image of its own.
pub(crate) fn texture_pixels(image: &Image) -> Option<RgbaImage> {
    let (width, height) = (image.width(), image.height());
    let data = image.data.as_deref()?;
    let level = data.get(..(width * height * 4) as usize)?;
    RgbaImage::from_raw(width, height, level.to_vec())
}

/// Gives the images the spheres show, once they have arrived, the mip chain this module makes
/// (an image from the game's `AssetServer` comes with one level only), so that the points
/// sample their cells' mean colours. The chain is made on the `AsyncComputeTaskPool` (a 4096²
/// image's held a frame for 0.4-0.7 s) and put in place in a later frame; until then the
/// sphere shows the image's one level.
pub(crate) fn make_mips(
    mut events: MessageReader<AssetEvent<Image>>,
    changed: Query<&SphereImage, Changed<SphereImage>>,
    spheres: Query<&SphereImage>,
    mut images: ResMut<Assets<Image>>,
    mut pending: Local<Vec<(AssetId<Image>, Task<Image>)>>,
) {
    let arrived = events.read().filter_map(|event| match event {
        AssetEvent::LoadedWithDependencies { id }
        | AssetEvent::Added { id }
        | AssetEvent::Modified { id } => Some(*id),
        _ => None,
    });
    let candidates: HashSet<AssetId<Image>> = arrived
        .filter(|id| spheres.iter().any(|image| image.0.id() == *id))
        .chain(changed.iter().map(|image| image.0.id()))
        .collect();
    for id in candidates {
        let single = |image: &&Image| image.texture_descriptor.mip_level_count == 1;
        let Some(pixels) = images.get(id).filter(single).and_then(rgba8) else {
            continue;
        };
        // An image replaced while its chain was made starts again.
        pending.retain(|(waiting, _)| *waiting != id);
        let task = AsyncComputeTaskPool::get().spawn(async move { to_bevy(pixels) });
        pending.push((id, task));
    }
    pending.retain_mut(|(id, task)| {
        let Some(with_mips) = check_ready(task) else {
            return true;
        };
        if images.contains(*id) {
            let _ = images.insert(*id, with_mips);
        }
        false
    });
}

/// The pixels of a single-level 2D 8-bit sRGB RGBA image that the main world holds.
fn rgba8(image: &Image) -> Option<RgbaImage> {
    let descriptor = &image.texture_descriptor;
    let plain = descriptor.format == TextureFormat::Rgba8UnormSrgb
        && descriptor.dimension == TextureDimension::D2
        && descriptor.size.depth_or_array_layers == 1;
    plain.then(|| texture_pixels(image)).flatten()
}

/// A trilinear-filtered sRGB texture of `pixels` with its whole mip chain.
fn to_bevy(pixels: RgbaImage) -> Image {
    let size = Extent3d {
        width: pixels.width(),
        height: pixels.height(),
        depth_or_array_layers: 1,
    };
    let levels = mip_chain(&pixels);
    let mut image = Image::new(
        size,
        TextureDimension::D2,
        pixels.into_raw(),
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::RENDER_WORLD | RenderAssetUsages::MAIN_WORLD,
    );
    image.texture_descriptor.mip_level_count = 1 + levels.len() as u32;
    if let Some(data) = &mut image.data {
        levels
            .iter()
            .for_each(|level| data.extend_from_slice(level));
    }
    image.sampler = ImageSampler::linear();
    image
}

/// The levels below `pixels`, each half the size of the one above (rounded down, at least 1),
/// every pixel the mean of the 2×2 above it in linear light, so that a distant texture keeps
/// its brightness.
fn mip_chain(pixels: &RgbaImage) -> Vec<Vec<u8>> {
    let to_linear: Vec<f32> = (0..=255u8)
        .map(|c| Color::srgb_u8(c, 0, 0).to_linear().red)
        .collect();
    let (mut width, mut height) = pixels.dimensions();
    let mut above: Vec<[f32; 4]> = pixels
        .pixels()
        .map(|&image::Rgba([r, g, b, a])| {
            let [r, g, b] = [r, g, b].map(|c| to_linear[c as usize]);
            [r, g, b, a as f32 / 255.0]
        })
        .collect();
    let mut levels = Vec::new();
    while width > 1 || height > 1 {
        let (w, h) = ((width / 2).max(1), (height / 2).max(1));
        let at = |x: u32, y: u32| above[(y.min(height - 1) * width + x.min(width - 1)) as usize];
        let level: Vec<[f32; 4]> = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| {
                let quad = [(0, 0), (1, 0), (0, 1), (1, 1)].map(|(i, j)| at(2 * x + i, 2 * y + j));
                std::array::from_fn(|k| quad.iter().map(|p| p[k]).sum::<f32>() / 4.0)
            })
            .collect();
        levels.push(
            level
                .iter()
                .flat_map(|&[r, g, b, a]| {
                    let [r, g, b, _] = Color::linear_rgb(r, g, b).to_srgba().to_u8_array();
                    [r, g, b, (a * 255.0).round() as u8]
                })
                .collect(),
        );
        (above, width, height) = (level, w, h);
    }
    levels
}

/// The texture a sphere's points and surface are coloured from: a component beside
/// [`NeuralSphere`](crate::NeuralSphere). Any image handle works, one still loading from the
/// game's `AssetServer` included; the sphere shows it once it has arrived. A sphere spawned
/// without one gets the plugin's [`uv_test_grid`].
#[derive(Component, Debug, Clone, PartialEq)]
pub struct SphereImage(pub Handle<Image>);

/// The plugin's UV test grid, shared by the spheres spawned without a [`SphereImage`].
#[derive(Resource, Debug, Clone)]
pub(crate) struct DefaultImage(pub Handle<Image>);

impl FromWorld for DefaultImage {
    fn from_world(world: &mut World) -> Self {
        Self(world.resource_mut::<Assets<Image>>().add(uv_test_grid()))
    }
}
