//! Measures training: steps per second of a preset's step on each backend, or how long the
//! `closed` preset takes to close the sphere; beside the PyTorch reference when it is given.
//! On wgpu it times the fused step and burn's op path, and counts the kernels each launches a
//! step from cubecl's own log of launches.
//!
//! ```text
//! cargo run --release --example bench -- --steps 3000 [--preset closed]
//! cargo run --release --example bench -- --preset closed --steps 1000 \
//!     --reference ../shared/reference/closed_reference.py
//! cargo run --release --example bench -- --time-to-closed --seeds 5 \
//!     --reference ../shared/reference/closed_reference.py
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use bevy_neural_sphere::{
    BackendKind, Preset, TrainConfig,
    learn::{
        Trainer, TrainingDevice, grid_metrics, grid_points, sphere_metrics, training_device,
        wgpu_device,
    },
};
use clap::Parser;
use cubecl::config::profiling::ProfilingLogLevel;
use cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};

/// The allocator the other examples train with (`support/cli.rs` says why), so the steps timed
/// here are theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Time a preset's training step on each backend, or the closed preset's time to close.
#[derive(Parser)]
struct Args {
    /// `seed` (the notebook's step: 1000 points, two dropout passes) or `closed`.
    #[arg(long, default_value = "seed")]
    preset: Preset,
    /// Timed steps per backend, after 100 warm-up steps.
    #[arg(long, default_value_t = 3000)]
    steps: usize,
    /// Timed steps on wgpu (slow on software Vulkan); 0 leaves wgpu out.
    #[arg(long, default_value_t = 200)]
    wgpu_steps: usize,
    /// Instead of speed: train the closed preset (on --backend), check the 100×100 grid every 100
    /// steps, and report per seed when it first meets the closed bar, from when on it keeps
    /// it, and the grid's metrics at the end.
    #[arg(long)]
    time_to_closed: bool,
    /// Where --time-to-closed trains: `cpu`, `wgpu` (the fused step) or `auto`.
    #[arg(long, default_value = "cpu")]
    backend: BackendKind,
    /// Seeds 0..N for --time-to-closed.
    #[arg(long, default_value_t = 5)]
    seeds: u64,
    /// Steps each seed trains for with --time-to-closed.
    #[arg(long, default_value_t = 10_000)]
    closed_steps: usize,
    /// The PyTorch reference of the closed step (`closed_reference.py`), run with one thread
    /// beside each measurement.
    #[arg(long)]
    reference: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    match args.time_to_closed {
        true => time_to_closed(&args),
        false => speed(&args),
    }
}

/// What timing one way of training found.
struct Measured {
    steps_per_second: f64,
    /// From making the trainer to the first step's loss on the host.
    first_step_seconds: f64,
    /// Kernels launched per step, from cubecl's log; `None` on the CPU.
    launches: Option<f64>,
}

/// Times `start`'s trainer over `steps` steps after 100 warm-up steps, reading the losses back
/// every 100 steps as `train` does; counts launches in `log` when given.
fn measure(start: impl FnOnce() -> Trainer, steps: usize, log: Option<&Path>) -> Measured {
    let started = Instant::now();
    let mut trainer = start();
    trainer.train(1).expect("a preset trains");
    let first_step_seconds = started.elapsed().as_secs_f64();
    trainer.train(99).expect("a preset trains");
    let launches = log.map(|log| {
        const COUNTED: usize = 20;
        let before = launches_logged(log);
        trainer.train(COUNTED).expect("a preset trains");
        (launches_logged(log) - before) as f64 / COUNTED as f64
    });
    let started = Instant::now();
    let mut done = 0;
    while done < steps {
        done += (trainer.train((steps - done).min(100)))
            .expect("a preset trains")
            .len();
    }
    Measured {
        steps_per_second: steps as f64 / started.elapsed().as_secs_f64(),
        first_step_seconds,
        launches,
    }
}

/// Makes cubecl log every kernel it launches to `log`, one line each, without timing them.
/// Must come before any GPU work.
fn log_launches(log: &Path) {
    let mut config = CubeClRuntimeConfig::default();
    config.profiling.logger.level = ProfilingLogLevel::Minimal;
    config.profiling.logger.file = Some(log.into());
    CubeClRuntimeConfig::set(config);
}

