//! The fused training step on the GPU: a whole optimiser step in four kernels queued on burn's
//! wgpu device, with no read back to the host.
//!
//! 1. `forward.wgsl`: the batch through the network, 16 to 64 rows a workgroup, each layer's
//!    inputs in workgroup memory; every pre-activation is saved.
//! 2. `objective.wgsl`: what the loss needs of each row (the uniformity loss's sums over the
//!    row's pass, or the notebook's cosines) and of each point of the equal-area term.
//! 3. `backward.wgsl`: the loss, then its gradient back through the network, each workgroup
//!    writing its rows' share of every parameter's gradient.
//! 4. `adam.wgsl`: the shares added up, Adam, the clamp and the running average.
//!
//! The parameters, Adam's moments and the running average live in one buffer; a
//! [`SphereNet`] is built from it for checkpoints, exports and the host. Dropout masks come from
//! a hash of (seed, step, row, layer, unit), so the backward pass recomputes them. Snapshots
//! are copied and put back on the GPU, and every read has a form that does not wait
//! ([`DeviceRead`]), so a browser page can train without ever blocking on the device.

mod head;
mod kernel;
mod layout;

use std::sync::atomic::{AtomicUsize, Ordering};

use burn::backend::wgpu::{WgpuDevice, WgpuRuntime};
use cubecl::Runtime;
use cubecl::client::ComputeClient;
use cubecl::server::Handle;
use futures_lite::future::block_on;
use rand::Rng;
use rand::rngs::Xoshiro256PlusPlus;

use self::head::{Head, Mode};
use self::kernel::{GROUP, Wgsl};
use self::layout::{Layout, seed_bits};
use super::backend::HostBackend;
use super::config::TrainConfig;
use super::device_read::{DeviceRead, ready};
use super::engine::{Batch, LossRead, Network};
use super::gpu_copy::{GpuTarget, copy_handle};
use super::model::{SphereNet, SphereNetConfig};
use crate::Error;

/// Threads a workgroup of the objective kernel.
const OBJECTIVE_GROUP: u32 = 64;

/// Threads a workgroup of the forward and backward kernels (`GROUP` there).
const LAYER_GROUP: u32 = layout::LAYER_GROUP as u32;

/// Values past the end of the state buffer: the kernels load four weights at a time, and
/// the last load of the output layer's bias reaches past it.
const STATE_PADDING: usize = 4;

/// The kernels of one network's step.
struct Kernels {
    forward: Wgsl,
    objective: Wgsl,
    backward: Wgsl,
    adam: Wgsl,
    copy: Wgsl,
    /// Puts a snapshot back, with its moments or with them at zero.
    restore_with_moments: Wgsl,
    restore_without_moments: Wgsl,
}

/// Buffers a step writes, for up to `rows` rows.
struct Scratch {
    rows: usize,
    saved: Handle,
    outputs: Handle,
    objective: Handle,
    partial: Handle,
}

/// A network trained by the fused step, on burn's wgpu device.
pub(crate) struct FusedNetwork {
    client: ComputeClient<WgpuRuntime>,
    layout: Layout,
    model: SphereNetConfig,
    seed: u32,
    average: f64,
    kernels: Kernels,
    /// The parameters, Adam's two moments and the running average, `layout.parameters` each.
    state: Handle,
    scratch: Option<Scratch>,
    /// The chunk's losses, and the slot of the next step's.
    losses: Option<(Handle, usize)>,
    /// Adam's step count since its moments were last zero.
    adam_time: usize,
    average_updates: usize,
    /// Kernels queued so far.
    launches: AtomicUsize,
}

/// A copy of a [`FusedNetwork`]'s state buffer.
#[derive(Clone)]
pub(crate) struct FusedState {
    state: Handle,
    adam_time: usize,
}

impl FusedNetwork {
    /// Why the fused step cannot train `config`, if it cannot: a network its kernels do not
    /// take, or kernels that would not compile.
    pub(crate) fn unfit(config: &TrainConfig) -> Option<String> {
        (Layout::new(config).and_then(|layout| Kernels::new(&layout, config).map(drop))).err()
    }

    /// The network shown (the running average when the run keeps one), copied to the CPU.
    pub(crate) fn shown(&self) -> SphereNet<HostBackend> {
        self.network_at(self.shown_base())
    }

    /// [`FusedNetwork::shown`], read back without waiting: a copy of the state now, which the
    /// steps queued after it do not change.
    pub(crate) fn shown_later(&self) -> DeviceRead<SphereNet<HostBackend>> {
        let (base, n) = (self.shown_base(), self.layout.parameters);
        let model = self.model.clone();
        let read = self.read_later(self.state().state);
        Box::pin(async move {
            let state = read.await?;
            Ok(model.with_parameters(&state[base..base + n], &Default::default()))
        })
    }

