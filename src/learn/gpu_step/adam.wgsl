// One thread a parameter: adds up the workgroups' gradient shares, then Adam (burn's form),
// the clamp and the running average.

@group(0) @binding(0) var<storage, read_write> head: array<f32>;
@group(0) @binding(1) var<storage, read_write> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> state: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let p = id.x;
    if (p >= P) {
        return;
    }
    var g = 0.0;
    for (var w = 0u; w < hu(H_GROUPS); w++) {
        g += partial[w * P + p];
    }
    let m = 0.9 * state[P + p] + 0.1 * g;
    let v = 0.999 * state[2u * P + p] + 0.001 * g * g;
    state[P + p] = m;
    state[2u * P + p] = v;
    let delta = head[H_LR] * m * head[H_ADAM_CF] / (sqrt(v) + head[H_ADAM_EPS]);
    let theta = clamp(state[p] - delta, -CLAMP, CLAMP);
    state[p] = theta;
    if (AVERAGE) {
        let keep = head[H_AVG_KEEP];
        state[3u * P + p] = keep * state[3u * P + p] + (1.0 - keep) * theta;
    }
}
