//! Where the fused step keeps a network: every parameter in one flat buffer, in
//! [`SphereNet::parameters`](crate::SphereNet)' order, and the constants its kernels are
//! compiled with.

use std::fmt::Write;

use crate::learn::config::TrainConfig;
use crate::learn::model::{Activation, SphereNetConfig, dropout_threshold};
use crate::learn::objective::Objective;

/// The widest layer the kernels take: the backward kernel's three tiles of 16 rows of it fit
/// WebGPU's default 16 KiB of workgroup memory.
const MAX_WIDTH: usize = 64;

/// The most dropout passes a step takes.
const MAX_PASSES: usize = 8;

/// Workgroup memory the kernels may use, in f32s: WebGPU's default limit, 16 KiB.
const WORKGROUP_FLOATS: usize = 4096;

/// Threads a workgroup of the forward and backward kernels (`GROUP` there).
pub(crate) const LAYER_GROUP: usize = 64;

/// Per layer: the weight's and the bias's offsets among the parameters, and the offset of the
/// layer's pre-activations among a row's saved values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layout {
    model: SphereNetConfig,
    shapes: Vec<[usize; 2]>,
    /// The widest layer, rounded up to a multiple of 4 (`MAXW` in the kernels).
    width: usize,
    /// Rows of the batch a workgroup of the forward and backward kernels takes (`R`).
    pub rows_per_group: usize,
    weights: Vec<usize>,
    biases: Vec<usize>,
    saved: Vec<usize>,
    /// Parameters in all.
    pub parameters: usize,
    /// Values saved per row by the forward pass.
    pub saved_per_row: usize,
}

impl Layout {
    /// The layout of `config`'s network, or why the fused step cannot train it.
    pub(crate) fn new(config: &TrainConfig) -> Result<Self, String> {
        let model = &config.model;
        if let Some(w) = model.hidden.iter().find(|&&w| w > MAX_WIDTH) {
            return Err(format!(
                "a hidden layer {w} wide is wider than the fused step's {MAX_WIDTH}"
            ));
        }
        if config.passes > MAX_PASSES {
            return Err(format!(
                "{} dropout passes are more than the fused step's {MAX_PASSES}",
                config.passes
            ));
        }
        let shapes = model.layer_shapes();
        let (mut weights, mut biases, mut saved) = (vec![], vec![], vec![]);
        let (mut parameters, mut saved_per_row) = (0, 0);
        for &[fan_in, fan_out] in &shapes {
            weights.push(parameters);
            biases.push(parameters + fan_in * fan_out);
            parameters += (fan_in + 1) * fan_out;
            saved.push(saved_per_row);
            saved_per_row += fan_out;
        }
        let width = (model.hidden.iter().copied())
            .chain([3, model.encoding.width()])
            .max()
            .expect("the output is 3 wide")
            .next_multiple_of(4);
        // The backward kernel's tiles (3 × rows × width) and its sums, within the limit.
        let sums = LAYER_GROUP * (config.passes + 2) + config.passes + 1;
        let rows_per_group = [64, 32, 16]
            .into_iter()
            .find(|rows| 3 * rows * width + sums <= WORKGROUP_FLOATS)
            .expect("16 rows of 64 units fit");
        Ok(Self {
            model: model.clone(),
            width,
            rows_per_group,
            shapes,
            weights,
            biases,
            saved,
            parameters,
            saved_per_row,
        })
    }

    /// The WGSL constants the kernels of `config`'s step are compiled with.
    pub(crate) fn constants(&self, config: &TrainConfig) -> String {
        let objective = match config.objective {
            Objective::Seed => 0,
            Objective::Uniformity => 1,
        };
        let out = self.saved.last().expect("there is always an output layer");
        format!(
            "const MAXW: u32 = {}u;\n\
             const R: u32 = {}u;\n\
             const INPUTS: u32 = {}u;\n\
             const P: u32 = {}u;\n\
             const ZW: u32 = {}u;\n\
             const Z_OUT: u32 = {out}u;\n\
             const PASSES: u32 = {}u;\n\
             const OBJECTIVE: u32 = {objective}u;\n\
             const AVERAGE: bool = {};\n\
             const CLAMP: f32 = {:?};\n",
            self.width,
            self.rows_per_group,
            self.model.encoding.width(),
            self.parameters,
            self.saved_per_row,
            config.passes,
            config.average > 0.0,
            config.clamp,
        )
    }

