//! A C `main` for a binary whose start-up time matters: it skips the set-up that Rust's runtime does
//! before `main` (a stack-overflow handler, which reads /proc/self/maps, and a check of the standard
//! descriptors), about 110 µs of every run on our machines. The binary declares `#![no_main]` and names
//! the function to run; that function does the part of the set-up it needs itself (SIGPIPE ignored,
//! stdout flushed at the end), as `cli::mmcounter::start` does.
#![allow(unsafe_code)]

/// Defines the program's C entry point, `main`, calling `$start: fn() -> i32` and returning its value as
/// the exit status. For a binary crate with `#![no_main]`:
///
/// ```ignore
/// #![no_main]
/// mmtools::c_main!(mmtools::cli::mmcounter::start);
/// ```
#[macro_export]
macro_rules! c_main {
    ($start:path) => {
        // SAFETY: this is the C entry point, which the C runtime calls once, and `#![no_main]` leaves the
        // `main` symbol to us, so exporting it unmangled clashes with nothing. The arguments are not read
        // through these pointers: the tool takes them from std, or from /proc/self/cmdline.
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        extern "C" fn main(
            _argc: ::std::ffi::c_int,
            _argv: *const *const ::std::ffi::c_char,
        ) -> ::std::ffi::c_int {
            $start()
        }
    };
}
