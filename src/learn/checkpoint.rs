//! Saving and loading trained networks.
//!
//! A checkpoint is one MessagePack file (burn's named MessagePack record, full precision) that
//! holds the weights, the [`TrainConfig`] they were trained with and the number of steps.

use std::fmt;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Record, Recorder, RecorderError};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::backend::HostBackend;
use super::config::TrainConfig;
use super::model::{SphereNet, SphereNetRecord};
use crate::Error;

/// The file extension checkpoints are written with.
pub const CHECKPOINT_EXTENSION: &str = "mpk";

#[derive(Record)]
struct CheckpointRecord<B: Backend> {
    config: String,
    steps: usize,
    model: SphereNetRecord<B>,
}

/// A trained network with what it was trained with.
#[derive(Debug)]
pub struct Checkpoint {
    /// The hyper-parameters of the run.
    pub config: TrainConfig,
    /// Steps the network was trained for.
    pub steps: usize,
    /// The network, on the CPU; [`Trainer::resume`](crate::learn::Trainer::resume) moves it to the
    /// device that trains it, and [`eval`](crate::learn::eval) maps points through it.
    pub model: SphereNet<HostBackend>,
}

fn recorder() -> NamedMpkBytesRecorder<FullPrecisionSettings> {
    NamedMpkBytesRecorder::new()
}

impl Checkpoint {
    /// Writes the checkpoint to `path` (its extension becomes `.mpk`) and returns the path
    /// written.
    pub fn save(self, path: &Path) -> Result<PathBuf, Error> {
        let path = path.with_extension(CHECKPOINT_EXTENSION);
        let fail = |reason: String| Error::Checkpoint {
            path: path.clone(),
            reason,
        };
        let bytes = self.to_bytes().map_err(fail)?;
        std::fs::write(&path, bytes).map_err(|e| fail(e.to_string()))?;
        Ok(path)
    }

    /// The bytes of the checkpoint's file.
    pub(crate) fn to_bytes(self) -> Result<Vec<u8>, String> {
        let record = CheckpointRecord::<HostBackend> {
            config: burn::config::config_to_json(&self.config),
            steps: self.steps,
            model: self.model.into_record(),
        };
        Recorder::<HostBackend>::record(&recorder(), record, ()).map_err(|e| e.to_string())
    }

    /// Reads a checkpoint written by [`Checkpoint::save`].
    ///
    /// A missing, corrupt or inconsistent file is an error; nothing panics.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let fail = |reason: String| Error::Checkpoint {
            path: path.to_path_buf(),
            reason,
        };
        if !path.is_file() {
            return Err(fail("no such file".into()));
        }
        let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        Self::from_bytes(path, bytes)
    }

    /// Reads a checkpoint from the contents of its file (a file a web page was handed, or one
    /// compiled into a game); `name` names it in errors. Corrupt or inconsistent contents are
    /// an error; nothing panics.
    pub fn from_bytes(name: &Path, bytes: Vec<u8>) -> Result<Self, Error> {
        let device = Default::default();
        let fail = |reason: String| Error::Checkpoint {
            path: name.to_path_buf(),
            reason,
        };
        let not_ours = |why: &str| fail(format!("not a checkpoint of this crate ({why})"));
        rmp_serde::from_slice::<RecordCheck>(&bytes).map_err(|e| not_ours(&one_line(e)))?;
        let record: CheckpointRecord<HostBackend> =
            Recorder::<HostBackend>::load(&recorder(), bytes, &device)
                .map_err(|e| not_ours(&recorder_reason(e)))?;
        let config = read_config(&record.config)
            .map_err(|e| fail(format!("unreadable training config ({e})")))?;
        config.validate().map_err(|e| fail(e.to_string()))?;

        let expected = config.model.layer_shapes();
        let found: Vec<[usize; 2]> = (record.model.hidden.iter())
            .chain(std::iter::once(&record.model.output))
            .map(|linear| linear.weight.dims())
            .collect();
        if expected != found {
            return Err(fail(format!(
                "its weights have layer shapes {found:?}, its config says {expected:?}"
            )));
        }
        check_values(&record.model, config.clamp).map_err(fail)?;
        // The initial values are overwritten by the record.
        let mut rng = <rand::rngs::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(0);
        let model = config
            .model
            .init(&mut rng, &device)
            .load_record(record.model);
        Ok(Self {
            config,
            steps: record.steps,
            model,
        })
    }
}