    /// `each_layer_forward` of `forward.wgsl`: every layer in order, its values as literals.
    /// Returns where in the tile the output ends up.
    pub(crate) fn forward_layers(&self) -> String {
        let mut s = String::from(
            "fn each_layer_forward(t: u32, first: u32, rows: u32, train: bool, base: u32) -> u32 {\n",
        );
        for (l, layer) in self.layers().iter().enumerate() {
            let src = (l % 2) * self.rows_per_group * self.width;
            let _ = writeln!(
                s,
                "    forward_layer(t, first, rows, train, base, {src}u, {l}u, {});\n    \
                 workgroupBarrier();",
                layer.literals(),
            );
        }
        let out = (self.shapes.len() % 2) * self.rows_per_group * self.width;
        let _ = writeln!(s, "    return {out}u;\n}}");
        s
    }

    /// `each_layer_backward` of `backward.wgsl`: every layer from the last, its values and
    /// the previous layer's as literals.
    pub(crate) fn backward_layers(&self) -> String {
        let mut s = String::from(
            "fn each_layer_backward(t: u32, first: u32, total_rows: u32, share: u32) {\n",
        );
        let layers = self.layers();
        for (q, l) in (0..layers.len()).rev().enumerate() {
            let g = (q % 2) * self.rows_per_group * self.width;
            let [fin, fout] = self.shapes[l];
            let (w, b) = (self.weights[l], self.biases[l]);
            let prev = match l.checked_sub(1).map(|p| &layers[p]) {
                Some(p) => format!(
                    "true, {}u, {}u, {}u, {:?}",
                    p.saved, p.act, p.drop_t, p.keep
                ),
                None => "false, 0u, 0u, 0u, 1.0".into(),
            };
            let _ = writeln!(
                s,
                "    backward_layer(t, first, total_rows, share, {g}u, {l}u, {fin}u, {fout}u, \
                 {w}u, {b}u, {prev});"
            );
        }
        s.push_str("}\n");
        s
    }

    fn layers(&self) -> Vec<LayerLiterals> {
        let model = &self.model;
        // The output layer has no activation and no dropout.
        let activations = (model.activations.iter())
            .copied()
            .chain([Activation::Identity]);
        let dropout = model.dropout.iter().copied().chain([0.0]);
        (self.shapes.iter().zip(activations).zip(dropout).enumerate())
            .map(|(l, ((&[fin, fout], act), p))| LayerLiterals {
                fin,
                fout,
                w: self.weights[l],
                b: self.biases[l],
                saved: self.saved[l],
                act: match act {
                    Activation::Identity => 0,
                    Activation::Relu => 1,
                    Activation::Silu => 2,
                    Activation::Tanh => 3,
                },
                drop_t: dropout_threshold(p),
                keep: (1.0 / (1.0 - p)) as f32,
            })
            .collect()
    }
}

/// One layer's values as the kernels take them.
struct LayerLiterals {
    fin: usize,
    fout: usize,
    w: usize,
    b: usize,
    saved: usize,
    act: u32,
    drop_t: u32,
    keep: f32,
}

impl LayerLiterals {
    /// `fin, fout, w, b, zo, act, drop_t, keep` of `forward_layer`.
    fn literals(&self) -> String {
        format!(
            "{}u, {}u, {}u, {}u, {}u, {}u, {}u, {:?}",
            self.fin, self.fout, self.w, self.b, self.saved, self.act, self.drop_t, self.keep
        )
    }
}

/// The seed as the kernels take it.
pub(crate) fn seed_bits(seed: u64) -> u32 {
    (seed as u32) ^ ((seed >> 32) as u32)
}
