//! What the command-line examples share: bad input is one readable line on stderr.

use std::process::ExitCode;

use bevy_neural_sphere::Error;
use clap::Parser;

/// Parses the arguments and runs `run` with them. A bad argument prints clap's first line and
/// exits with 2; a failed run prints `error: ...` and exits with 1.
pub fn main_with<A: Parser>(run: impl FnOnce(&A) -> Result<(), Error>) -> ExitCode {
    let args = match A::try_parse() {
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
