// The forward pass: R rows a workgroup, each layer's inputs in workgroup memory. Training
// saves every pre-activation for the backward pass; evaluation (H_TRAIN 0) has no dropout and
// puts rows that are not finite at the origin.

@group(0) @binding(0) var<storage, read_write> head: array<f32>;
@group(0) @binding(1) var<storage, read_write> state: array<f32>;
@group(0) @binding(2) var<storage, read_write> z: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

var<workgroup> tile: array<f32, 2u * R * MAXW>;

// Four consecutive values of `state` from `at`.
fn four(at: u32) -> vec4<f32> {
    return vec4<f32>(state[at], state[at + 1u], state[at + 2u], state[at + 3u]);
}

// Layer `l` (fan_in `fin`, fan_out `fout`) of the workgroup's rows, from the tile half `src`
// to the other half. Loads past the layer's last unit read other values of `state`, whose
// results are never stored.
fn forward_layer(
    t: u32, first: u32, rows: u32, train: bool, base: u32, src: u32,
    l: u32, fin: u32, fout: u32, w: u32, b: u32, zo: u32, act: u32, drop_t: u32, keep: f32,
) {
    let dst = R * MAXW - src;
    let blocks = (fout + 3u) / 4u;
    for (var k = t; k < (R / 4u) * blocks; k += GROUP) {
        let r0 = (k / blocks) * 4u;
        let o0 = (k % blocks) * 4u;
        let bias = four(base + b + o0);
        var acc = array<vec4<f32>, 4>(bias, bias, bias, bias);
        for (var i = 0u; i < fin; i++) {
            let weights = four(base + w + i * fout + o0);
            for (var q = 0u; q < 4u; q++) {
                acc[q] += tile[src + (r0 + q) * MAXW + i] * weights;
            }
        }
        for (var q = 0u; q < 4u; q++) {
            let row = first + r0 + q;
            for (var u = 0u; u < 4u; u++) {
                let o = o0 + u;
                if (o < fout) {
                    let s = acc[q][u];
                    if (train && row < rows) {
                        z[row * ZW + zo + o] = s;
                    }
                    tile[dst + (r0 + q) * MAXW + o] =
                        activate(act, s) * dropout(l, drop_t, keep, row, o);
                }
            }
        }
    }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let rows = hu(H_ROWS_TOTAL);
    let train = hu(H_TRAIN) == 1u;
    let base = hu(H_PARAM_BASE);
    let first = wg.x * R;
    for (var k = t; k < INPUTS * R; k += GROUP) {
        let row = min(first + k / INPUTS, rows - 1u);
        tile[(k / INPUTS) * MAXW + k % INPUTS] = input(row, k % INPUTS);
    }
    workgroupBarrier();
    let out = each_layer_forward(t, first, rows, train, base);
    for (var q = t; q < R && first + q < rows; q += GROUP) {
        let row = first + q;
        let at = out + q * MAXW;
        let o = vec3<f32>(tile[at], tile[at + 1u], tile[at + 2u]);
        var v = o / max(length(o), 1e-12);
        if (!train && !(finite(v.x) && finite(v.y) && finite(v.z))) {
            v = vec3<f32>(0.0);
        }
        y[row * 3u] = v.x;
        y[row * 3u + 1u] = v.y;
        y[row * 3u + 2u] = v.z;
    }
}
