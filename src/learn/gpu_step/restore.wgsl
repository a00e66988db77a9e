// Puts a snapshot of the state buffer back: its parameters, its moments (or zeros when
// KEEP_MOMENTS is false) and, as the running average, its parameters again. On the GPU, so
// that going back after a non-finite step needs no read back to the host.

@group(0) @binding(0) var<storage, read_write> snapshot: array<f32>;
@group(0) @binding(1) var<storage, read_write> state: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if (i >= arrayLength(&state)) {
        return;
    }
    if (i < P || i >= 4u * P) {
        state[i] = snapshot[i];
    } else if (i < 3u * P) {
        state[i] = select(0.0, snapshot[i], KEEP_MOMENTS);
    } else {
        state[i] = snapshot[i - 3u * P];
    }
}
