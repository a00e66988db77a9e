//! The GPU path, on whatever adapter exists (software Vulkan on a machine without a GPU).

use std::sync::OnceLock;

use bevy_neural_sphere::{
    Preset, TrainConfig,
    learn::{
        GpuTarget, Trainer, TrainingDevice, grid_points, share_wgpu_device, wgpu_device, wgpu_setup,
    },
};
use burn::backend::wgpu::WgpuDevice;

pub(crate) const NO_ADAPTER: &str = "a wgpu adapter (install mesa-vulkan-drivers without a GPU)";

/// One wgpu device for the GPU tests: each device burn is given keeps a polling thread for the
/// rest of the process, which the suite's later tests (and the web test's build) would share
/// the cores with.
pub(crate) fn gpu() -> TrainingDevice {
    static DEVICE: OnceLock<WgpuDevice> = OnceLock::new();
    let device = DEVICE.get_or_init(|| wgpu_device().expect(NO_ADAPTER));
    TrainingDevice::Wgpu(device.clone())
}

#[test]
fn trains_a_few_steps_on_wgpu() {
    let device = gpu();
    let mut trainer = Trainer::new(TrainConfig::new(), &device).unwrap();
    let stats = trainer.train(5).unwrap();
    assert_eq!(stats.len(), 5);
    assert!(
        stats.iter().all(|s| s.loss.is_finite() && s.loss >= 0.0),
        "{stats:?}"
    );

    // The same seed draws the same network and batches on every backend.
    let cpu = Trainer::new(TrainConfig::new(), &TrainingDevice::Cpu)
        .unwrap()
        .train(1)
        .unwrap();
    let (gpu_loss, cpu_loss) = (stats[0].loss, cpu[0].loss);
    assert!(
        (gpu_loss - cpu_loss).abs() <= 1e-3 * cpu_loss,
        "wgpu {gpu_loss}, cpu {cpu_loss}"
    );
    for v in trainer.eval(&grid_points(10)).unwrap() {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
}

/// Reads a buffer back through a staging buffer.
fn read_buffer(setup: &burn::backend::wgpu::WgpuSetup, buffer: &wgpu::Buffer) -> Vec<f32> {
    let staging = setup.device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: buffer.size(),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = setup.device.create_command_encoder(&Default::default());
    encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, buffer.size());
    setup.queue.submit([encoder.finish()]);
    staging.map_async(wgpu::MapMode::Read, .., |mapped| mapped.unwrap());
    setup
        .device
        .poll(wgpu::PollType::wait_indefinitely())
        .unwrap();
    let bytes = staging.get_mapped_range(..);
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_ne_bytes(b.try_into().unwrap()))
        .collect()
}

#[test]
fn the_mapping_is_copied_into_a_buffer_on_the_gpu() {
    let setup = wgpu_setup().expect(NO_ADAPTER);
    let device = TrainingDevice::Wgpu(share_wgpu_device(setup.clone()));
    let trainer = Trainer::new(Preset::Closed.config(), &device).unwrap();
    let points = grid_points(9);
    // Room for more than the grid: the copy fills the start and leaves the rest.
    let buffer = setup.device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: (points.len() * 3 * 4 + 64) as u64,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let target = GpuTarget {
        device: setup.device.clone(),
        queue: setup.queue.clone(),
        buffer: buffer.clone(),
    };
    trainer.eval_into(&points, &target).unwrap();

    let copied = read_buffer(&setup, &buffer);
    let expected: Vec<f32> = trainer
        .eval(&points)
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(copied.len(), expected.len() + 16);
    for (i, (a, b)) in copied.iter().zip(&expected).enumerate() {
        assert!((a - b).abs() < 1e-5, "value {i}: copied {a}, evaluated {b}");
    }
    assert!(copied[expected.len()..].iter().all(|&x| x == 0.0));

    let small = setup.device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 16,
        usage: wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let too_small = GpuTarget {
        buffer: small,
        ..target
    };
    let err = trainer.eval_into(&points, &too_small).unwrap_err();
    assert!(err.contains("do not fit"), "{err}");
}
