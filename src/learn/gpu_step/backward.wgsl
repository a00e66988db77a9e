// The loss and the backward pass. Every workgroup sums what the objective needs over all rows
// (pass totals, the equal-area sign and spread); the first writes the step's loss. Then each
// takes its R rows from the loss's gradient back through the normalisation and every layer,
// and writes its rows' share of every parameter's gradient to `partial`: WGSL has no float
// atomics, so the Adam kernel adds the shares up.

@group(0) @binding(0) var<storage, read_write> head: array<f32>;
@group(0) @binding(1) var<storage, read_write> state: array<f32>;
@group(0) @binding(2) var<storage, read_write> z: array<f32>;
@group(0) @binding(3) var<storage, read_write> obj: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;
@group(0) @binding(5) var<storage, read_write> losses: array<f32>;

const PI: f32 = 3.14159265358979;
// The finite-difference step of the equal-area term (the engine's AREA_STEP).
const AREA_STEP: f32 = 0.01;

// The sums every workgroup needs: each pass's, then the equal-area term's triple products.
const SUMS: u32 = PASSES + 1u;

var<workgroup> red: array<f32, GROUP * SUMS>;
var<workgroup> sums: array<f32, SUMS>;
var<workgroup> spread: array<f32, GROUP>;
// Two halves: the gradient at a layer's output, and the one at its input that it makes.
var<workgroup> grads: array<f32, 2u * R * MAXW>;
var<workgroup> inputs: array<f32, R * MAXW>;

// Adds up the SUMS values each thread put in `red` into `sums`, in one tree.
fn total_sums(t: u32) {
    workgroupBarrier();
    for (var s = GROUP / 2u; s > 0u; s >>= 1u) {
        if (t < s) {
            for (var v = 0u; v < SUMS; v++) {
                red[t * SUMS + v] += red[(t + s) * SUMS + v];
            }
        }
        workgroupBarrier();
    }
    if (t < SUMS) {
        sums[t] = red[t];
    }
    workgroupBarrier();
}

