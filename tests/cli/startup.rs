//! How the binaries start: build.rs links GCC's unwinder statically where it can, so that no tool loads
//! libgcc_s.so.1 at start-up (about 65 µs of every run, a tenth of an mmcounter increment).

use std::process::Command;

use crate::util::{bin_path, skip};

const TOOLS: [&str; 5] = ["mmcount", "mmcp", "mmcounter", "mmstat", "mmadvise"];

#[test]
fn no_tool_loads_libgcc_s_where_the_static_unwinder_exists() {
    if std::env::var_os("MMTOOLS_SHARED_LIBGCC").is_some() {
        skip("MMTOOLS_SHARED_LIBGCC asks for the shared libgcc");
        return;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let archive = Command::new(&cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match archive {
        Some(path) if path.starts_with('/') && std::path::Path::new(&path).is_file() => {}
        _ => {
            skip(&format!(
                "{cc} has no libgcc_eh.a: the tools link libgcc_s as usual"
            ));
            return;
        }
    }
    for tool in TOOLS {
        let out = Command::new("ldd").arg(bin_path(tool)).output().unwrap();
        let libs = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "ldd {tool}: {libs}");
        assert!(libs.contains("libc.so"), "ldd {tool}: {libs}");
        assert!(
            !libs.contains("libgcc_s"),
            "{tool} still loads libgcc_s:\n{libs}"
        );
    }
}

/// The unwinder linked in works: this test binary links it as the tools do (the library's build script
/// asks for it), and a panic unwinds, runs destructors and is caught.
#[test]
fn unwinding_works_with_the_static_unwinder() {
    struct Flag<'a>(&'a std::cell::Cell<bool>);
    impl Drop for Flag<'_> {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let dropped = std::cell::Cell::new(false);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _flag = Flag(&dropped);
        std::panic::resume_unwind(Box::new("unwinding"));
    }));
    assert!(caught.is_err());
    assert!(dropped.get(), "the destructor ran while unwinding");
}
