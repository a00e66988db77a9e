// What the loss needs of each row, one thread a row, then one a point of the equal-area term.
// Uniformity (OBJECTIVE 1): g = Σ_{j≠i} w_ij v_j and s = Σ_{j≠i} w_ij over the row's pass,
// w_ij = exp(2t(v_i·v_j − 1)). The notebook's loss (OBJECTIVE 0): a pair's cosine c and its
// gradient for each side. Equal area: the triple product s = f(p)·(du × dv) and its gradient
// for f(p), f(p + u) and f(p + v); then the shape term and its gradient for the same three.

@group(0) @binding(0) var<storage, read_write> head: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> obj: array<f32>;

// Where the shape term stops growing (`SHAPE_KEPT_MIN` in objective.rs).
const SHAPE_KEPT_MIN: f32 = 1e-4;

fn output(row: u32) -> vec3<f32> {
    return vec3<f32>(y[row * 3u], y[row * 3u + 1u], y[row * 3u + 2u]);
}

fn put(at: u32, v: vec3<f32>, w: f32) {
    obj[at] = v.x;
    obj[at + 1u] = v.y;
    obj[at + 2u] = v.z;
    obj[at + 3u] = w;
}

fn uniformity(row: u32, batch: u32) {
    let i = row % batch;
    let start = row - i;
    let v = output(row);
    let t2 = 2.0 * head[H_TEMP];
    var g = vec3<f32>(0.0);
    var s = 0.0;
    for (var j = 0u; j < batch; j++) {
        if (j != i) {
            let u = output(start + j);
            let w = exp(t2 * (dot(v, u) - 1.0));
            g += w * u;
            s += w;
        }
    }
    put(row * 4u, g, s);
}

fn cosine(row: u32, batch: u32) {
    let half = batch / 2u;
    if (row % batch >= half) {
        return;
    }
    let a = output(row);
    let b = output(row + half);
    let la = length(a);
    let lb = length(b);
    let nn = max(la, 1e-8) * max(lb, 1e-8);
    let c = dot(a, b) / nn;
    var ga = b / nn;
    if (la > 1e-8) {
        ga -= c * a / (la * la);
    }
    var gb = a / nn;
    if (lb > 1e-8) {
        gb -= c * b / (lb * lb);
    }
    put(row * 4u, ga, c);
    put((row + half) * 4u, gb, 0.0);
}

fn area(k: u32, rows: u32, m: u32) {
    let at = output(k);
    let du = output(rows + k) - at;
    let dv = output(rows + m + k) - at;
    let gu = cross(dv, at);
    let gv = cross(at, du);
    let o = rows * 4u + k * AREA_W;
    let normal = cross(du, dv);
    obj[o] = dot(at, normal);
    let gat = normal - gu - gv;
    // The shape term E = L², L = −ln K, K = 4 |du × dv|² / D (`kept`), D = (uu + vv)², cut
    // where K < 10⁻⁴ (`shape_loss`). K = 1 − Q with Q = ((uu − vv)² + 4 uv²) / D, whose
    // gradient is ∂Q/∂du = (4 (uu − vv) du + 8 uv dv − 4 Q (uu + vv) du) / D, and likewise for
    // dv; so ∂E/∂du = 2 L ∂Q/∂du / K.
    let uu = dot(du, du);
    let vv = dot(dv, dv);
    let uv = dot(du, dv);
    let d = max((uu + vv) * (uu + vv), 1e-30);
    let q = ((uu - vv) * (uu - vv) + 4.0 * uv * uv) / d;
    let kept = 4.0 * dot(normal, normal) / d;
    let l = -log(max(kept, SHAPE_KEPT_MIN));
    var sdu = vec3<f32>(0.0);
    var sdv = vec3<f32>(0.0);
    if (kept > SHAPE_KEPT_MIN) {
        let f = 2.0 * l / (d * kept);
        sdu = (4.0 * (uu - vv) * du + 8.0 * uv * dv - 4.0 * q * (uu + vv) * du) * f;
        sdv = (-4.0 * (uu - vv) * dv + 8.0 * uv * du - 4.0 * q * (uu + vv) * dv) * f;
    }
    let sat = -(sdu + sdv);
    obj[o + 10u] = l * l;
    for (var c = 0u; c < 3u; c++) {
        obj[o + 1u + c] = gat[c];
        obj[o + 4u + c] = gu[c];
        obj[o + 7u + c] = gv[c];
        obj[o + 11u + c] = sat[c];
        obj[o + 14u + c] = sdu[c];
        obj[o + 17u + c] = sdv[c];
    }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let rows = hu(H_ROWS);
    let batch = hu(H_BATCH);
    let m = hu(H_AREA_M);
    let i = id.x;
    if (i < rows) {
        if (OBJECTIVE == 1u) {
            uniformity(i, batch);
        } else {
            cosine(i, batch);
        }
    } else if (i < rows + m) {
        area(i - rows, rows, m);
    }
}