/// The training config a checkpoint holds, as JSON. Settings added to [`TrainConfig`] since the
/// checkpoint was written take their defaults, which are what the crate did before they existed
/// (no equal-area or shape term, no average, the point alone as the network's input).
fn read_config(json: &str) -> Result<TrainConfig, serde_json::Error> {
    let mut config: serde_json::Value = serde_json::from_str(json)?;
    let defaults = serde_json::to_value(TrainConfig::new())?;
    fill_missing(&mut config, &defaults);
    serde_json::from_value(config)
}

/// Adds to `value` the fields of `defaults` it lacks, in nested objects too.
fn fill_missing(value: &mut serde_json::Value, defaults: &serde_json::Value) {
    use serde_json::Value::Object;
    if let (Object(fields), Object(default_fields)) = (value, defaults) {
        for (name, default) in default_fields {
            match fields.get_mut(name) {
                Some(field) => fill_missing(field, default),
                None => {
                    fields.insert(name.clone(), default.clone());
                }
            }
        }
    }
}

/// What a recorder error says, on one line: burn adds paragraphs about old record formats.
fn recorder_reason(error: RecorderError) -> String {
    let (RecorderError::FileNotFound(said)
    | RecorderError::DeserializeError(said)
    | RecorderError::Unknown(said)) = error;
    one_line(said)
}

fn one_line(said: impl fmt::Display) -> String {
    said.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A walk over a checkpoint file that checks what burn would panic or abort on while reading
/// it (found by the `checkpoint` fuzz target): parameter ids it cannot decode, and tensors
/// whose data do not hold as many `f32`s as their shape says, written as a map (as this crate
/// writes them) or as an array of bytes, shape and dtype (which burn reads too, with a dtype
/// given by its index).
struct RecordCheck(Walked);

/// What the walk keeps of a value: only what a tensor check needs of its parent.
enum Walked {
    /// A byte string of this many bytes.
    Bytes(u64),
    /// An array of unsigned integers.
    Ints(Vec<u64>),
    /// An unsigned integer.
    Int(u64),
    /// A string.
    Str(String),
    /// Anything else.
    Other,
}

impl<'de> Deserialize<'de> for RecordCheck {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RecordCheckVisitor)
    }
}

/// Refuses tensor data whose dtype is not `F32` or whose byte count is not 4 per value.
fn check_tensor<E: de::Error>(bytes: Option<u64>, shape: &[u64], dtype: &str) -> Result<(), E> {
    let values = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d));
    if dtype != "F32" || values.and_then(|n| n.checked_mul(4)) != bytes {
        return Err(E::custom(
            "a tensor whose data do not hold the f32s its shape says",
        ));
    }
    Ok(())
}

struct RecordCheckVisitor;

