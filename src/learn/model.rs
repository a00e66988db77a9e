//! The network: a small MLP from the plane to the unit sphere.
//!
//! [`SphereNetConfig::default()`] is the notebook's net, layer by layer:
//! `Linear(2,4) → Linear(4,12) → ReLU → Dropout(0.2) → Linear(12,6) → Dropout(0.2)
//! → Linear(6,3) → L2-normalise`. Other architectures only change the config, and so does what
//! the first layer sees of a point ([`InputEncoding`]).

use std::str::FromStr;

use burn::nn::Linear;
use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt, SeedableRng};

use crate::Error;

/// The non-linearity after a hidden layer.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Activation {
    /// No non-linearity (the notebook's first and third layers).
    Identity,
    /// `max(0, x)`.
    Relu,
    /// `x · sigmoid(x)`.
    Silu,
    /// `tanh(x)`.
    Tanh,
}

impl Activation {
    fn apply<B: Backend>(self, x: Tensor<B, 2>, silu: Silu<B>) -> Tensor<B, 2> {
        match self {
            Activation::Identity => x,
            Activation::Relu => burn::tensor::activation::relu(x),
            Activation::Silu => silu(x),
            Activation::Tanh => x.tanh(),
        }
    }
}

/// What the network's first layer sees of a point `(u, v)` of the square.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum InputEncoding {
    /// The point's coordinates `(u, v)` alone (the notebook's).
    Point,
    /// `(u, v)`, then for each midpoint of the square's four edges, in polar coordinates
    /// `(r, θ)` about it with θ from the inward normal, `r cos 2θ`, then `r sin 2θ`: 10 values.
    ///
    /// A map that closes the sphere folds each edge shut at its midpoint, so the half-disc
    /// about the midpoint has to open into a whole disc about its image: θ must double there,
    /// a kink (the octahedral map has the same four points, where its creases end). A smooth
    /// function of `(u, v)` cannot make it and shrinks the cells about the midpoints instead;
    /// these features have the kink built in, and are smooth everywhere else.
    Cones,
}

/// The inward normals of the square's edges at their midpoints `−n/2`, in the order
/// [`InputEncoding::Cones`] lists them; each one's tangent is the normal turned a quarter
/// anticlockwise. `input` in the fused step's `common.wgsl` follows the same order.
const CONE_NORMALS: [[f32; 2]; 4] = [[-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]];

impl InputEncoding {
    /// Every encoding, in the order menus list them.
    pub const ALL: [InputEncoding; 2] = [InputEncoding::Point, InputEncoding::Cones];

    /// The encoding's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            InputEncoding::Point => "point",
            InputEncoding::Cones => "cones",
        }
    }

    /// Values the first layer sees of each point.
    pub fn width(self) -> usize {
        match self {
            InputEncoding::Point => 2,
            InputEncoding::Cones => 2 + 2 * CONE_NORMALS.len(),
        }
    }

    /// The `[n, width]` values the first layer sees of `[n, 2]` points.
    pub fn encode<B: Backend>(self, points: Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            InputEncoding::Point => points,
            InputEncoding::Cones => {
                // One product gives each point's offset from every midpoint along its normal
                // (less the 1/2 the midpoint lies out) and along its tangent.
                let normals = CONE_NORMALS.iter().copied();
                let tangents = CONE_NORMALS.iter().map(|[x, y]| [-y, *x]);
                let columns: Vec<[f32; 2]> = normals.chain(tangents).collect();
                let frames = (0..2)
                    .flat_map(|i| columns.iter().map(move |c| c[i]))
                    .collect();
                let frames = Tensor::from_data(
                    TensorData::new(frames, [2, columns.len()]),
                    &points.device(),
                );
                let local = points.clone().matmul(frames);
                let cones = CONE_NORMALS.len();
                let x = local.clone().narrow(1, 0, cones) + 0.5;
                let y = local.narrow(1, cones, cones);
                let (xx, yy) = (x.clone().square(), y.clone().square());
                // r ≥ 10⁻⁶: at the midpoint itself both features are 0.
                let r = (xx.clone() + yy.clone()).sqrt().clamp_min(1e-6);
                let cos = (xx - yy) / r.clone();
                let sin = x * y * 2.0 / r;
                Tensor::cat(vec![points, cos, sin], 1)
            }
        }
    }
}

