//! Trains the network headless, then writes the mapped grid (points and surface), the loss trace
//! and a checkpoint, and prints how well the grid covers the sphere.
//!
//! ```text
//! cargo run --release --example train -- --out runs/first --backend cpu
//! cargo run --release --example train -- --out runs/closed --backend cpu --preset closed
//! ```

#[path = "support/cli.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use bevy_neural_sphere::{
    BackendKind, Error, Preset,
    learn::{
        Activation, DistortionScale, InputEncoding, Objective, SphereNetConfig, SphereSurface,
        StepStats, SurfacePaint, Trainer, grid_metrics, grid_points, notebook_colour,
        sphere_metrics, training_device, write_cells_csv, write_glb, write_grid_csv,
        write_loss_csv, write_ply,
    },
};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

/// Train the square-to-sphere network and write grid.csv, cells.csv (each cell's distortion),
/// grid.ply, grid.glb, loss.csv and model.mpk.
#[derive(Parser)]
struct Args {
    /// Optimiser steps.
    #[arg(long, default_value_t = 10_000)]
    steps: usize,
    /// Seed of the initialisation, the points, the permutations and dropout.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Starting configuration: `seed` (the notebook's) or `closed` (closes the sphere).
    #[arg(long, default_value = "seed")]
    preset: Preset,
    /// Loss, overriding the preset's: `seed` or `uniformity`.
    #[arg(long)]
    objective: Option<Objective>,
    /// Temperature of the uniformity loss, overriding the preset's.
    #[arg(long)]
    temperature: Option<f64>,
    /// Initial learning rate, overriding the preset's.
    #[arg(long)]
    lr: Option<f64>,
    /// Points drawn per step (even), overriding the preset's.
    #[arg(long)]
    batch: Option<usize>,
    /// Weight of the running average of the parameters that is shown and saved, in [0, 1),
    /// overriding the preset's (0 keeps the last step's parameters).
    #[arg(long)]
    average: Option<f64>,
    /// Weight of the equal-area term, overriding the preset's (0 leaves it out).
    #[arg(long)]
    area_weight: Option<f64>,
    /// Weight of the shape term, overriding the preset's (0 leaves it out).
    #[arg(long)]
    shape_weight: Option<f64>,
    /// Step from which the equal-area and shape terms count, overriding the preset's.
    #[arg(long)]
    area_from: Option<usize>,
    /// Steps between learning-rate decays, overriding the preset's.
    #[arg(long)]
    lr_step: Option<usize>,
    /// Factor of each learning-rate decay, overriding the preset's.
    #[arg(long)]
    lr_gamma: Option<f64>,
    /// Bound on every parameter after each step, overriding the preset's 2.
    #[arg(long)]
    clamp: Option<f32>,
    /// Hidden layer widths, overriding the preset's network, for example 64,64,64.
    #[arg(long, value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
    /// Activation after every hidden layer, with --hidden: identity, relu, silu or tanh.
    #[arg(long, default_value = "silu", value_parser = parse_activation)]
    activation: Activation,
    /// Dropout after every hidden layer, with --hidden.
    #[arg(long, default_value_t = 0.0)]
    dropout: f64,
    /// What the first layer sees of a point, overriding the preset's: `point` (u, v) or
    /// `cones` (with features that can open the square's edge midpoints).
    #[arg(long)]
    encoding: Option<InputEncoding>,
    /// Side of the evaluation grid written to grid.csv, grid.ply and grid.glb.
    #[arg(long, default_value_t = 100)]
    grid: usize,
    /// `auto` (a hardware GPU, else the CPU), `wgpu` (any adapter, software Vulkan too) or
    /// `cpu` (burn's flex backend).
    #[arg(long, default_value_t = BackendKind::Auto)]
    backend: BackendKind,
    /// Paint grid.ply and grid.glb by a distortion, `area` or `shape`, instead of the notebook's
    /// colours.
    #[arg(long)]
    colour: Option<DistortionScale>,
    /// Folder to write into (created if missing).
    #[arg(long)]
    out: PathBuf,
}

fn main() -> ExitCode {
    support::main_with(run)
}

