//! Where the files the app writes go: the file system, or, in a browser page, which has none,
//! the browser's downloads.

use std::path::Path;

use crate::Error;

/// Writes `bytes` as the file `path` and says where they went: the path, or in a page the name
/// they were downloaded as.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn write_output(path: &Path, bytes: &[u8]) -> Result<String, Error> {
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(path.display().to_string())
}

/// Hands `bytes` to the browser as a download named as `path`'s file, and says so.
#[cfg(target_arch = "wasm32")]
pub(crate) fn write_output(path: &Path, bytes: &[u8]) -> Result<String, Error> {
    let name = path
        .file_name()
        .map_or_else(|| "sphere".into(), |n| n.to_string_lossy().into_owned());
    download(&name, bytes);
    Ok(format!("{name} (downloaded)"))
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export function download(name, bytes) {
    const url = URL.createObjectURL(new Blob([bytes]));
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
}
"#)]
extern "C" {
    fn download(name: &str, bytes: &[u8]);
}