impl FromStr for InputEncoding {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|e| e.name() == s)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown input encoding '{s}' (expected point or cones)"
                ))
            })
    }
}

/// An implementation of SiLU: burn's, or the trainer's [`fused_silu`](super::fused::fused_silu).
pub(crate) type Silu<B> = fn(Tensor<B, 2>) -> Tensor<B, 2>;

/// Architecture of a [`SphereNet`]: hidden layers between the encoded point and the 3-D output.
///
/// `hidden`, `activations` and `dropout` have one entry per hidden layer; dropout is applied
/// after the activation, in training only.
#[derive(Config, Debug, PartialEq)]
pub struct SphereNetConfig {
    /// Width of each hidden layer.
    #[config(default = "vec![4, 12, 6]")]
    pub hidden: Vec<usize>,
    /// Activation after each hidden layer.
    #[config(default = "vec![Activation::Identity, Activation::Relu, Activation::Identity]")]
    pub activations: Vec<Activation>,
    /// Dropout probability after each hidden layer (0 for none).
    #[config(default = "vec![0.0, 0.2, 0.2]")]
    pub dropout: Vec<f64>,
    /// What the first layer sees of a point.
    #[config(default = "InputEncoding::Point")]
    pub encoding: InputEncoding,
}

impl Default for SphereNetConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl SphereNetConfig {
    /// Checks that the per-layer lists agree and every value is usable.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.hidden.len();
        if self.activations.len() != n || self.dropout.len() != n {
            return Err(format!(
                "the network config lists {n} hidden widths, {} activations and {} dropout rates; \
                 they must match",
                self.activations.len(),
                self.dropout.len()
            ));
        }
        if let Some(w) = self.hidden.iter().find(|&&w| w == 0) {
            return Err(format!("hidden layer width {w} is not positive"));
        }
        if let Some(p) = self.dropout.iter().find(|p| !(0.0..1.0).contains(*p)) {
            return Err(format!("dropout rate {p} is outside [0, 1)"));
        }
        Ok(())
    }

    /// Widths of every layer's input and output, from the encoded point to the 3-D output.
    pub fn layer_shapes(&self) -> Vec<[usize; 2]> {
        let widths: Vec<usize> = std::iter::once(self.encoding.width())
            .chain(self.hidden.iter().copied())
            .chain(std::iter::once(3))
            .collect();
        widths.windows(2).map(|w| [w[0], w[1]]).collect()
    }

    /// Builds the network with PyTorch's default initialisation (weights and biases uniform in
    /// ±1/√fan_in), drawing from `rng` so that one seed gives one network on every backend.
    pub fn init<B: Backend>(&self, rng: &mut impl Rng, device: &B::Device) -> SphereNet<B> {
        self.build(
            |[fan_in, _], n| {
                let bound = 1.0 / (fan_in as f32).sqrt();
                (0..n).map(|_| rng.random_range(-bound..bound)).collect()
            },
            device,
        )
    }

    /// Builds the network from [`SphereNet::parameters`]' layout: `values` has
    /// [`SphereNetConfig::parameter_count`] values.
    pub(crate) fn with_parameters<B: Backend>(
        &self,
        values: &[f32],
        device: &B::Device,
    ) -> SphereNet<B> {
        let mut rest = values;
        self.build(
            |_, n| {
                let (taken, left) = rest.split_at(n);
                rest = left;
                taken.to_vec()
            },
            device,
        )
    }

    /// Parameters of the network: weights and biases of every layer.
    pub fn parameter_count(&self) -> usize {
        (self.layer_shapes().iter())
            .map(|[fan_in, fan_out]| (fan_in + 1) * fan_out)
            .sum()
    }

    /// The network whose layers' weights, then biases, are the next values `take` gives for
    /// the layer's `[fan_in, fan_out]` shape.
    fn build<B: Backend>(
        &self,
        mut take: impl FnMut([usize; 2], usize) -> Vec<f32>,
        device: &B::Device,
    ) -> SphereNet<B> {
        let mut linears: Vec<Linear<B>> = self
            .layer_shapes()
            .into_iter()
            .map(|[fan_in, fan_out]| {
                // burn stores the weight as [fan_in, fan_out] (the transpose of PyTorch's).
                let weight = take([fan_in, fan_out], fan_in * fan_out);
                let weight = Tensor::from_data(TensorData::new(weight, [fan_in, fan_out]), device);
                let bias = take([fan_in, fan_out], fan_out);
                let bias = Tensor::from_data(TensorData::new(bias, [fan_out]), device);
                Linear {
                    weight: burn::module::Param::from_tensor(weight),
                    bias: Some(burn::module::Param::from_tensor(bias)),
                }
            })
            .collect();
        let output = linears.pop().expect("there is always an output layer");
        SphereNet {
            hidden: linears,
            output,
            activations: self.activations.clone(),
            dropout: self.dropout.clone(),
            encoding: self.encoding,
        }
    }
}