/// Launches logged so far: cubecl writes its log from a thread of its own, so this waits for
/// the count to settle.
fn launches_logged(log: &Path) -> usize {
    let count = || {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        text.lines().filter(|l| l.contains("Executing")).count()
    };
    let mut last = count();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let now = count();
        if now == last {
            return now;
        }
        last = now;
    }
}

fn speed(args: &Args) {
    let preset = args.preset;
    let config = || -> TrainConfig { preset.config() };
    let log = std::env::temp_dir().join(format!("bench-launches-{}.log", std::process::id()));
    if args.wgpu_steps > 0 {
        log_launches(&log);
    }
    let cpu = || Trainer::new(config(), &TrainingDevice::Cpu).expect("presets are valid");
    let flex = measure(cpu, args.steps, None);
    let mut rows = vec![("flex (cpu)".to_string(), flex.steps_per_second, Some(flex))];
    match (args.wgpu_steps > 0).then(wgpu_device) {
        None => {}
        Some(Ok(device)) => {
            let device = TrainingDevice::Wgpu(device);
            let fused = || Trainer::new(config(), &device).expect("presets are valid");
            let fused = measure(fused, args.wgpu_steps, Some(&log));
            rows.push((
                "wgpu fused step".into(),
                fused.steps_per_second,
                Some(fused),
            ));
            let ops = || Trainer::with_burn_ops(config(), &device).expect("presets are valid");
            let ops = measure(ops, args.wgpu_steps, Some(&log));
            rows.push(("wgpu burn ops".into(), ops.steps_per_second, Some(ops)));
        }
        Some(Err(e)) => eprintln!("skipping wgpu: {e}"),
    }
    if let Some(script) = &args.reference {
        let output = reference(script, &["--steps", &args.steps.to_string()]);
        match number_before(&output, " steps/s") {
            Some(rate) => rows.push(("pytorch (1 thread)".into(), rate, None)),
            None => eprintln!("the reference printed no steps/s: {output}"),
        }
    }
    let _ = std::fs::remove_file(&log);
    println!("{} preset", preset.name());
    println!(
        "{:<20} {:>10} {:>9} {:>16} {:>16}",
        "backend", "steps/s", "vs flex", "launches/step", "first step (s)"
    );
    let flex = rows[0].1;
    for (name, rate, measured) in rows {
        let launches = measured
            .as_ref()
            .and_then(|m| m.launches)
            .map_or("-".into(), |l| format!("{l:.1}"));
        let first = measured.map_or("-".into(), |m| format!("{:.2}", m.first_step_seconds));
        println!(
            "{name:<20} {rate:>10.1} {:>8.3}x {launches:>16} {first:>16}",
            rate / flex
        );
    }
}

/// When a run met the closed bar: first, and from when on it kept it (training step and
/// seconds).
#[derive(Default)]
struct Closing {
    first: Option<(usize, f64)>,
    kept_from: Option<(usize, f64)>,
}

impl Closing {
    fn check(&mut self, closed: bool, at: (usize, f64)) {
        match closed {
            true => {
                self.first.get_or_insert(at);
                self.kept_from.get_or_insert(at);
            }
            false => self.kept_from = None,
        }
    }
}

