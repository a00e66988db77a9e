//! What the command-line examples share: bad input is one readable line on stderr. In a
//! browser the page's query string is the command line (`?preset=closed&grid=64` reads as
//! `--preset closed --grid 64`) and the line goes to the page.

use std::process::ExitCode;

use bevy_neural_sphere::Error;
use clap::Parser;

/// The examples' allocator. The CPU trainer frees megabyte-sized tensors every step and asks for
/// them again the next; glibc's malloc hands them back to the OS in between and then takes page
/// faults to get them back, a third of a closed step's time. mimalloc keeps them.
#[cfg(not(target_arch = "wasm32"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Parses the arguments and runs `run` with them. A bad argument prints clap's first line and
/// exits with 2; a failed run prints `error: ...` and exits with 1.
pub fn main_with<A: Parser>(run: impl FnOnce(&A) -> Result<(), Error>) -> ExitCode {
    let args = match A::try_parse_from(arguments()) {
        Ok(args) => args,
        Err(e) if e.use_stderr() => {
            let rendered = e.render().to_string();
            complain(rendered.lines().next().unwrap_or("error: bad arguments"));
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            complain(&format!("error: {e}"));
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn arguments() -> Vec<String> {
    std::env::args().collect()
}

#[cfg(not(target_arch = "wasm32"))]
fn complain(line: &str) {
    eprintln!("{line}");
}

/// The page's query string as arguments: `a=b` is `--a b`, a bare `a` is `--a`.
#[cfg(target_arch = "wasm32")]
fn arguments() -> Vec<String> {
    fn field(of: &wasm_bindgen::JsValue, name: &str) -> Option<wasm_bindgen::JsValue> {
        js_sys::Reflect::get(of, &name.into()).ok()
    }
    let query = field(&js_sys::global(), "location")
        .and_then(|location| field(&location, "search")?.as_string())
        .unwrap_or_default();
    let mut args = vec!["demo".to_string()];
    for pair in query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        args.push(format!("--{key}"));
        if !value.is_empty() {
            args.push(value.to_string());
        }
    }
    args
}

/// Shows the line in the page's message box.
#[cfg(target_arch = "wasm32")]
fn complain(line: &str) {
    web_sys::console::error_1(&line.into());
    let message = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("message"));
    if let Some(message) = message {
        message.set_text_content(Some(line));
        let _ = message.set_attribute("class", "shown");
    }
}