/// The network that maps points of the plane to unit vectors.
#[derive(Module, Debug)]
pub struct SphereNet<B: Backend> {
    hidden: Vec<Linear<B>>,
    output: Linear<B>,
    activations: Vec<Activation>,
    dropout: Vec<f64>,
    encoding: InputEncoding,
}

impl<B: Backend> SphereNet<B> {
    /// The architecture of this network.
    pub fn config(&self) -> SphereNetConfig {
        SphereNetConfig {
            hidden: self.hidden.iter().map(|l| l.weight.dims()[1]).collect(),
            activations: self.activations.clone(),
            dropout: self.dropout.clone(),
            encoding: self.encoding,
        }
    }

    /// Dropout probability of each hidden layer.
    pub fn dropout(&self) -> &[f64] {
        &self.dropout
    }

    /// Every parameter, layer by layer: the weight (`[fan_in, fan_out]`, row-major), then the
    /// bias. The fused GPU step keeps the network in this layout.
    pub fn parameters(&self) -> Vec<f32> {
        let values = |t: Tensor<B, 1>| t.into_data().into_vec::<f32>().expect("parameters are f32");
        (self.hidden.iter().chain([&self.output]))
            .flat_map(|linear| {
                let weight = values(linear.weight.val().reshape([-1]));
                let bias = (linear.bias.as_ref()).map_or_else(Vec::new, |b| values(b.val()));
                weight.into_iter().chain(bias)
            })
            .collect()
    }

    /// A copy of this network on another backend's device, through its record.
    pub fn to_backend<B2: Backend>(&self, device: &B2::Device) -> SphereNet<B2> {
        let recorder = NamedMpkBytesRecorder::<FullPrecisionSettings>::new();
        let bytes = Recorder::<B>::record(&recorder, self.clone().into_record(), ())
            .expect("a network's record serialises");
        let record = Recorder::<B2>::load(&recorder, bytes, device)
            .expect("a record just serialised deserialises");
        // The initial values are overwritten by the record.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
        self.config().init(&mut rng, device).load_record(record)
    }

    /// Maps `[n, 2]` points to `[n, 3]` unit vectors.
    ///
    /// `masks` switches dropout on: one `[n, width]` mask per hidden layer whose dropout rate is
    /// not zero, as [`dropout_mask`] makes them. `None` is evaluation mode.
    pub fn forward(&self, x: Tensor<B, 2>, masks: Option<&[Tensor<B, 2>]>) -> Tensor<B, 2> {
        self.forward_with(x, masks, burn::tensor::activation::silu)
    }

