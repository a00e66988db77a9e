//! Where training runs: burn's wgpu backend on a GPU, or its fastest CPU backend.

use std::fmt;
use std::str::FromStr;

use burn::backend::wgpu::{WgpuDevice, WgpuSetup, init_device};

use crate::Error;

/// Training on the CPU with burn's `flex` backend (about 3× faster than `ndarray` on the
/// notebook's tiny tensors).
pub type CpuBackend = burn::backend::Autodiff<burn::backend::Flex>;

/// Training on a GPU with burn's wgpu backend.
pub type GpuBackend = burn::backend::Autodiff<burn::backend::Wgpu>;

/// Which backend trains the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendKind {
    /// [`GpuBackend`]: wgpu on the best adapter (in the plugin: Bevy's own render device).
    #[default]
    Wgpu,
    /// [`CpuBackend`], for machines without a GPU.
    Cpu,
}

impl FromStr for BackendKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "wgpu" => Ok(Self::Wgpu),
            "cpu" => Ok(Self::Cpu),
            _ => Err(Error::Config(format!(
                "unknown backend '{s}' (expected wgpu or cpu)"
            ))),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Wgpu => "wgpu",
            Self::Cpu => "cpu",
        })
    }
}

/// Opens the best GPU adapter wgpu can find and hands it to burn.
///
/// Unlike burn's own lazy initialisation, a machine without a usable adapter gets an error
/// here instead of a panic on the first tensor.
pub fn wgpu_device() -> Result<WgpuDevice, Error> {
    let gpu_error = |e: &dyn fmt::Display| Error::Gpu(e.to_string());
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = bevy::tasks::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        ..Default::default()
    }))
    .map_err(|e| gpu_error(&e))?;
    let features = adapter.features()
        - wgpu::Features::MAPPABLE_PRIMARY_BUFFERS
        - wgpu::Features::all_experimental_mask();
    let (device, queue) = bevy::tasks::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("bevy_neural_sphere"),
        required_features: features,
        required_limits: adapter.limits(),
        memory_hints: wgpu::MemoryHints::MemoryUsage,
        ..Default::default()
    }))
    .map_err(|e| gpu_error(&e))?;
    let backend = adapter.get_info().backend;
    Ok(share_wgpu_device(WgpuSetup {
        instance,
        adapter,
        device,
        queue,
        backend,
    }))
}

/// Hands an existing wgpu device to burn, so that training shares it (the plugin passes
/// Bevy's render device here).
pub fn share_wgpu_device(setup: WgpuSetup) -> WgpuDevice {
    init_device(setup, Default::default())
}
