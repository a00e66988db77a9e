//! The fused step's kernels: WGSL sources launched on the cubecl client of burn's wgpu device,
//! so they queue in order with burn's own work and share its memory pool.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use burn::backend::wgpu::{AutoCompiler, WgpuRuntime};
use cubecl::prelude::*;
use cubecl::server::{Handle, KernelArguments};
use cubecl::{CompilationError, CubeTask};
use naga::valid::{Capabilities, ValidationFlags, Validator};

/// The threads of a workgroup, in every kernel.
pub(crate) const GROUP: u32 = 256;

/// A compute shader whose entry point is `main`, compiled by wgpu from its WGSL source.
#[derive(Clone)]
pub(crate) struct Wgsl {
    source: Arc<str>,
    /// Tells kernels of other sources (another network, another kernel) apart.
    hash: u64,
    group: u32,
}

impl Wgsl {
    /// `constants`, the shared functions when `common`, then `kernel`'s source; `group`
    /// threads a workgroup, as the source says.
    pub(crate) fn new(constants: &str, common: bool, kernel: &str, group: u32) -> Self {
        let common = if common {
            include_str!("common.wgsl")
        } else {
            ""
        };
        let source = format!("{constants}\n{common}\n{kernel}");
        let mut hasher = DefaultHasher::new();
        source.hash(&mut hasher);
        Self {
            source: source.into(),
            hash: hasher.finish(),
            group,
        }
    }

    /// Whether the source is WGSL that wgpu's front end (naga) reads and validates; if not,
    /// where and why, in one line.
    pub(crate) fn check(&self) -> Result<(), String> {
        let source = &*self.source;
        let module = naga::front::wgsl::parse_str(source).map_err(|e| {
            let line = e.location(source).map_or(0, |l| l.line_number);
            format!("line {line}: {}", e.message())
        })?;
        let mut validator = Validator::new(ValidationFlags::all(), Capabilities::default());
        validator.validate(&module).map(drop).map_err(|e| {
            let line = e.location(source).map_or(0, |l| l.line_number);
            let mut why = e.as_inner().to_string();
            let mut cause = std::error::Error::source(e.as_inner());
            while let Some(c) = cause {
                why = format!("{why}: {c}");
                cause = c.source();
            }
            format!("line {line}: {why}")
        })
    }

    /// Queues the kernel over `groups` workgroups, with `buffers` bound in order.
    pub(crate) fn launch(
        &self,
        client: &ComputeClient<WgpuRuntime>,
        groups: u32,
        buffers: &[&Handle],
    ) {
        let arguments = (buffers.iter()).fold(KernelArguments::new(), |a, h| {
            a.with_buffer((*h).clone().binding())
        });
        client.launch(
            Box::new(self.clone()),
            CubeCount::Static(groups.max(1), 1, 1),
            arguments,
        );
    }
}

impl KernelMetadata for Wgsl {
    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info(self.hash)
    }

    fn address_type(&self) -> StorageType {
        u32::as_type_native_unchecked().storage_type()
    }
}

impl CubeTask<AutoCompiler> for Wgsl {
    fn compile(
        &self,
        _compiler: &mut AutoCompiler,
        _options: &<AutoCompiler as cubecl::Compiler>::CompilationOptions,
        _mode: ExecutionMode,
        _address_type: StorageType,
    ) -> Result<CompiledKernel<AutoCompiler>, CompilationError> {
        Ok(CompiledKernel {
            entrypoint_name: "main".into(),
            debug_name: Some("bevy_neural_sphere fused step"),
            source: self.source.to_string(),
            cube_dim: CubeDim::new_1d(self.group),
            debug_info: None,
            repr: None,
        })
    }
}
