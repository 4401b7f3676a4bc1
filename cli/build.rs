//! Embeds the bundled X-Ray samples (tests/fixtures/xray) for `xray-archive demo`.

use std::fmt::Write;
use std::path::Path;

fn main() {
    // Read when the script runs, not when it was compiled: a shared target directory reuses
    // the compiled script for a clone in another folder.
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest_dir).join("../tests/fixtures/xray");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/xray exists")
        .map(|e| {
            e.expect("readable entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| !n.ends_with(".md"))
        .collect();
    names.sort();
    let mut out = String::from("/// The bundled X-Ray samples: (file name, content).\n");
    out.push_str("pub static SAMPLES: &[(&str, &[u8])] = &[\n");
    for n in &names {
        let path = dir.join(n).canonicalize().expect("sample path");
        writeln!(
            out,
            "    ({n:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("samples.rs");
    std::fs::write(dest, out).unwrap();
}
