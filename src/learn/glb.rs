//! Binary glTF 2.0 files of the learned surface, written with the `gltf` crate's types.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;

use gltf::json::{self, validation::Checked::Valid, validation::USize64};
use image::RgbaImage;

use super::surface::SphereSurface;
use crate::Error;

/// What colours the surface in a glTF file.
#[derive(Debug, Clone, Copy)]
pub enum SurfacePaint<'a> {
    /// An sRGB image, embedded as PNG and mapped by the surface's UVs.
    Texture(&'a RgbaImage),
    /// One sRGB colour per grid point, such as the notebook's
    /// [`notebook_colour`](crate::learn::notebook_colour); a vertex that copies a point on the seam
    /// takes that point's.
    VertexColours(&'a [[u8; 3]]),
}

/// Writes `surface` as a binary glTF 2.0 file (`.glb`): one mesh of indexed triangles with
/// positions, normals and texture coordinates, and a double-sided, fully rough material
/// coloured by `paint`. Blender, three.js and Bevy open it.
pub fn write_glb(path: &Path, surface: &SphereSurface, paint: SurfacePaint) -> Result<(), Error> {
    let glb = glb_bytes(surface, paint)
        .map_err(|reason| Error::Config(format!("cannot write {}: {reason}", path.display())))?;
    std::fs::write(path, glb).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The bytes of [`write_glb`]'s file, or why there are none.
pub(crate) fn glb_bytes(surface: &SphereSurface, paint: SurfacePaint) -> Result<Vec<u8>, String> {
    if surface.positions.iter().flatten().any(|x| !x.is_finite()) {
        return Err("the mapping is not finite".into());
    }
    build_glb(surface, paint)
}

/// The file's binary chunk and the JSON that describes it, built up together.
struct Builder {
    root: json::Root,
    bin: Vec<u8>,
}

impl Builder {
    /// Appends `bytes` as a buffer view, 4-byte aligned as accessors need.
    fn view(
        &mut self,
        bytes: &[u8],
        target: Option<json::buffer::Target>,
    ) -> json::Index<json::buffer::View> {
        let offset = self.bin.len();
        self.bin.extend_from_slice(bytes);
        self.bin.resize(self.bin.len().next_multiple_of(4), 0);
        self.root.push(json::buffer::View {
            buffer: json::Index::new(0),
            byte_length: USize64::from(bytes.len()),
            byte_offset: Some(USize64::from(offset)),
            byte_stride: None,
            name: None,
            target: target.map(Valid),
            extensions: None,
            extras: Default::default(),
        })
    }

    /// Appends floats as an accessor of `kind` (VEC2, VEC3: `N` floats an element).
    fn floats<const N: usize>(
        &mut self,
        values: &[[f32; N]],
        kind: json::accessor::Type,
        bounds: bool,
    ) -> json::Index<json::Accessor> {
        let bytes: Vec<u8> = values
            .iter()
            .flatten()
            .flat_map(|f| f.to_le_bytes())
            .collect();
        let view = self.view(&bytes, Some(json::buffer::Target::ArrayBuffer));
        let bound = |pick: fn(f32, f32) -> f32, start: f32| {
            let extreme = values.iter().fold([start; N], |acc, v| {
                std::array::from_fn(|k| pick(acc[k], v[k]))
            });
            json::Value::from(extreme.to_vec())
        };
        self.accessor(
            view,
            values.len(),
            json::accessor::ComponentType::F32,
            kind,
            bounds.then(|| {
                (
                    bound(f32::min, f32::INFINITY),
                    bound(f32::max, f32::NEG_INFINITY),
                )
            }),
        )
    }

    fn accessor(
        &mut self,
        view: json::Index<json::buffer::View>,
        count: usize,
        component: json::accessor::ComponentType,
        kind: json::accessor::Type,
        bounds: Option<(json::Value, json::Value)>,
    ) -> json::Index<json::Accessor> {
        let (min, max) = bounds.unzip();
        self.root.push(json::Accessor {
            buffer_view: Some(view),
            byte_offset: None,
            count: USize64::from(count),
            component_type: Valid(json::accessor::GenericComponentType(component)),
            type_: Valid(kind),
            min,
            max,
            name: None,
            normalized: false,
            sparse: None,
            extensions: None,
            extras: Default::default(),
        })
    }
}

fn build_glb(surface: &SphereSurface, paint: SurfacePaint) -> Result<Vec<u8>, String> {
    use json::accessor::{ComponentType, Type};
    use json::mesh::Semantic;

    let mut builder = Builder {
        root: json::Root {
            asset: json::Asset {
                generator: Some(format!("bevy_neural_sphere {}", env!("CARGO_PKG_VERSION"))),
                ..Default::default()
            },
            ..Default::default()
        },
        bin: Vec::new(),
    };
    let mut attributes = BTreeMap::new();
    let positions = builder.floats(&surface.positions, Type::Vec3, true);
    attributes.insert(Valid(Semantic::Positions), positions);
    let normals = builder.floats(&surface.normals, Type::Vec3, false);
    attributes.insert(Valid(Semantic::Normals), normals);
    let uvs = builder.floats(&surface.uvs, Type::Vec2, false);
    attributes.insert(Valid(Semantic::TexCoords(0)), uvs);

    let index_bytes: Vec<u8> = surface
        .indices
        .iter()
        .flat_map(|i| i.to_le_bytes())
        .collect();
    let index_view = builder.view(&index_bytes, Some(json::buffer::Target::ElementArrayBuffer));
    let indices = builder.accessor(
        index_view,
        surface.indices.len(),
        ComponentType::U32,
        Type::Scalar,
        None,
    );

    let mut pbr = json::material::PbrMetallicRoughness {
        metallic_factor: json::material::StrengthFactor(0.0),
        ..Default::default()
    };
    match paint {
        SurfacePaint::Texture(image) => {
            let mut png = Cursor::new(Vec::new());
            image
                .write_to(&mut png, image::ImageFormat::Png)
                .map_err(|e| format!("encoding the texture: {e}"))?;
            let view = builder.view(png.get_ref(), None);
            let source = builder.root.push(json::Image {
                buffer_view: Some(view),
                mime_type: Some(json::image::MimeType("image/png".into())),
                name: None,
                uri: None,
                extensions: None,
                extras: Default::default(),
            });
            let sampler = builder.root.push(json::texture::Sampler {
                mag_filter: Some(Valid(json::texture::MagFilter::Linear)),
                min_filter: Some(Valid(json::texture::MinFilter::LinearMipmapLinear)),
                ..Default::default()
            });
            let texture = builder.root.push(json::Texture {
                name: None,
                sampler: Some(sampler),
                source,
                extensions: None,
                extras: Default::default(),
            });
            pbr.base_color_texture = Some(json::texture::Info {
                index: texture,
                tex_coord: 0,
                extensions: None,
                extras: Default::default(),
            });
        }
        SurfacePaint::VertexColours(colours) => {
            let points = surface.grid * surface.grid;
            if colours.len() != points {
                return Err(format!(
                    "{} colours for {points} grid points",
                    colours.len()
                ));
            }
            // glTF vertex colours are linear.
            let linear: Vec<[f32; 3]> = (surface.points.iter())
                .map(|&p| colours[p].map(srgb_to_linear))
                .collect();
            let colours = builder.floats(&linear, Type::Vec3, false);
            attributes.insert(Valid(Semantic::Colors(0)), colours);
        }
    }
    let material = builder.root.push(json::Material {
        pbr_metallic_roughness: pbr,
        double_sided: true,
        name: Some("neural sphere".into()),
        ..Default::default()
    });
    let mesh = builder.root.push(json::Mesh {
        name: Some("neural sphere".into()),
        primitives: vec![json::mesh::Primitive {
            attributes,
            indices: Some(indices),
            material: Some(material),
            mode: Valid(json::mesh::Mode::Triangles),
            targets: None,
            extensions: None,
            extras: Default::default(),
        }],
        weights: None,
        extensions: None,
        extras: Default::default(),
    });
    let node = builder.root.push(json::Node {
        mesh: Some(mesh),
        name: Some("neural sphere".into()),
        ..Default::default()
    });
    let scene = builder.root.push(json::Scene {
        name: None,
        nodes: vec![node],
        extensions: None,
        extras: Default::default(),
    });
    builder.root.scene = Some(scene);
    builder.root.push(json::Buffer {
        byte_length: USize64::from(builder.bin.len()),
        name: None,
        uri: None,
        extensions: None,
        extras: Default::default(),
    });

    let json = builder.root.to_vec().map_err(|e| e.to_string())?;
    let glb = gltf::binary::Glb {
        header: gltf::binary::Header {
            magic: *b"glTF",
            version: 2,
            // `to_vec` works out the length and pads both chunks.
            length: 0,
        },
        json: Cow::Owned(json),
        bin: Some(Cow::Owned(builder.bin)),
    };
    glb.to_vec().map_err(|e| e.to_string())
}

fn srgb_to_linear(c: u8) -> f32 {
    let c = c as f32 / 255.0;
    match c <= 0.04045 {
        true => c / 12.92,
        false => ((c + 0.055) / 1.055).powf(2.4),
    }
}