    /// The network as the last step left it, copied to the CPU.
    pub(crate) fn network(&self) -> SphereNet<HostBackend> {
        self.network_at(0)
    }

    fn network_at(&self, base: usize) -> SphereNet<HostBackend> {
        let state = self.read(&self.state);
        let parameters = &state[base..base + self.layout.parameters];
        self.model.with_parameters(parameters, &Default::default())
    }

    /// Where the shown network's parameters start in the state buffer.
    fn shown_base(&self) -> usize {
        match self.average > 0.0 {
            true => 3 * self.layout.parameters,
            false => 0,
        }
    }

    /// Maps points of the plane through the shown network (no dropout), read back to the host
    /// without waiting.
    pub(crate) fn eval_later(&self, points: &[[f32; 2]]) -> DeviceRead<Vec<[f32; 3]>> {
        if points.is_empty() {
            return ready(Vec::new());
        }
        let outputs = self.map(points, Head::evaluate(points.len(), self.average > 0.0));
        self.positions_later(outputs)
    }

    /// Maps points through the shown network into `target`, on the GPU. Points the network
    /// maps to no finite position land at the origin.
    pub(crate) fn eval_into(&self, points: &[[f32; 2]], target: &GpuTarget) -> Result<(), String> {
        if points.is_empty() {
            return Ok(());
        }
        let outputs = self.map(points, Head::evaluate(points.len(), self.average > 0.0));
        let bytes = (points.len() * 3 * size_of::<f32>()) as u64;
        copy_handle(&self.client, &outputs, bytes, target)
    }

    /// Maps points through the network being trained with dropout masks seeded from `rng`,
    /// read back without waiting.
    pub(crate) fn map_with_dropout(
        &self,
        _: &TrainConfig,
        points: &[[f32; 2]],
        rng: &mut Xoshiro256PlusPlus,
    ) -> DeviceRead<Vec<[f32; 3]>> {
        if points.is_empty() {
            return ready(Vec::new());
        }
        let head = Head {
            mode: Mode::Dropout,
            seed: rng.next_u32(),
            ..Head::evaluate(points.len(), false)
        };
        self.positions_later(self.map(points, head))
    }

    /// The positions in `outputs`, three values a point, read back without waiting.
    fn positions_later(&self, outputs: Handle) -> DeviceRead<Vec<[f32; 3]>> {
        let read = self.read_later(outputs);
        Box::pin(async move { read.await.map(|values| positions(&values)) })
    }

    /// Runs the forward kernel over `points`; returns the `[n, 3]` outputs.
    fn map(&self, points: &[[f32; 2]], head: Head) -> Handle {
        let flat: Vec<f32> = points.iter().flatten().copied().collect();
        let head = self.upload_head(&head, &flat, None);
        let outputs = self.client.empty(points.len() * 3 * size_of::<f32>());
        let unused = self.client.empty(size_of::<f32>());
        self.launch(
            &self.kernels.forward,
            groups(points.len(), self.layout.rows_per_group),
            &[&head, &self.state, &unused, &outputs],
        );
        outputs
    }

    /// The launch's scalars and points in one buffer.
    fn upload_head(&self, head: &Head, points: &[f32], moved: Option<&[f32]>) -> Handle {
        let base = if head.averaged { self.shown_base() } else { 0 };
        let values = head.encode(self.seed, base, self.layout.rows_per_group, points, moved);
        self.client.create_from_slice(bytemuck::cast_slice(&values))
    }

    /// Makes the scratch buffers large enough for `rows` rows.
    fn make_scratch(&mut self, rows: usize) {
        if self.scratch.as_ref().is_none_or(|s| s.rows < rows) {
            let floats = |n: usize| self.client.empty(n * size_of::<f32>());
            self.scratch = Some(Scratch {
                rows,
                saved: floats(rows * self.layout.saved_per_row),
                outputs: floats(rows * 3),
                objective: floats(rows * 10),
                partial: floats(
                    groups(rows, self.layout.rows_per_group) as usize * self.layout.parameters,
                ),
            });
        }
    }

    /// Queues `kernel` over `groups` workgroups with `buffers` bound in order.
    fn launch(&self, kernel: &Wgsl, groups: u32, buffers: &[&Handle]) {
        kernel.launch(&self.client, groups, buffers);
        self.launches.fetch_add(1, Ordering::Relaxed);
    }

    /// Kernels this network has queued so far.
    pub(crate) fn launches(&self) -> usize {
        self.launches.load(Ordering::Relaxed)
    }

