//! Where training runs: burn's wgpu backend on a GPU, or its fastest CPU backend, and how
//! [`BackendKind::Auto`] picks between them.

use std::fmt;
use std::str::FromStr;

use burn::backend::wgpu::{WgpuDevice, WgpuSetup, init_device};
use futures_lite::future::block_on;
use wgpu::{AdapterInfo, Backend, DeviceType};

use crate::Error;

/// burn's `flex` CPU backend, without autodiff: where checkpoints and the copies of a network
/// that the trainer hands out live.
pub type HostBackend = burn::backend::Flex;

/// Training on the CPU with burn's `flex` backend (about 3× faster than `ndarray` on the
/// notebook's tiny tensors).
pub type CpuBackend = burn::backend::Autodiff<HostBackend>;

/// Training on a GPU with burn's wgpu backend.
pub type GpuBackend = burn::backend::Autodiff<burn::backend::Wgpu>;

/// Which backend trains the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendKind {
    /// wgpu on a hardware GPU; the CPU when the only adapter is a software rasteriser
    /// (lavapipe, llvmpipe, WARP: even the fused GPU step runs there 4–8× slower than the CPU
    /// backend), is only reachable through OpenGL (where burn's kernels do not run) or when
    /// there is no usable adapter.
    #[default]
    Auto,
    /// [`GpuBackend`]: wgpu on the best adapter (in the plugin: Bevy's own render device).
    Wgpu,
    /// [`CpuBackend`], for machines without a GPU.
    Cpu,
}

impl FromStr for BackendKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "auto" => Ok(Self::Auto),
            "wgpu" => Ok(Self::Wgpu),
            "cpu" => Ok(Self::Cpu),
            _ => Err(Error::Config(format!(
                "unknown backend '{s}' (expected auto, wgpu or cpu)"
            ))),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Wgpu => "wgpu",
            Self::Cpu => "cpu",
        })
    }
}

/// The backend that trains, [`BackendKind::Wgpu`] or [`BackendKind::Cpu`], and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendChoice {
    /// [`BackendKind::Wgpu`] or [`BackendKind::Cpu`], never `Auto`.
    pub kind: BackendKind,
    /// One line for a person: which device trains and why it was picked.
    pub reason: String,
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl BackendKind {
    /// Picks the backend for the GPU adapter there is (`None`: no usable adapter).
    ///
    /// Only an explicit [`BackendKind::Wgpu`] without an adapter it can train on is an error.
    pub fn choose(self, adapter: Option<&AdapterInfo>) -> Result<BackendChoice, Error> {
        let cpu = |reason: String| BackendChoice {
            kind: Self::Cpu,
            reason: match cfg!(target_arch = "wasm32") {
                // A page has no threads to train on.
                true => format!("training on the CPU, within each frame: {reason}"),
                false => format!("training on the CPU: {reason}"),
            },
        };
        let gpu = |adapter: &AdapterInfo| BackendChoice {
            kind: Self::Wgpu,
            reason: format!(
                "training on the GPU: {} ({:?}, {:?})",
                adapter.name, adapter.device_type, adapter.backend
            ),
        };
        match (self, adapter) {
            (Self::Cpu, _) => Ok(cpu("--backend cpu".into())),
            (Self::Wgpu, Some(adapter)) if adapter.backend == Backend::Gl => {
                Err(Error::Gpu(format!(
                    "{} is only reachable through OpenGL, where burn's kernels do not run; \
                     --backend cpu trains on the CPU",
                    adapter.name
                )))
            }
            (Self::Wgpu, Some(adapter)) => Ok(gpu(adapter)),
            (Self::Wgpu, None) => Err(Error::Gpu(
                "wgpu found no adapter; --backend cpu trains on the CPU".into(),
            )),
            (Self::Auto, Some(adapter)) if adapter.backend == Backend::Gl => Ok(cpu(format!(
                "{} is only reachable through OpenGL, where burn's kernels do not run",
                adapter.name
            ))),
            (Self::Auto, Some(adapter)) if adapter.device_type == DeviceType::Cpu => {
                Ok(cpu(format!(
                    "{} is a software rasteriser, where the CPU backend trains far faster",
                    adapter.name
                )))
            }
            (Self::Auto, Some(adapter)) => Ok(gpu(adapter)),
            (Self::Auto, None) => Ok(cpu("no usable GPU adapter".into())),
        }
    }
}

