//! What a browser says of its WebGPU adapter. wgpu passes on only its description, which
//! Chromium leaves empty, and no device type; the page's `GPUAdapterInfo` names the vendor and
//! the architecture and says whether the adapter is a fallback. That is what tells a software
//! one (Chromium's SwiftShader), beside which the CPU trains far faster, from a GPU.

use std::sync::{Arc, Mutex, PoisonError};

use bevy::prelude::*;
use wasm_bindgen::prelude::*;
use wgpu::{AdapterInfo, DeviceType};

#[wasm_bindgen(inline_js = r#"
export async function adapter_info() {
    const adapter = await navigator.gpu?.requestAdapter({ powerPreference: "high-performance" });
    const info = adapter?.info ?? {};
    const fallback = info.isFallbackAdapter ?? adapter?.isFallbackAdapter ?? false;
    return [info.vendor, info.architecture, info.description, fallback ? "fallback" : ""]
        .map((s) => s ?? "").join("\n");
}
"#)]
extern "C" {
    #[wasm_bindgen(catch)]
    async fn adapter_info() -> Result<JsValue, JsValue>;
}

/// The page's description of its adapter, once its promise has resolved.
#[derive(Resource, Clone, Default)]
pub(crate) struct BrowserAdapter(Arc<Mutex<Option<String>>>);

impl BrowserAdapter {
    /// Asks the page; the answer comes between frames.
    pub(crate) fn ask() -> Self {
        let adapter = Self::default();
        let answer = adapter.0.clone();
        wasm_bindgen_futures::spawn_local(async move {
            // A page that cannot say has no software adapter to tell.
            let info = adapter_info().await.ok().and_then(|i| i.as_string());
            let info = info.unwrap_or_default();
            *answer.lock().unwrap_or_else(PoisonError::into_inner) = Some(info);
        });
        adapter
    }

    /// `info` with the page's name for the adapter and, for a software one, the CPU device
    /// type; `None` until the page has answered.
    pub(crate) fn describe(&self, info: &AdapterInfo) -> Option<AdapterInfo> {
        let answer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut lines = answer.as_deref()?.split('\n');
        let mut next = || lines.next().unwrap_or_default().to_string();
        let (vendor, architecture, description, fallback) = (next(), next(), next(), next());
        let software = fallback == "fallback" || architecture.eq_ignore_ascii_case("swiftshader");
        let name = match description.is_empty() {
            true => format!("{vendor} {architecture}").trim().to_string(),
            false => description,
        };
        Some(AdapterInfo {
            name: if name.is_empty() {
                info.name.clone()
            } else {
                name
            },
            device_type: if software {
                DeviceType::Cpu
            } else {
                info.device_type
            },
            ..info.clone()
        })
    }
}
