//! Links GCC's unwinder (libgcc_eh.a) into the tools instead of loading libgcc_s.so.1 at start-up.
//!
//! Rust's standard library on linux-gnu needs the `_Unwind_*` functions, and takes them from the shared
//! libgcc_s. Loading that one extra library costs about 65 µs of every start on our machines, a tenth of
//! what `mmcounter` takes in all: the same functions, linked in whole from GCC's static archive, leave
//! nothing for libgcc_s to provide, and the linker (which rustc runs with `--as-needed`) drops it.
//!
//! This is only done where it is known to work: a native build (target = host) for linux-gnu, without
//! `crt-static` (which links the unwinder statically already), with a C compiler that knows where its
//! libgcc_eh.a is. Anywhere else, or with `MMTOOLS_SHARED_LIBGCC=1`, the build is the ordinary one.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=MMTOOLS_SHARED_LIBGCC");
    println!("cargo::rerun-if-env-changed=CC");
    if let Some(dir) = static_unwinder_dir() {
        println!("cargo::rustc-link-search=native={}", dir.display());
        // Whole: every member, so that nothing is left for libgcc_s, wherever the linker meets the
        // archive on its command line. Not bundled into the rlib: linked once, into each executable.
        println!("cargo::rustc-link-lib=static:+whole-archive,-bundle=gcc_eh");
    }
}

/// The directory holding the C compiler's libgcc_eh.a, when linking it is known to be right.
fn static_unwinder_dir() -> Option<PathBuf> {
    let var = |name: &str| env::var(name).unwrap_or_default();
    if !var("MMTOOLS_SHARED_LIBGCC").is_empty()
        || var("TARGET") != var("HOST")
        || var("CARGO_CFG_TARGET_OS") != "linux"
        || var("CARGO_CFG_TARGET_ENV") != "gnu"
        || var("CARGO_CFG_TARGET_FEATURE")
            .split(',')
            .any(|f| f == "crt-static")
    {
        return None;
    }
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    // A compiler that does not know the file prints the bare name back.
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    if !path.is_absolute() || !path.is_file() {
        return None;
    }
    Some(path.parent()?.to_path_buf())
}
