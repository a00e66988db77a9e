// What every kernel of the fused step shares. The network comes first, written by `layout.rs`:
// the widest layer MAXW (rounded up to 4), the rows R a workgroup takes, INPUTS (the values
// the first layer sees of a point), P parameters, ZW saved values per row, Z_OUT (where a row's
// output starts among them), PASSES, OBJECTIVE, AVERAGE and CLAMP, and the functions that run
// `forward_layer` and `backward_layer` over the layers with each layer's shape, offsets,
// activation and dropout as literals, so that the shader compiler folds them into the loops.
//
// H_TRAIN: 1 trains (dropout, pre-activations saved), 2 maps with dropout, 0 evaluates.
//
// Buffers, all f32:
// - head: the step's scalars (H_*, u32 ones as bit patterns), then its points, two per row;
// - state: the parameters, Adam's two moments and the running average, P each;
// - z: each row's pre-activations, layer after layer (ZW per row);
// - y: each row's output on the sphere;
// - obj: what the objective needs per row, then per point of the equal-area and shape terms;
// - partial: each workgroup's share of the gradient (P per workgroup).
//
// Every binding is read_write: the buffers are slices of cubecl's pooled wgpu buffers, and
// wgpu refuses one buffer bound both read-only and writable in one dispatch.

// Threads a workgroup of the forward and backward kernels: each computes blocks of 4 rows by
// 4 units, so that one load of a weight serves four rows. Each workgroup takes R rows.
const GROUP: u32 = 64u;

const H_SEED: u32 = 0u;
const H_STEP: u32 = 1u;
const H_ROWS: u32 = 2u;
const H_AREA_M: u32 = 3u;
const H_BATCH: u32 = 4u;
const H_LR: u32 = 5u;
const H_ADAM_CF: u32 = 6u;
const H_ADAM_EPS: u32 = 7u;
const H_AVG_KEEP: u32 = 8u;
const H_SLOT: u32 = 9u;
const H_TEMP: u32 = 10u;
const H_AREA_W: u32 = 11u;
const H_TRAIN: u32 = 12u;
const H_PARAM_BASE: u32 = 13u;
const H_ROWS_TOTAL: u32 = 14u;
const H_GROUPS: u32 = 15u;
const H_SHAPE_W: u32 = 16u;
const H_POINTS: u32 = 17u;

// Values a point of the equal-area term keeps in `obj`: the triple product and its gradient
// for f(p), f(p + u) and f(p + v), then the shape term and its three gradients.
const AREA_W: u32 = 20u;

fn hu(i: u32) -> u32 {
    return bitcast<u32>(head[i]);
}

// The first layer's input `i` at row `row`: the point `(u, v)`, then with INPUTS 10 the
// features of `InputEncoding::Cones` (`model.rs`): for each edge midpoint `−n/2` (n: (−1, 0),
// (1, 0), (0, −1), (0, 1)), with x along n and y along n turned a quarter, `(x² − y²)/r`,
// then for each `2xy/r`.
fn input(row: u32, i: u32) -> f32 {
    let p = vec2<f32>(head[H_POINTS + row * 2u], head[H_POINTS + row * 2u + 1u]);
    if (i < 2u) {
        return p[i];
    }
    let k = (i - 2u) % 4u;
    let s = select(1.0, -1.0, k % 2u == 0u);
    let n = select(vec2<f32>(0.0, s), vec2<f32>(s, 0.0), k < 2u);
    let x = 0.5 + dot(p, n);
    let y = dot(p, vec2<f32>(-n.y, n.x));
    let r = max(sqrt(x * x + y * y), 1e-6);
    return select(2.0 * x * y, x * x - y * y, i < 6u) / r;
}

fn finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

fn pcg(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

// Inverted dropout after hidden layer `layer`: 0 or 1/(1-p), from a hash of (seed, step,
// row, layer, unit), so the backward pass recomputes the forward pass's mask; the same as
// `dropout_factor` in `model.rs`.
// A unit is dropped when its hash is below `threshold`, else scaled by `keep`.
fn dropout(layer: u32, threshold: u32, keep: f32, row: u32, unit: u32) -> f32 {
    if (threshold == 0u || hu(H_TRAIN) == 0u) {
        return 1.0;
    }
    let h = pcg(pcg(pcg(pcg(pcg(hu(H_SEED)) ^ hu(H_STEP)) ^ row) ^ layer) ^ unit);
    return select(keep, 0.0, h < threshold);
}

// 0 identity, 1 ReLU, 2 SiLU, 3 tanh.
fn activate(kind: u32, x: f32) -> f32 {
    switch kind {
        case 1u: { return max(x, 0.0); }
        case 2u: { return x / (1.0 + exp(-x)); }
        case 3u: { return tanh(x); }
        default: { return x; }
    }
}

fn activate_grad(kind: u32, x: f32) -> f32 {
    switch kind {
        case 1u: { return select(0.0, 1.0, x > 0.0); }
        case 2u: {
            let s = 1.0 / (1.0 + exp(-x));
            return s * (1.0 + x * (1.0 - s));
        }
        case 3u: {
            let t = tanh(x);
            return 1.0 - t * t;
        }
        default: { return 1.0; }
    }
}