// Layer `l` of the workgroup's rows: its share of the gradient of its weights and bias, from
// the gradient at its output in the half `g` of `grads`; then, for a layer after another
// (`prev`), the gradient at the previous layer's output (through its activation and dropout)
// into the other half.
fn backward_layer(
    t: u32, first: u32, total_rows: u32, share: u32, g: u32,
    l: u32, fin: u32, fout: u32, w: u32, b: u32,
    prev: bool, pz: u32, pact: u32, pdrop_t: u32, pkeep: f32,
) {
    for (var k = t; k < R * fin; k += GROUP) {
        let r = k / fin;
        let i = k % fin;
        let row = min(first + r, total_rows - 1u);
        if (prev) {
            let x = z[row * ZW + pz + i];
            inputs[r * MAXW + i] = activate(pact, x) * dropout(l - 1u, pdrop_t, pkeep, row, i);
        } else {
            inputs[r * MAXW + i] = input(row, i);
        }
    }
    workgroupBarrier();
    let outs = (fout + 3u) / 4u;
    let ins = (fin + 3u) / 4u;
    for (var k = t; k < ins * outs; k += GROUP) {
        let i0 = (k / outs) * 4u;
        let o0 = (k % outs) * 4u;
        var acc = array<vec4<f32>, 4>();
        for (var r = 0u; r < R; r++) {
            let g = vec4<f32>(
                grads[g + r * MAXW + o0],
                grads[g + r * MAXW + o0 + 1u],
                grads[g + r * MAXW + o0 + 2u],
                grads[g + r * MAXW + o0 + 3u],
            );
            for (var q = 0u; q < 4u; q++) {
                acc[q] += inputs[r * MAXW + i0 + q] * g;
            }
        }
        for (var q = 0u; q < 4u; q++) {
            for (var u = 0u; u < 4u; u++) {
                if (i0 + q < fin && o0 + u < fout) {
                    partial[share + w + (i0 + q) * fout + o0 + u] = acc[q][u];
                }
            }
        }
    }
    for (var o = t; o < fout; o += GROUP) {
        var s = 0.0;
        for (var r = 0u; r < R; r++) {
            s += grads[g + r * MAXW + o];
        }
        partial[share + b + o] = s;
    }
    if (prev) {
        for (var k = t; k < (R / 4u) * ins; k += GROUP) {
            let r0 = (k / ins) * 4u;
            let i0 = (k % ins) * 4u;
            var acc = array<vec4<f32>, 4>();
            for (var o = 0u; o < fout; o++) {
                let at = w + i0 * fout + o;
                let weights = vec4<f32>(
                    state[at],
                    state[at + fout],
                    state[at + 2u * fout],
                    state[at + 3u * fout],
                );
                for (var q = 0u; q < 4u; q++) {
                    acc[q] += grads[g + (r0 + q) * MAXW + o] * weights;
                }
            }
            for (var q = 0u; q < 4u; q++) {
                let row = min(first + r0 + q, total_rows - 1u);
                for (var u = 0u; u < 4u; u++) {
                    let i = i0 + u;
                    if (i < fin) {
                        let x = z[row * ZW + pz + i];
                        grads[R * MAXW - g + (r0 + q) * MAXW + i] = acc[q][u] * activate_grad(pact, x)
                            * dropout(l - 1u, pdrop_t, pkeep, row, i);
                    }
                }
            }
        }
    }
    workgroupBarrier();
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let rows = hu(H_ROWS);
    let batch = hu(H_BATCH);
    let m = hu(H_AREA_M);
    let total_rows = hu(H_ROWS_TOTAL);

    for (var p = 0u; p < PASSES; p++) {
        var acc = 0.0;
        for (var j = t; j < batch; j += GROUP) {
            acc += obj[(p * batch + j) * 4u + 3u];
        }
        red[t * SUMS + p] = acc;
    }
    var acc = 0.0;
    for (var k = t; k < m; k += GROUP) {
        acc += obj[rows * 4u + k * AREA_W];
    }
    red[t * SUMS + PASSES] = acc;
    total_sums(t);
    // Which way is outwards is whichever way most of the area faces.
    let scale = sign(sums[PASSES]) / (4.0 * PI * AREA_STEP * AREA_STEP);

    if (wg.x == 0u) {
        acc = 0.0;
        for (var k = t; k < m; k += GROUP) {
            let o = rows * 4u + k * AREA_W;
            let r = obj[o] * scale - 1.0;
            acc += head[H_AREA_W] * r * r + head[H_SHAPE_W] * obj[o + 10u];
        }
        spread[t] = acc;
        workgroupBarrier();
        for (var s = GROUP / 2u; s > 0u; s >>= 1u) {
            if (t < s) {
                spread[t] += spread[t + s];
            }
            workgroupBarrier();
        }
    }
    if (wg.x == 0u && t == 0u) {
        var loss = 0.0;
        for (var p = 0u; p < PASSES; p++) {
            if (OBJECTIVE == 1u) {
                let n = f32(batch);
                loss += log(sums[p] / (n * (n - 1.0)));
            } else {
                loss += sums[p] * sums[p];
            }
        }
        if (m > 0u) {
            loss += spread[0] / f32(m);
        }
        losses[hu(H_SLOT)] = loss;
    }
    workgroupBarrier();

    // ∂loss/∂output of each row, then through the normalisation.
    let first = wg.x * R;
    for (var q = t; q < R; q += GROUP) {
        let row = first + q;
        var g = vec3<f32>(0.0);
        if (row < total_rows) {
            if (row < rows) {
                let o = row * 4u;
                let d = vec3<f32>(obj[o], obj[o + 1u], obj[o + 2u]);
                let s = sums[row / batch];
                if (OBJECTIVE == 1u) {
                    g = (4.0 * head[H_TEMP] / s) * d;
                } else {
                    g = 2.0 * s * d;
                }
            }
            if (m > 0u) {
                var k = 0u;
                var part = 0u;
                if (row < m) {
                    k = row;
                    part = 1u;
                } else if (row >= rows && row < rows + m) {
                    k = row - rows;
                    part = 4u;
                } else if (row >= rows + m) {
                    k = row - rows - m;
                    part = 7u;
                }
                if (part > 0u) {
                    let o = rows * 4u + k * AREA_W;
                    let r = obj[o] * scale - 1.0;
                    let ds = head[H_AREA_W] * 2.0 * r / f32(m) * scale;
                    g += ds * vec3<f32>(obj[o + part], obj[o + part + 1u], obj[o + part + 2u]);
                    let shape = head[H_SHAPE_W] / f32(m);
                    let so = o + part + 10u;
                    g += shape * vec3<f32>(obj[so], obj[so + 1u], obj[so + 2u]);
                }
            }
            let zo = row * ZW + Z_OUT;
            let raw = vec3<f32>(z[zo], z[zo + 1u], z[zo + 2u]);
            let n = length(raw);
            if (n > 1e-12) {
                let v = raw / n;
                g = (g - v * dot(v, g)) / n;
            } else {
                g = g / 1e-12;
            }
        }
        grads[q * MAXW] = g.x;
        grads[q * MAXW + 1u] = g.y;
        grads[q * MAXW + 2u] = g.z;
    }
    workgroupBarrier();

    each_layer_backward(t, first, total_rows, wg.x * P);
}