/// Where a network trains: the CPU, or a wgpu device burn opened.
#[derive(Debug, Clone, Default)]
pub enum TrainingDevice {
    /// [`CpuBackend`].
    #[default]
    Cpu,
    /// [`GpuBackend`] on this device.
    Wgpu(WgpuDevice),
}

/// Opens the device `kind` asks for, outside Bevy (the `train` and `record` examples): for
/// `Auto`, wgpu's best adapter unless it is a software rasteriser or missing.
pub fn training_device(kind: BackendKind) -> Result<(TrainingDevice, BackendChoice), Error> {
    let adapter = match kind {
        BackendKind::Cpu => None,
        BackendKind::Auto => best_adapter().ok(),
        BackendKind::Wgpu => Some(
            best_adapter()
                .map_err(|e| Error::Gpu(format!("{e}; --backend cpu trains on the CPU")))?,
        ),
    };
    let choice = kind.choose(
        adapter
            .as_ref()
            .map(|(_, adapter)| adapter.get_info())
            .as_ref(),
    )?;
    let device = match (choice.kind, adapter) {
        (BackendKind::Wgpu, Some((instance, adapter))) => {
            TrainingDevice::Wgpu(share_wgpu_device(open_device(instance, adapter)?))
        }
        _ => TrainingDevice::Cpu,
    };
    Ok((device, choice))
}

/// Opens the best GPU adapter wgpu can find and hands it to burn.
///
/// Unlike burn's own lazy initialisation, a machine without a usable adapter gets an error
/// here instead of a panic on the first tensor.
pub fn wgpu_device() -> Result<WgpuDevice, Error> {
    wgpu_setup().map(share_wgpu_device)
}

/// Opens a device on the best GPU adapter wgpu can find, for [`share_wgpu_device`]; keep a
/// clone to use the device beside burn.
pub fn wgpu_setup() -> Result<WgpuSetup, Error> {
    let (instance, adapter) = best_adapter().map_err(Error::Gpu)?;
    open_device(instance, adapter)
}

/// The adapter Bevy will draw with, or an error that says there is none: without an adapter
/// Bevy's renderer panics at start, so the `demo` and `record` examples ask first.
pub fn render_adapter() -> Result<wgpu::AdapterInfo, Error> {
    let (_, adapter) = best_adapter().map_err(|e| {
        Error::Gpu(format!(
            "nothing to draw with: {e} (install a Vulkan driver: mesa-vulkan-drivers gives \
             software Vulkan on Linux; the `train` example needs none)"
        ))
    })?;
    Ok(adapter.get_info())
}

/// wgpu's best adapter, or what wgpu said when it found none.
fn best_adapter() -> Result<(wgpu::Instance, wgpu::Adapter), String> {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        ..Default::default()
    }))
    .map_err(|e| e.to_string())?;
    Ok((instance, adapter))
}

fn open_device(instance: wgpu::Instance, adapter: wgpu::Adapter) -> Result<WgpuSetup, Error> {
    let features = adapter.features()
        - wgpu::Features::MAPPABLE_PRIMARY_BUFFERS
        - wgpu::Features::all_experimental_mask();
    let (device, queue) = block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("bevy_neural_sphere"),
        required_features: features,
        required_limits: adapter.limits(),
        memory_hints: wgpu::MemoryHints::MemoryUsage,
        ..Default::default()
    }))
    .map_err(|e| Error::Gpu(e.to_string()))?;
    let backend = adapter.get_info().backend;
    Ok(WgpuSetup {
        instance,
        adapter,
        device,
        queue,
        backend,
    })
}

/// Hands an existing wgpu device to burn, so that training shares it (the plugin passes
/// Bevy's render device here).
pub fn share_wgpu_device(setup: WgpuSetup) -> WgpuDevice {
    init_device(setup, Default::default())
}