    /// [`SphereNet::forward`] with `silu` for SiLU.
    pub(crate) fn forward_with(
        &self,
        x: Tensor<B, 2>,
        masks: Option<&[Tensor<B, 2>]>,
        silu: Silu<B>,
    ) -> Tensor<B, 2> {
        let mut masks = masks.map(|m| m.iter());
        let mut x = self.encoding.encode(x);
        for ((linear, activation), &p) in
            self.hidden.iter().zip(&self.activations).zip(&self.dropout)
        {
            x = activation.apply(linear.forward(x), silu);
            if p > 0.0
                && let Some(mask) = masks.as_mut().and_then(Iterator::next)
            {
                x = x * mask.clone();
            }
        }
        l2_normalize(self.output.forward(x))
    }
}

/// Divides each row by its length (as PyTorch's `F.normalize`, eps 1e-12).
pub(crate) fn l2_normalize<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let norm = x.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}

/// The dropout factor of `unit` of hidden layer `layer` (from 0) at `row` of training step
/// `step` in a run seeded `seed`: 0 with probability `p`, else `1/(1-p)` (inverted dropout).
///
/// It is a hash of (seed, step, row, layer, unit), so every backend trains with the same
/// masks, and the fused GPU step recomputes them in its backward pass instead of storing them.
pub fn dropout_factor(
    seed: u64,
    step: usize,
    layer: usize,
    row: usize,
    unit: usize,
    p: f64,
) -> f32 {
    let threshold = dropout_threshold(p);
    let seed = (seed as u32) ^ ((seed >> 32) as u32);
    let h = [step, row, layer, unit]
        .into_iter()
        .fold(pcg(seed), |h, v| pcg(h ^ v as u32));
    match h < threshold {
        true => 0.0,
        false => (1.0 / (1.0 - p)) as f32,
    }
}

/// A unit is dropped at rate `p` when its hash falls below this.
pub(crate) fn dropout_threshold(p: f64) -> u32 {
    (p * 4_294_967_296.0) as u32
}

/// The PCG hash (Jarzynski and Olano, 2020); `pcg` in the fused step's WGSL is the same.
fn pcg(v: u32) -> u32 {
    let state = v.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// The dropout masks of training step `step` for `rows` rows: one `[rows, width]` mask of
/// [`dropout_factor`]s per hidden layer whose dropout rate is not zero.
pub(crate) fn step_masks<B: Backend>(
    config: &SphereNetConfig,
    seed: u64,
    step: usize,
    rows: usize,
    device: &B::Device,
) -> Vec<Tensor<B, 2>> {
    (config.hidden.iter().zip(&config.dropout).enumerate())
        .filter(|(_, (_, p))| **p > 0.0)
        .map(|(layer, (&width, &p))| {
            let values = (0..rows * width)
                .map(|i| dropout_factor(seed, step, layer, i / width, i % width, p))
                .collect();
            Tensor::from_data(TensorData::new(values, [rows, width]), device)
        })
        .collect()
}

/// A `[rows, width]` dropout mask drawn from `rng`: 0 with probability `p`, else `1/(1-p)`
/// (inverted dropout, as PyTorch's `F.dropout`).
pub fn dropout_mask<B: Backend>(
    rng: &mut impl Rng,
    [rows, width]: [usize; 2],
    p: f64,
    device: &B::Device,
) -> Tensor<B, 2> {
    let keep = (1.0 / (1.0 - p)) as f32;
    // Drop where a uniform u32 falls below p · 2³².
    let threshold = (p * 4_294_967_296.0) as u32;
    let values: Vec<f32> = (0..rows * width)
        .map(|_| {
            if rng.next_u32() < threshold {
                0.0
            } else {
                keep
            }
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [rows, width]), device)
}
