//! The `train`, `record` and `demo` examples as a user runs them.

use std::path::PathBuf;
use std::process::{Command, Output};

/// An example binary that `cargo test` builds beside this test binary.
fn example(name: &str) -> Command {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let exe: PathBuf = deps.parent().unwrap().join("examples").join(name);
    assert!(
        exe.exists(),
        "{} is missing: build it with cargo test --release",
        exe.display()
    );
    Command::new(exe)
}

fn run(args: &[&str]) -> Output {
    example("train").args(args).output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("neural-sphere-cli-{name}-{}", std::process::id()))
}

#[test]
fn writes_grid_loss_and_checkpoint() {
    let out = temp_dir("ok");
    let output = run(&[
        "--backend",
        "cpu",
        "--steps",
        "30",
        "--grid",
        "7",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(summary.contains("trained 30 steps on cpu"), "{summary}");

    let grid = std::fs::read_to_string(out.join("grid.csv")).unwrap();
    let lines: Vec<&str> = grid.lines().collect();
    assert_eq!(lines[0], "u,v,x,y,z");
    assert_eq!(lines.len(), 1 + 49);
    assert!(lines[1].starts_with("-0.5,-0.5,"), "{}", lines[1]);
    assert!(lines[49].starts_with("0.5,0.5,"), "{}", lines[49]);

    let loss = std::fs::read_to_string(out.join("loss.csv")).unwrap();
    assert_eq!(loss.lines().next(), Some("step,loss,lr"));
    assert_eq!(loss.lines().count(), 1 + 30);

    let ply = std::fs::read_to_string(out.join("grid.ply")).unwrap();
    assert!(ply.contains("element vertex 49\n"));
    let first_vertex = ply
        .lines()
        .skip_while(|l| *l != "end_header")
        .nth(1)
        .unwrap();
    assert!(first_vertex.ends_with(" 70 70 0"), "{first_vertex}");
    // The glb is the surface of the grid in grid.csv: its points, and any seam stitches.
    let mapped: Vec<[f32; 3]> = (lines[1..].iter())
        .map(|l| {
            let xyz: Vec<f32> = l.split(',').skip(2).map(|c| c.parse().unwrap()).collect();
            [xyz[0], xyz[1], xyz[2]]
        })
        .collect();
    let surface = bevy_neural_sphere::learn::SphereSurface::new(7, &mapped);
    let glb = std::fs::read(out.join("grid.glb")).unwrap();
    let gltf = gltf::Gltf::from_slice(&glb).unwrap();
    let primitive = gltf.meshes().next().unwrap().primitives().next().unwrap();
    assert_eq!(
        primitive.get(&gltf::Semantic::Positions).unwrap().count(),
        surface.positions.len()
    );
    assert!(primitive.get(&gltf::Semantic::Colors(0)).is_some());
    assert!(out.join("model.mpk").is_file());
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn bad_input_is_one_readable_line_and_a_failure() {
    let blocker = temp_dir("file");
    std::fs::write(&blocker, b"a file, not a folder").unwrap();
    let inside_a_file = blocker.join("out");
    for args in [
        vec!["--steps", "many", "--out", "x"],
        vec!["--backend", "tpu", "--out", "x"],
        vec!["--steps", "5"],
        vec!["--batch", "7", "--backend", "cpu", "--out", "x"],
        vec!["--backend", "cpu", "--out", inside_a_file.to_str().unwrap()],
    ] {
        let output = run(&args);
        let message = stderr(&output);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert_eq!(message.trim_end().lines().count(), 1, "{args:?}: {message}");
        assert!(!message.contains("panicked"), "{message}");
    }
    std::fs::remove_file(blocker).unwrap();
}

#[test]
fn train_prints_the_sphere_metrics_of_a_preset() {
    let out = temp_dir("closed");
    let output = run(&[
        "--backend",
        "cpu",
        "--preset",
        "closed",
        "--steps",
        "20",
        "--grid",
        "10",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(summary.contains("uniformity t=40"), "{summary}");
    assert!(
        summary.contains("net 10-64-64-64-3 from cone features"),
        "{summary}"
    );
    assert!(summary.contains("10x10 grid: coverage"), "{summary}");
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn record_refuses_bad_input_in_one_line() {
    let no_ffmpeg = |args: &[&str]| {
        example("record")
            .args(args)
            .env("PATH", "")
            .output()
            .unwrap()
    };
    for (args, says) in [
        (vec!["--out", "x.avi", "--checkpoint", "c.mpk"], ".avi"),
        (vec!["--out", "x.gif"], "--train-steps"),
        (vec!["--out", "x.gif", "--size", "big"], "WIDTHxHEIGHT"),
        (
            vec!["--out", "x.gif", "--view", "sideways"],
            "unknown view 'sideways'",
        ),
        (
            vec!["--out", "x.gif", "--checkpoint", "missing.mpk"],
            "missing.mpk",
        ),
        (
            vec!["--out", "x.mp4", "--checkpoint", "c.mpk"],
            "apt install ffmpeg",
        ),
    ] {
        let output = no_ffmpeg(&args);
        let message = stderr(&output);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert_eq!(message.trim_end().lines().count(), 1, "{args:?}: {message}");
        assert!(message.contains(says), "{args:?}: {message}");
    }
}

#[test]
fn demo_refuses_bad_input_in_one_line() {
    for (args, says) in [
        (vec!["--grid", "0"], "--grid"),
        (vec!["--grid", "many"], "--grid"),
        (vec!["--backend", "tpu"], "--backend"),
        (vec!["--view", "sideways"], "--view"),
    ] {
        let output = example("demo").args(&args).output().unwrap();
        let message = stderr(&output);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert_eq!(message.trim_end().lines().count(), 1, "{args:?}: {message}");
        assert!(message.contains(says), "{args:?}: {message}");
    }
}

#[test]
fn without_any_adapter_each_example_says_what_it_does_in_one_line() {
    // Vulkan only, and no Vulkan driver: wgpu finds no adapter at all.
    let no_adapter = |name: &str, args: &[&str]| {
        example(name)
            .args(args)
            .env("WGPU_BACKEND", "vulkan")
            .env("VK_ICD_FILENAMES", "/nonexistent.json")
            .output()
            .unwrap()
    };
    let out = temp_dir("no-adapter");
    let out = out.to_str().unwrap();

    let trained = no_adapter("train", &["--steps", "5", "--grid", "5", "--out", out]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    let said = String::from_utf8_lossy(&trained.stdout);
    assert!(
        said.contains("training on the CPU: no usable GPU adapter"),
        "{said}"
    );

    let gif = format!("{out}/orbit.gif");
    for (name, args, says) in [
        (
            "train",
            vec!["--backend", "wgpu", "--out", out],
            "--backend cpu",
        ),
        (
            "record",
            vec!["--out", &gif, "--train-steps", "5"],
            "nothing to draw with",
        ),
        (
            "demo",
            vec!["--headless-frames", "5"],
            "nothing to draw with",
        ),
    ] {
        let output = no_adapter(name, &args);
        let message = stderr(&output);
        assert!(!output.status.success(), "{name} {args:?} succeeded");
        assert_eq!(message.trim_end().lines().count(), 1, "{name}: {message}");
        assert!(message.contains(says), "{name}: {message}");
    }
    std::fs::remove_dir_all(out).unwrap();
}
