//! The GPU path, on whatever adapter exists (software Vulkan on a machine without a GPU).

use bevy_neural_sphere::{CpuBackend, GpuBackend, TrainConfig, Trainer, grid_points, wgpu_device};

#[test]
fn trains_a_few_steps_on_wgpu() {
    let device = wgpu_device().expect("a wgpu adapter (install mesa-vulkan-drivers without a GPU)");
    let mut trainer = Trainer::<GpuBackend>::new(TrainConfig::new(), &device).unwrap();
    let stats = trainer.train(5);
    assert_eq!(stats.len(), 5);
    assert!(
        stats.iter().all(|s| s.loss.is_finite() && s.loss >= 0.0),
        "{stats:?}"
    );

    // The same seed draws the same network and batches on every backend.
    let cpu = Trainer::<CpuBackend>::new(TrainConfig::new(), &Default::default())
        .unwrap()
        .train(1);
    let (gpu_loss, cpu_loss) = (stats[0].loss, cpu[0].loss);
    assert!(
        (gpu_loss - cpu_loss).abs() <= 1e-3 * cpu_loss,
        "wgpu {gpu_loss}, cpu {cpu_loss}"
    );
    for v in trainer.eval(&grid_points(10)) {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
}
