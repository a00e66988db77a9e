//! The network's output handed to the renderer without leaving the GPU: burn's buffer is
//! copied, on the device, into a storage buffer the point shader reads.

use burn::backend::Wgpu;
use burn::backend::wgpu::{CubeBackend, WgpuRuntime};
use burn::prelude::*;
use burn::tensor::TensorPrimitive;
use cubecl::client::ComputeClient;
use cubecl::server::Handle;

/// A storage buffer on the wgpu device burn trains on, and the device and queue that copy
/// into it.
#[derive(Debug, Clone)]
pub struct GpuTarget {
    /// The device burn trains on.
    pub device: wgpu::Device,
    /// Its queue: copies submitted here run after everything burn submitted before them.
    pub queue: wgpu::Queue,
    /// Where the values go, from its start; needs `COPY_DST`.
    pub buffer: wgpu::Buffer,
}

/// burn's wgpu backend without its fusion layer: the one whose tensors own wgpu buffers.
type Cube = CubeBackend<WgpuRuntime, f32, i32, u32>;

/// Copies `tensor`'s values, row-major `f32`, to the start of `target.buffer` on the GPU.
///
/// The copy is submitted behind the kernels that compute `tensor`, so it reads their result;
/// after it is submitted burn may reuse the tensor's memory, since its later kernels are
/// submitted later still.
pub(crate) fn copy_to_buffer<const D: usize>(
    tensor: Tensor<Wgpu, D>,
    target: &GpuTarget,
) -> Result<(), String> {
    let TensorPrimitive::Float(fused) = tensor.into_primitive() else {
        return Err("the tensor is quantised".into());
    };
    // Runs the fused operations that make the tensor, and hands over the plain cubecl tensor.
    let tensor = fused.client.clone().resolve_tensor_float::<Cube>(fused);
    if !tensor.is_contiguous() {
        return Err("the tensor is not contiguous".into());
    }
    let bytes = tensor.meta.shape().num_elements() as u64 * size_of::<f32>() as u64;
    copy_handle(&tensor.client, &tensor.handle, bytes, target)
}

/// Copies the first `bytes` of a buffer of burn's wgpu device to the start of
/// `target.buffer`, behind the kernels already queued on `client`.
pub(crate) fn copy_handle(
    client: &ComputeClient<WgpuRuntime>,
    handle: &Handle,
    bytes: u64,
    target: &GpuTarget,
) -> Result<(), String> {
    if bytes > target.buffer.size() {
        return Err(format!(
            "{bytes} bytes do not fit the {}-byte buffer",
            target.buffer.size()
        ));
    }
    let source = client
        .get_resource(handle.clone())
        .map_err(|e| format!("burn's buffer is not available: {e:?}"))?;
    // The kernels writing the buffer go to the queue before the copy does.
    client
        .flush()
        .map_err(|e| format!("burn could not submit its work: {e:?}"))?;
    let source = source.resource();
    let mut encoder = target
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("network output to the point buffer"),
        });
    encoder.copy_buffer_to_buffer(&source.buffer, source.offset, &target.buffer, 0, bytes);
    target.queue.submit([encoder.finish()]);
    Ok(())
}
