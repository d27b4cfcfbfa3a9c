//! `-m` and `-L` against the installed wc, in the C and UTF-8 locales, with windows small enough that
//! characters and lines are cut between windows and threads, through maps and through read(2).

use std::path::Path;
use std::process::Command;

use crate::util::{bin, noise, prose, stderr, stdout};

/// Text that exercises what -m and -L look at: multi-byte characters of every length (wide, combining,
/// emoji, and the C library's forms past U+10FFFF), invalid bytes, tabs, CR and form feeds.
fn mixed(len: usize, seed: u64) -> Vec<u8> {
    let parts: [&[u8]; 14] = [
        "é".as_bytes(),
        "日本語".as_bytes(),
        "e\u{301}".as_bytes(),
        "😀".as_bytes(),
        b"\t",
        b"\n",
        b"\r",
        b"\x0c",
        b"\xff",
        b"\xe2\x82",
        b"\xed\xa0\x80",
        b"\xf8\x88\x80\x80\x80",
        b"plain words ",
        b"\x01",
    ];
    let picks = noise(len, seed);
    let mut out = Vec::with_capacity(len * 4);
    for p in picks {
        out.extend_from_slice(parts[p as usize % parts.len()]);
    }
    out
}

fn wc(path: &Path, locale: &str) -> String {
    let out = Command::new("wc")
        .env("LC_ALL", locale)
        .args(["-lmcL"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    stdout(&out)
}

#[test]
fn chars_and_longest_lines_agree_with_wc() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("mixed", mixed(60_000, 7)),
        ("prose", prose(300_000, 3)),
        ("noise", noise(200_000, 11)),
        ("one-long-line", "語\t".repeat(40_000).into_bytes()),
    ];
    for (name, bytes) in &files {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        for locale in ["C", "C.UTF-8"] {
            let expected = wc(&path, locale);
            for extra in [&["-j", "4", "--window-size", "4K"][..], &["--no-mmap"], &[]] {
                let out = bin("mmcount")
                    .env("LC_ALL", locale)
                    .arg("-lmcL")
                    .args(extra)
                    .arg(&path)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{}", stderr(&out));
                assert_eq!(stdout(&out), expected, "{name} {locale} {extra:?}");
            }
        }
    }
    // Several files: the total's -L is the longest line of all, as wc's.
    let paths: Vec<_> = files.iter().map(|(n, _)| dir.path().join(n)).collect();
    let wc_all = Command::new("wc")
        .env("LC_ALL", "C.UTF-8")
        .arg("-mL")
        .args(&paths)
        .output()
        .unwrap();
    let ours = bin("mmcount")
        .env("LC_ALL", "C.UTF-8")
        .arg("-mL")
        .args(&paths)
        .output()
        .unwrap();
    assert_eq!(stdout(&ours), stdout(&wc_all));
}