fn run(args: &Args) -> Result<(), Error> {
    let mut config = args.preset.config().with_seed(args.seed);
    config.objective = args.objective.unwrap_or(config.objective);
    config.temperature = args.temperature.unwrap_or(config.temperature);
    config.lr = args.lr.unwrap_or(config.lr);
    config.batch = args.batch.unwrap_or(config.batch);
    config.clamp = args.clamp.unwrap_or(config.clamp);
    config.average = args.average.unwrap_or(config.average);
    config.area_weight = args.area_weight.unwrap_or(config.area_weight);
    config.area_from = args.area_from.unwrap_or(config.area_from);
    config.shape_weight = args.shape_weight.unwrap_or(config.shape_weight);
    config.lr_step = args.lr_step.unwrap_or(config.lr_step);
    config.lr_gamma = args.lr_gamma.unwrap_or(config.lr_gamma);
    if let Some(hidden) = &args.hidden {
        config.model = SphereNetConfig::new()
            .with_activations(vec![args.activation; hidden.len()])
            .with_dropout(vec![args.dropout; hidden.len()])
            .with_hidden(hidden.clone())
            .with_encoding(config.model.encoding);
    }
    config.model.encoding = args.encoding.unwrap_or(config.model.encoding);
    config.validate()?;
    if args.grid == 0 {
        return Err(Error::Config("--grid must be at least 1".into()));
    }
    prepare_out_dir(&args.out)?;
    let (device, choice) = training_device(args.backend)?;
    println!("{choice}");
    let trainer = Trainer::new(config, &device)?;
    println!("{}", trainer.training_path());
    train(args, trainer)
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

fn train(args: &Args, mut trainer: Trainer) -> Result<(), Error> {
    let bar = ProgressBar::new(args.steps as u64).with_style(
        ProgressStyle::with_template(
            "{bar:40} {pos}/{len} steps  loss {msg}  {per_sec}  eta {eta}",
        )
        .expect("the template is valid"),
    );
    let started = Instant::now();
    let mut history: Vec<StepStats> = Vec::with_capacity(args.steps);
    // A run that stops for good still writes what its last finite network maps, then fails.
    let mut stopped = None;
    while history.len() < args.steps {
        let recovered = trainer.recoveries().len();
        let pending = trainer.train_deferred((args.steps - history.len()).min(100));
        let chunk = trainer.collect(pending)?;
        for recovery in &trainer.recoveries()[recovered..] {
            bar.suspend(|| println!("{recovery}"));
        }
        bar.set_message(format!("{:.1}", mean_loss(&chunk)));
        bar.inc(chunk.len() as u64);
        history.extend(chunk);
        if let Some(why) = trainer.stuck() {
            stopped = Some(Error::Training(why.to_string()));
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let points = grid_points(args.grid);
    let mapped = trainer.eval(&points)?;
    let colours: Vec<[u8; 3]> = match args.colour {
        Some(scale) => scale.point_colours(args.grid, &mapped),
        None => points.iter().map(|&p| notebook_colour(p)).collect(),
    };
    write_grid_csv(&args.out.join("grid.csv"), &points, &mapped)?;
    write_cells_csv(&args.out.join("cells.csv"), args.grid, &mapped)?;
    write_ply(&args.out.join("grid.ply"), &mapped, &colours)?;
    let surface = SphereSurface::new(args.grid, &mapped);
    let paint = SurfacePaint::VertexColours(&colours);
    write_glb(&args.out.join("grid.glb"), &surface, paint)?;
    write_loss_csv(&args.out.join("loss.csv"), &history)?;
    let model_path = trainer.save(&args.out.join("model"))?;

    let tail = &history[history.len().saturating_sub(100)..];
    println!("{}", trainer.config().summary());
    println!(
        "trained {} steps on {} in {seconds:.1} s ({:.0} steps/s); final loss {:.4} (mean of the \
         last {} steps); wrote {}, grid.csv, cells.csv, grid.ply, grid.glb, loss.csv",
        history.len(),
        trainer.backend(),
        history.len() as f64 / seconds,
        mean_loss(tail),
        tail.len(),
        model_path.display(),
    );
    if let Some(last) = trainer.recoveries().last() {
        println!(
            "went back to a finite network {} times after non-finite losses; learning rate now \
             {:.3e}",
            trainer.recoveries().len(),
            last.lr
        );
    }
    let measuring = Instant::now();
    let sphere = sphere_metrics(&mapped);
    let grid = grid_metrics(args.grid, &mapped);
    let measured_in = measuring.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{}x{} grid: coverage {:.2} %, largest empty cap {:.2} deg, |mean| {:.4}, uniformity \
         {:.4}, torn neighbours {:.3} %, covered twice {:.2} %, area sum {:.3}, area CV {:.3}, \
         shape median {:.2}, p95 {:.2}, over 2 {:.1} % (measured in {measured_in:.0} ms)",
        args.grid,
        args.grid,
        sphere.coverage * 100.0,
        sphere.largest_empty_cap_deg,
        sphere.mean_resultant,
        sphere.uniformity,
        grid.torn_pairs * 100.0,
        grid.overlap * 100.0,
        grid.area_sum,
        grid.area_cv,
        grid.shape_median,
        grid.shape_p95,
        grid.shape_over_2 * 100.0,
    );
    stopped.map_or(Ok(()), Err)
}

fn parse_activation(s: &str) -> Result<Activation, String> {
    match s {
        "identity" => Ok(Activation::Identity),
        "relu" => Ok(Activation::Relu),
        "silu" => Ok(Activation::Silu),
        "tanh" => Ok(Activation::Tanh),
        _ => Err(format!(
            "unknown activation '{s}' (identity, relu, silu or tanh)"
        )),
    }
}

fn mean_loss(stats: &[StepStats]) -> f64 {
    stats.iter().map(|s| s.loss as f64).sum::<f64>() / stats.len().max(1) as f64
}