    /// Queues the forward, objective and backward kernels of one step; the gradient's shares
    /// are in the scratch's `partial` buffer after them, the loss in `losses[slot]`.
    fn gradient(&mut self, head: &Head, batch: &Batch, losses: &Handle) -> Handle {
        let total = batch.rows() + 2 * batch.area_points();
        let input = self.upload_head(head, &batch.points, batch.moved.as_deref());
        self.make_scratch(total);
        let scratch = self.scratch.as_ref().expect("made above");
        let (kernels, state) = (&self.kernels, &self.state);
        let rows = groups(total, self.layout.rows_per_group);
        self.launch(
            &kernels.forward,
            rows,
            &[&input, state, &scratch.saved, &scratch.outputs],
        );
        self.launch(
            &kernels.objective,
            groups(batch.rows() + batch.area_points(), OBJECTIVE_GROUP as usize),
            &[&input, &scratch.outputs, &scratch.objective],
        );
        self.launch(
            &kernels.backward,
            rows,
            &[
                &input,
                state,
                &scratch.saved,
                &scratch.objective,
                &scratch.partial,
                losses,
            ],
        );
        input
    }

    fn read(&self, handle: &Handle) -> Vec<f32> {
        block_on(self.read_later(handle.clone())).expect("reading from the GPU failed")
    }

    /// The values of `handle`, read back without waiting. The read is queued behind the
    /// kernels queued so far at its first poll.
    fn read_later(&self, handle: Handle) -> DeviceRead<Vec<f32>> {
        let client = self.client.clone();
        Box::pin(async move {
            let bytes = client.read_async(vec![handle]).await;
            let bytes = bytes.map_err(|e| format!("{e:?}"))?;
            Ok(bytemuck::pod_collect_to_vec(&bytes[0]))
        })
    }

    fn head(&self, config: &TrainConfig, batch: &Batch) -> Head {
        Head {
            mode: Mode::Train,
            seed: 0,
            step: batch.step as u32,
            rows: batch.rows(),
            area_points: batch.area_points(),
            batch: config.batch,
            lr: 0.0,
            adam: [0.0; 2],
            average_keep: 0.0,
            slot: 0,
            temperature: config.temperature as f32,
            area_weight: config.area_weight as f32,
            shape_weight: config.shape_weight as f32,
            averaged: false,
        }
    }
}

impl Network for FusedNetwork {
    type Device = WgpuDevice;
    type State = FusedState;

    fn new(
        config: &TrainConfig,
        model: SphereNet<HostBackend>,
        device: &WgpuDevice,
    ) -> Result<Self, Error> {
        let layout = Layout::new(config).map_err(Error::Config)?;
        let kernels = Kernels::new(&layout, config).map_err(Error::Config)?;
        let client = WgpuRuntime::client(device);
        let parameters = model.parameters();
        let state = client.create_from_slice(bytemuck::cast_slice(&initial_state(&parameters)));
        Ok(Self {
            client,
            layout,
            model: config.model.clone(),
            seed: seed_bits(config.seed),
            average: config.average,
            kernels,
            state,
            scratch: None,
            losses: None,
            adam_time: 0,
            average_updates: 0,
            launches: AtomicUsize::new(0),
        })
    }

    fn state(&self) -> FusedState {
        let len = 4 * self.layout.parameters + STATE_PADDING;
        let copy = self.client.empty(len * size_of::<f32>());
        self.launch(
            &self.kernels.copy,
            groups(len, GROUP as usize),
            &[&self.state, &copy],
        );
        FusedState {
            state: copy,
            adam_time: self.adam_time,
        }
    }

    fn restore(&mut self, _config: &TrainConfig, state: &FusedState, keep_moments: bool) {
        let (kernel, adam_time) = match keep_moments {
            true => (&self.kernels.restore_with_moments, state.adam_time),
            false => (&self.kernels.restore_without_moments, 0),
        };
        // The average took in the steps that went wrong: it starts again from the good state.
        let len = 4 * self.layout.parameters + STATE_PADDING;
        let restored = self.client.empty(len * size_of::<f32>());
        self.launch(
            kernel,
            groups(len, GROUP as usize),
            &[&state.state, &restored],
        );
        self.state = restored;
        self.adam_time = adam_time;
        self.average_updates = 0;
        self.losses = None;
    }

    fn start_chunk(&mut self, steps: usize) {
        self.losses = Some((self.client.empty(steps * size_of::<f32>()), 0));
    }