impl<'de> Visitor<'de> for RecordCheckVisitor {
    type Value = RecordCheck;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a checkpoint record")
    }

    fn visit_bool<E>(self, _: bool) -> Result<RecordCheck, E> {
        Ok(RecordCheck(Walked::Other))
    }

    fn visit_i64<E>(self, v: i64) -> Result<RecordCheck, E> {
        Ok(RecordCheck(
            u64::try_from(v).map_or(Walked::Other, Walked::Int),
        ))
    }

    fn visit_u64<E>(self, v: u64) -> Result<RecordCheck, E> {
        Ok(RecordCheck(Walked::Int(v)))
    }

    fn visit_f64<E>(self, _: f64) -> Result<RecordCheck, E> {
        Ok(RecordCheck(Walked::Other))
    }

    fn visit_str<E>(self, v: &str) -> Result<RecordCheck, E> {
        Ok(RecordCheck(Walked::Str(v.to_string())))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<RecordCheck, E> {
        Ok(RecordCheck(Walked::Bytes(v.len() as u64)))
    }

    fn visit_unit<E>(self) -> Result<RecordCheck, E> {
        Ok(RecordCheck(Walked::Other))
    }

    fn visit_none<E>(self) -> Result<RecordCheck, E> {
        Ok(RecordCheck(Walked::Other))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<RecordCheck, D::Error> {
        RecordCheck::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RecordCheck, A::Error> {
        let mut items = Vec::new();
        while let Some(RecordCheck(item)) = seq.next_element::<RecordCheck>()? {
            items.push(item);
        }
        // Tensor data as an array: bytes (as a byte string, an array or a string, which burn
        // all reads), shape, dtype (which must be the string `F32`).
        if let [data, Walked::Ints(shape), dtype] = items.as_slice() {
            let bytes = match data {
                Walked::Bytes(n) => Some(*n),
                Walked::Ints(values) => Some(values.len() as u64),
                Walked::Str(text) => Some(text.len() as u64),
                Walked::Int(_) | Walked::Other => None,
            };
            let dtype = match dtype {
                Walked::Str(dtype) => dtype.as_str(),
                _ => "",
            };
            if bytes.is_some() {
                check_tensor(bytes, shape, dtype)?;
            }
        }
        let ints: Option<Vec<u64>> = (items.iter())
            .map(|item| match item {
                Walked::Int(v) => Some(*v),
                _ => None,
            })
            .collect();
        Ok(RecordCheck(ints.map_or(Walked::Other, Walked::Ints)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RecordCheck, A::Error> {
        // A tensor's data is a map of `bytes`, `shape` and `dtype`.
        let (mut bytes, mut shape, mut dtype) = (None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "id" => {
                    let id = map.next_value::<String>()?;
                    // What burn's `ParamId::serialize` writes: eight bytes in DNSSEC base32.
                    let decoded = data_encoding::BASE32_DNSSEC.decode(id.as_bytes());
                    if !decoded.is_ok_and(|bytes| bytes.len() <= 8) {
                        return Err(de::Error::custom(format!("a parameter id of {id:?}")));
                    }
                }
                "bytes" => bytes = Some(map.next_value::<ByteCount>()?.0),
                "shape" => shape = Some(map.next_value::<Vec<u64>>()?),
                "dtype" => dtype = Some(map.next_value::<String>()?),
                _ => {
                    map.next_value::<RecordCheck>()?;
                }
            }
        }
        if let Some(dtype) = dtype {
            check_tensor(bytes, &shape.unwrap_or_default(), &dtype)?;
        }
        Ok(RecordCheck(Walked::Other))
    }
}

/// How many bytes a byte string holds.
struct ByteCount(u64);

impl<'de> Deserialize<'de> for ByteCount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_bytes(ByteCountVisitor)
    }
}

struct ByteCountVisitor;

impl<'de> Visitor<'de> for ByteCountVisitor {
    type Value = ByteCount;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("bytes")
    }

    fn visit_bytes<E>(self, bytes: &[u8]) -> Result<ByteCount, E> {
        Ok(ByteCount(bytes.len() as u64))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ByteCount, A::Error> {
        let mut count = 0;
        while seq.next_element::<u8>()?.is_some() {
            count += 1;
        }
        Ok(ByteCount(count))
    }
}

/// Refuses weights and biases that are not finite or lie outside the clamp the run applied
/// after every step: no run of this crate writes them, and a network with them maps nothing.
fn check_values<B: Backend>(model: &SphereNetRecord<B>, clamp: f32) -> Result<(), String> {
    let layers = model.hidden.iter().chain(std::iter::once(&model.output));
    for (layer, linear) in (1..).zip(layers) {
        let weights = Some(("weights", linear.weight.val().into_data()));
        let biases = (linear.bias.as_ref()).map(|b| ("biases", b.val().into_data()));
        for (what, values) in weights.into_iter().chain(biases) {
            if let Some(v) = values.iter::<f32>().find(|v| !v.is_finite()) {
                return Err(format!(
                    "layer {layer} has {what} that are not finite ({v})"
                ));
            }
            if let Some(v) = values.iter::<f32>().find(|v| v.abs() > clamp) {
                return Err(format!(
                    "layer {layer} has {what} of {v}, outside the clamp of ±{clamp} it was \
                     trained with"
                ));
            }
        }
    }
    Ok(())
}
