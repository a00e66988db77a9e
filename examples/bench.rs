//! Measures training steps per second of a preset's step on each backend.
//!
//! ```text
//! cargo run --release --example bench -- --steps 3000 [--preset closed]
//! ```

use std::time::Instant;

use bevy_neural_sphere::{CpuBackend, GpuBackend, Preset, Trainer, wgpu_device};
use burn::backend::{Autodiff, NdArray};
use burn::tensor::backend::AutodiffBackend;
use clap::Parser;

/// Time a preset's training step on each backend.
#[derive(Parser)]
struct Args {
    /// `seed` (the notebook's step: 1000 points, two dropout passes) or `closed`.
    #[arg(long, default_value = "seed")]
    preset: Preset,
    /// Timed steps per backend, after 100 warm-up steps.
    #[arg(long, default_value_t = 3000)]
    steps: usize,
    /// Timed steps on wgpu (slow on software Vulkan).
    #[arg(long, default_value_t = 200)]
    wgpu_steps: usize,
}

/// Steps per second over `steps` steps, reading the losses back every 100 steps as `train` does.
fn steps_per_second<B: AutodiffBackend>(preset: Preset, device: &B::Device, steps: usize) -> f64 {
    let mut trainer = Trainer::<B>::new(preset.config(), device).expect("presets are valid");
    trainer.train(100);
    let started = Instant::now();
    let mut done = 0;
    while done < steps {
        done += trainer.train((steps - done).min(100)).len();
    }
    steps as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let args = Args::parse();
    let preset = args.preset;
    let flex = steps_per_second::<CpuBackend>(preset, &Default::default(), args.steps);
    let mut rows = vec![
        ("flex (cpu)".to_string(), flex),
        (
            "ndarray".to_string(),
            steps_per_second::<Autodiff<NdArray>>(preset, &Default::default(), args.steps),
        ),
    ];
    match wgpu_device() {
        Ok(device) => rows.push((
            "wgpu".into(),
            steps_per_second::<GpuBackend>(preset, &device, args.wgpu_steps),
        )),
        Err(e) => eprintln!("skipping wgpu: {e}"),
    }
    println!("{} preset", preset.name());
    println!("{:<12} {:>10} {:>12}", "backend", "steps/s", "vs flex");
    for (name, rate) in rows {
        println!("{name:<12} {rate:>10.1} {:>11.2}x", rate / flex);
    }
}
