//! Trains the network headless, then writes the mapped grid, the loss trace and a checkpoint.
//!
//! ```text
//! cargo run --release --example train -- --out runs/first --backend cpu
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use bevy_neural_sphere::{
    BackendKind, Checkpoint, CpuBackend, Error, GpuBackend, StepStats, TrainConfig, Trainer,
    grid_points, notebook_colour, wgpu_device, write_grid_csv, write_loss_csv, write_ply,
};
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

/// Train the square-to-sphere network and write grid.csv, grid.ply, loss.csv and model.mpk.
#[derive(Parser)]
struct Args {
    /// Optimiser steps.
    #[arg(long, default_value_t = 10_000)]
    steps: usize,
    /// Seed of the initialisation, the points, the permutations and dropout.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Points drawn per step (even).
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Side of the evaluation grid written to grid.csv and grid.ply.
    #[arg(long, default_value_t = 100)]
    grid: usize,
    /// `wgpu` (a GPU, or software Vulkan) or `cpu` (burn's flex backend).
    #[arg(long, default_value_t = BackendKind::Wgpu)]
    backend: BackendKind,
    /// Folder to write into (created if missing).
    #[arg(long)]
    out: PathBuf,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) if e.use_stderr() => {
            let rendered = e.render().to_string();
            eprintln!(
                "{}",
                rendered.lines().next().unwrap_or("error: bad arguments")
            );
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Error> {
    let config = TrainConfig::new()
        .with_seed(args.seed)
        .with_batch(args.batch);
    config.validate()?;
    if args.grid == 0 {
        return Err(Error::Config("--grid must be at least 1".into()));
    }
    prepare_out_dir(&args.out)?;
    match args.backend {
        BackendKind::Cpu => train::<CpuBackend>(args, config, &Default::default()),
        BackendKind::Wgpu => train::<GpuBackend>(args, config, &wgpu_device()?),
    }
}

/// Creates the folder and checks that it takes files, before any training time is spent.
fn prepare_out_dir(dir: &Path) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"").map_err(io)?;
    std::fs::remove_file(probe).map_err(io)
}

fn train<B: AutodiffBackend>(
    args: &Args,
    config: TrainConfig,
    device: &B::Device,
) -> Result<(), Error> {
    let mut trainer = Trainer::<B>::new(config, device)?;
    let bar = ProgressBar::new(args.steps as u64).with_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} steps  loss {msg}  {per_sec}  eta {eta}",
        )
        .expect("the template is valid"),
    );
    let started = Instant::now();
    let mut history: Vec<StepStats> = Vec::with_capacity(args.steps);
    while history.len() < args.steps {
        let chunk = trainer.train((args.steps - history.len()).min(100));
        bar.set_message(format!("{:.1}", mean_loss(&chunk)));
        bar.inc(chunk.len() as u64);
        history.extend(chunk);
    }
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let points = grid_points(args.grid);
    let mapped = trainer.eval(&points);
    let colours: Vec<[u8; 3]> = points.iter().map(|&p| notebook_colour(p)).collect();
    write_grid_csv(&args.out.join("grid.csv"), &points, &mapped)?;
    write_ply(&args.out.join("grid.ply"), &mapped, &colours)?;
    write_loss_csv(&args.out.join("loss.csv"), &history)?;
    let checkpoint = Checkpoint {
        config: trainer.config().clone(),
        steps: trainer.steps_done(),
        model: trainer.model().valid(),
    };
    let model_path = checkpoint.save(&args.out.join("model"))?;

    let tail = &history[history.len().saturating_sub(100)..];
    println!(
        "trained {} steps on {} in {seconds:.1} s ({:.0} steps/s); final loss {:.1} (mean of the \
         last {} steps); wrote {}, grid.csv, grid.ply, loss.csv",
        history.len(),
        args.backend,
        history.len() as f64 / seconds,
        mean_loss(tail),
        tail.len(),
        model_path.display(),
    );
    Ok(())
}

fn mean_loss(stats: &[StepStats]) -> f64 {
    stats.iter().map(|s| s.loss as f64).sum::<f64>() / stats.len().max(1) as f64
}