fn time_to_closed(args: &Args) {
    const EVERY: usize = 100;
    let grid = grid_points(100);
    let preset = Preset::Closed.config();
    let (device, choice) = training_device(args.backend).expect("the backend opens");
    println!("{choice}");
    println!(
        "closed preset, {} steps; the 100x100 grid checked every {EVERY} steps \
         (checks not timed) against coverage >= 99 %, largest empty cap <= 5 deg, no torn \
         neighbours, covered twice < 0.5 % (PyTorch, at the same temperature with its own lr \
         schedule: the first two only)",
        args.closed_steps
    );
    let step_and_time = |at: Option<(usize, f64)>| {
        at.map_or("never".into(), |(step, s)| format!("{step} ({s:.1} s)"))
    };
    println!(
        "{:<6} {:>16} {:>16} {:>9} {:>7} {:>7} {:>9} {:>8} {:>7} {:>7} {:>28}",
        "seed",
        "first closed",
        "closed from",
        "coverage",
        "cap",
        "twice",
        "area sum",
        "area CV",
        "shape",
        "p95",
        "pytorch first closed"
    );
    let mut kept = Vec::new();
    let mut finals = Vec::new();
    for seed in 0..args.seeds {
        let config = preset.clone().with_seed(seed);
        let mut trainer = Trainer::new(config, &device).expect("presets are valid");
        let mut closing = Closing::default();
        let mut seconds = 0.0;
        let mut last = None;
        while trainer.steps_done() < args.closed_steps {
            let started = Instant::now();
            trainer.train(EVERY).expect("the closed preset trains");
            seconds += started.elapsed().as_secs_f64();
            let mapped = trainer.eval(&grid).expect("the device reads back");
            let (sphere, grid) = (sphere_metrics(&mapped), grid_metrics(100, &mapped));
            closing.check(
                sphere.is_closed() && grid.is_clean(),
                (trainer.steps_done(), seconds),
            );
            last = Some((sphere, grid));
        }
        let (sphere, grid) = last.expect("at least one check");
        let quality = [
            sphere.coverage * 100.0,
            sphere.largest_empty_cap_deg,
            grid.overlap * 100.0,
            grid.area_sum,
            grid.area_cv,
            grid.shape_median,
            grid.shape_p95,
        ];
        finals.push(quality);
        kept.push(closing.kept_from.map_or(f64::INFINITY, |(_, s)| s));
        let pytorch = match &args.reference {
            Some(script) => {
                let steps = args.closed_steps.to_string();
                let seed = seed.to_string();
                let every = EVERY.to_string();
                let t = preset.temperature.to_string();
                let args = ["--steps", &steps, "--seed", &seed, "--eval-every", &every];
                let args = [&args[..], &["--temperature", &t]].concat();
                let output = reference(script, &args);
                let answer = output
                    .lines()
                    .find_map(|l| l.strip_prefix("closed (>= 99 %, <= 5 deg) "));
                answer.unwrap_or("no answer").to_string()
            }
            None => String::new(),
        };
        println!(
            "{seed:<6} {:>16} {:>16} {}{pytorch:>29}",
            step_and_time(closing.first),
            step_and_time(closing.kept_from),
            quality_columns(quality),
        );
    }
    let median = |i: usize| {
        let mut column: Vec<f64> = finals.iter().map(|q| q[i]).collect();
        column.sort_by(f64::total_cmp);
        column[column.len() / 2]
    };
    if !finals.is_empty() {
        let medians = quality_columns([0, 1, 2, 3, 4, 5, 6].map(median));
        println!("{:<6} {:>16} {:>16} {medians}", "median", "", "");
    }
    // A seed that never stays closed counts as the slowest.
    kept.sort_by(f64::total_cmp);
    if let Some(median) = kept.get(kept.len() / 2) {
        let held = kept.iter().filter(|s| s.is_finite()).count();
        println!(
            "median training seconds until the sphere stays closed: {median:.1} s \
             ({held} of {} seeds stay closed)",
            args.seeds
        );
    }
}

/// Coverage, largest empty cap, covered twice, area sum, area CV and the median and 95th
/// percentile of the shape distortion, as table columns.
fn quality_columns([coverage, cap, twice, area_sum, area_cv, shape, p95]: [f64; 7]) -> String {
    format!(
        "{coverage:>8.2}% {cap:>6.2}° {twice:>6.2}% {area_sum:>9.3} {area_cv:>8.3} {shape:>7.2} \
         {p95:>7.2}"
    )
}

/// Runs the PyTorch reference on one thread and returns what it printed.
fn reference(script: &Path, args: &[&str]) -> String {
    let output = Command::new("python3")
        .arg(script)
        .args(["--threads", "1"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", script.display()));
    assert!(
        output.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The number that ends right before `unit` in `text`.
fn number_before(text: &str, unit: &str) -> Option<f64> {
    let end = text.find(unit)?;
    let start = text[..end].rfind(' ').map_or(0, |i| i + 1);
    text[start..end].parse().ok()
}