    fn step(&mut self, config: &TrainConfig, batch: &Batch, lr: f64) {
        self.adam_time += 1;
        let t = self.adam_time as i32;
        let correction = (1.0 - 0.999f32.powi(t)).sqrt();
        let k = self.average_updates as f64;
        self.average_updates += 1;
        let (losses, slot) = self.losses.take().expect("a chunk was started");
        let head = Head {
            lr: lr as f32,
            adam: [correction / (1.0 - 0.9f32.powi(t)), 1e-8 * correction],
            average_keep: self.average.min((1.0 + k) / (10.0 + k)) as f32,
            slot,
            ..self.head(config, batch)
        };
        let input = self.gradient(&head, batch, &losses);
        let partial = &self.scratch.as_ref().expect("made by the gradient").partial;
        self.launch(
            &self.kernels.adam,
            groups(self.layout.parameters, GROUP as usize),
            &[&input, partial, &self.state],
        );
        self.losses = Some((losses, slot + 1));
    }

    fn losses(&mut self) -> Option<LossRead> {
        let (losses, steps) = self.losses.take()?;
        let read = self.read_later(losses);
        Some(Box::pin(async move {
            let mut values = read.await?;
            values.truncate(steps);
            Ok(values)
        }))
    }

    /// In a browser a page cannot wait for the read: the gradient counts as finite there, and
    /// one that is not shows as the next step's non-finite loss, which goes back again.
    #[cfg(target_arch = "wasm32")]
    fn gradient_is_finite(&mut self, _: &TrainConfig, _: &Batch) -> bool {
        true
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn gradient_is_finite(&mut self, config: &TrainConfig, batch: &Batch) -> bool {
        let losses = self.client.empty(size_of::<f32>());
        let head = self.head(config, batch);
        self.gradient(&head, batch, &losses);
        let partial = self
            .scratch
            .as_ref()
            .expect("made by the gradient")
            .partial
            .clone();
        let shares = groups(
            batch.rows() + 2 * batch.area_points(),
            self.layout.rows_per_group,
        ) as usize;
        let values = self.read(&partial);
        values[..shares * self.layout.parameters]
            .iter()
            .all(|v| v.is_finite())
    }
}

impl Kernels {
    /// The kernels of `layout`'s network, each checked by naga first: a kernel the device would
    /// not compile is refused here, with why, instead of training nothing.
    fn new(layout: &Layout, config: &TrainConfig) -> Result<Self, String> {
        let constants = layout.constants(config);
        let kernels = Self {
            forward: Wgsl::new(
                &format!("{constants}{}", layout.forward_layers()),
                true,
                include_str!("forward.wgsl"),
                LAYER_GROUP,
            ),
            objective: Wgsl::new(
                &constants,
                true,
                include_str!("objective.wgsl"),
                OBJECTIVE_GROUP,
            ),
            backward: Wgsl::new(
                &format!("{constants}{}", layout.backward_layers()),
                true,
                include_str!("backward.wgsl"),
                LAYER_GROUP,
            ),
            adam: Wgsl::new(&constants, true, include_str!("adam.wgsl"), GROUP),
            copy: Wgsl::new("", false, include_str!("copy.wgsl"), GROUP),
            restore_with_moments: restore_kernel(&constants, true),
            restore_without_moments: restore_kernel(&constants, false),
        };
        let named = [
            ("forward", &kernels.forward),
            ("objective", &kernels.objective),
            ("backward", &kernels.backward),
            ("Adam", &kernels.adam),
            ("copy", &kernels.copy),
            ("restore", &kernels.restore_with_moments),
            ("restore", &kernels.restore_without_moments),
        ];
        for (name, kernel) in named {
            kernel.check().map_err(|why| {
                format!("the fused step's {name} kernel does not compile ({why})")
            })?;
        }
        Ok(kernels)
    }
}

/// The state buffer of a fresh run: the parameters, zero moments, the average at the
/// parameters, and the padding.
fn initial_state(parameters: &[f32]) -> Vec<f32> {
    let n = parameters.len();
    let mut state = Vec::with_capacity(4 * n + STATE_PADDING);
    state.extend_from_slice(parameters);
    state.resize(3 * n, 0.0);
    state.extend_from_slice(parameters);
    state.resize(4 * n + STATE_PADDING, 0.0);
    state
}

/// The kernel that puts a snapshot back, with its moments when `keep_moments`.
fn restore_kernel(constants: &str, keep_moments: bool) -> Wgsl {
    let constants = format!("{constants}const KEEP_MOMENTS: bool = {keep_moments};\n");
    Wgsl::new(&constants, false, include_str!("restore.wgsl"), GROUP)
}

/// Workgroups of `size` that cover `n` items.
fn groups(n: usize, size: usize) -> u32 {
    n.div_ceil(size) as u32
}

/// Points on the sphere from their coordinates, three by three.
fn positions(values: &[f32]) -> Vec<[f32; 3]> {
    values.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect()
}
