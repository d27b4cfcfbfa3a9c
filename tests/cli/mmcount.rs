//! mmcount against wc and tr: exact counts on every kind of input, with every read path (maps or
//! read(2), one thread or two, small windows so that boundaries fall inside small files), the wc-style
//! output format, JSON Lines, --files0-from, and per-file and usage errors.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use proptest::prelude::*;

use crate::util::*;

mod chars;
mod lists;

/// Read paths that must all give the same output: maps and read(2), one and two threads, the default
/// window and windows of one page or 64 KiB (so small files cross several window boundaries).
const MODES: &[&[&str]] = &[
    &[],
    &["--no-mmap"],
    &["-j1"],
    &["-j2"],
    &["-j1", "--window-size", "4K"],
    &["-j2", "--window-size", "4K"],
    &["-j2", "--window-size", "64K", "--map-mode", "private"],
    &["--no-mmap", "--window-size", "4K"],
];

fn run(args: &[&str], extra: &[&str], file: &Path) -> std::process::Output {
    bin("mmcount")
        .args(args)
        .args(extra)
        .arg(file)
        .output()
        .unwrap()
}

/// A temporary directory holding every input the agreement tests read.
fn inputs() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let page = page();
    let win = 64 << 10;
    let periodic = |period: usize, len: usize| -> Vec<u8> {
        let word = &b"abcdefghijklmnopqrstuvwxyz"[..period - 1];
        let mut v = Vec::new();
        while v.len() < len {
            v.extend_from_slice(word);
            v.push(b' ');
        }
        v.truncate(len);
        v
    };
    let mut invalid_utf8 = Vec::new();
    while invalid_utf8.len() < 2 * page + 100 {
        invalid_utf8.extend_from_slice(
            b"caf\xc3 \xff\xfe word\xc0\xaf \xed\xa0\x80\n\xf4\x90\x80\x80x y\x80\n\xe2\x82 5\\ ",
        );
    }
    let controls: Vec<u8> = (0..5000)
        .map(|i| [0u8, 1, 7, 8, 0x1b, 0x7f, b'a', 9, 0x0b, 0x0c, 0x0d][i % 11])
        .collect();
    let mut long_line = prose(300_000, 3);
    for b in &mut long_line {
        if *b == b'\n' || *b == b'\r' {
            *b = b' ';
        }
    }
    // Words and spaces placed on both sides of every page and 64 KiB boundary.
    let mut boundaries = vec![b'w'; 3 * win + 11];
    for k in 1..boundaries.len() / page {
        let at = k * page;
        match k % 4 {
            0 => boundaries[at] = b' ',
            1 => boundaries[at - 1] = b'\t',
            2 => {
                boundaries[at - 1] = b'\n';
                boundaries[at] = b' ';
            }
            _ => {}
        }
    }
    let mut long_words = Vec::new();
    for _ in 0..20 {
        long_words.extend(std::iter::repeat_n(b'w', page));
        long_words.push(b' ');
    }
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("one-byte", b"x".to_vec()),
        ("one-space", b" ".to_vec()),
        ("one-newline", b"\n".to_vec()),
        ("no-final-newline", b"one two\nthree  four".to_vec()),
        ("crlf", b"one two\r\nthree\r\n\r\nfour \r\n\t5\r\n".to_vec()),
        ("binary", noise(3 * page + 17, 1)),
        ("binary-windows", noise(3 * win + 5, 2)),
        ("invalid-utf8", invalid_utf8),
        ("controls", controls),
        ("nuls", vec![0; 10_000]),
        ("whitespace-only", b" \t\n\x0b\x0c\r".repeat(2000)),
        ("long-line", long_line),
        ("one-long-word", vec![b'w'; 200_000]),
        ("page-1", prose(page - 1, 4)),
        ("page", prose(page, 5)),
        ("page+1", prose(page + 1, 6)),
        ("window-1", prose(win - 1, 7)),
        ("window", prose(win, 8)),
        ("window+1", prose(win + 1, 9)),
        ("several-windows", prose(5 * win + 123, 10)),
        ("period-7", periodic(7, 3 * win + 7)),
        ("period-8", periodic(8, 3 * win + 7)),
        ("period-9", periodic(9, 3 * win + 7)),
        ("boundaries", boundaries),
        ("page-long-words", long_words),
    ];
    let paths = files
        .iter()
        .map(|(name, bytes)| write(dir.path(), name, bytes))
        .collect();
    (dir, paths)
}

#[test]
fn agrees_with_wc_and_tr_on_every_input_and_read_path() {
    let (_dir, paths) = inputs();
    for path in &paths {
        let bytes = fs::read(path).unwrap();
        let expected = reference(&bytes);
        let name = path.display().to_string();
        let (by_tools, wc_words) = tools(path);
        assert_eq!(
            by_tools, expected,
            "{name}: tools and the reference disagree"
        );
        if is_text(&bytes) {
            assert_eq!(wc_words, expected[1], "{name}: LC_ALL=C wc -w");
        }
        let mut outputs = Vec::new();
        for mode in MODES {
            let out = run(ALL, mode, path);
            assert!(out.status.success(), "{name} {mode:?}: {}", stderr(&out));
            assert_eq!(stderr(&out), "", "{name} {mode:?}");
            let text = stdout(&out);
            assert_eq!(numbers(&text), expected, "{name} {mode:?}: {text}");
            assert!(text.trim_end().ends_with(&format!(" {name}")), "{text}");
            outputs.push(text);
        }
        assert!(
            outputs.windows(2).all(|w| w[0] == w[1]),
            "{name}: read paths differ: {outputs:?}"
        );
        // No counter flag: spaces alone, printed as `N NAME`.
        for mode in [&[][..], &["--no-mmap"], &["-j2", "--window-size", "4K"]] {
            let out = run(&[], mode, path);
            assert_eq!(
                stdout(&out),
                format!("{} {name}\n", expected[2]),
                "{mode:?}"
            );
        }
    }
}

#[test]
fn stdin_piped_named_and_redirected() {
    let (_dir, paths) = inputs();
    for name in ["empty", "binary", "crlf", "several-windows"] {
        let path = paths.iter().find(|p| p.ends_with(name)).unwrap();
        let bytes = fs::read(path).unwrap();
        let expected = reference(&bytes);
        for mode in [&[][..], &["--no-mmap"], &["-j2", "--window-size", "4K"]] {
            // Piped, no operand: numbers only, no name.
            let out = bin("mmcount")
                .args(ALL)
                .args(mode)
                .write_stdin(bytes.clone())
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            let text = stdout(&out);
            assert_eq!(numbers(&text), expected, "{name} piped");
            assert_eq!(text.split_whitespace().count(), expected.len(), "{text}");
            // Piped, as `-`.
            let out = bin("mmcount")
                .args(ALL)
                .args(mode)
                .arg("-")
                .write_stdin(bytes.clone())
                .output()
                .unwrap();
            let text = stdout(&out);
            assert_eq!(numbers(&text), expected, "{name} as -");
            assert!(text.trim_end().ends_with(" -"), "{text}");
            // Redirected from the file itself.
            let out = Command::new(bin_path("mmcount"))
                .args(ALL)
                .args(mode)
                .stdin(fs::File::open(path).unwrap())
                .output()
                .unwrap();
            assert!(out.status.success());
            assert_eq!(numbers(&stdout(&out)), expected, "{name} redirected");
        }
    }
    // Between files: `a - a` reads stdin in second place.
    let a = paths.iter().find(|p| p.ends_with("crlf")).unwrap();
    let n = reference(&fs::read(a).unwrap())[0];
    let out = bin("mmcount")
        .args(["-l"])
        .arg(a)
        .arg("-")
        .arg(a)
        .write_stdin("x\ny\n")
        .output()
        .unwrap();
    let lines: Vec<Vec<u64>> = stdout(&out).lines().map(numbers).collect();
    assert_eq!(lines, vec![vec![n], vec![2], vec![n], vec![2 * n + 2]]);
}

#[test]
fn fifo_written_by_a_child() {
    let (dir, paths) = inputs();
    for name in ["crlf", "several-windows", "binary-windows"] {
        let source = paths.iter().find(|p| p.ends_with(name)).unwrap();
        let expected = reference(&fs::read(source).unwrap());
        for mode in [
            &[][..],
            &["--no-mmap"],
            &["-j1"],
            &["-j2", "--window-size", "4K"],
        ] {
            let fifo = dir.path().join(format!("fifo-{name}"));
            let _ = fs::remove_file(&fifo);
            mkfifo(&fifo);
            let mut writer = fifo_writer(&fifo, source);
            let mut child = Command::new(bin_path("mmcount"))
                .args(ALL)
                .args(mode)
                .arg(&fifo)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            wait_or_kill(&mut child, Duration::from_secs(60), "mmcount on a FIFO");
            let out = child.wait_with_output().unwrap();
            wait_or_kill(&mut writer, Duration::from_secs(10), "the FIFO writer");
            assert!(out.status.success(), "{}", stderr(&out));
            assert_eq!(numbers(&stdout(&out)), expected, "{name} {mode:?}");
        }
    }
}

#[test]
fn proc_files_are_read_not_mapped() {
    // /proc/version: the same bytes for every reader, so exact counts.
    let version = fs::read("/proc/version").unwrap();
    let expected = reference(&version);
    for mode in MODES {
        let out = run(ALL, mode, Path::new("/proc/version"));
        assert_eq!(numbers(&stdout(&out)), expected, "{mode:?}");
    }
    // /proc/self/cmdline: our own arguments, each NUL-terminated (width 1: st_size says 0).
    let argv = [
        bin_path("mmcount").to_str().unwrap(),
        "-c",
        "-B",
        "\\0",
        "/proc/self/cmdline",
    ];
    let out = Command::new(argv[0]).args(&argv[1..]).output().unwrap();
    let len: usize = argv.iter().map(|a| a.len() + 1).sum();
    assert_eq!(
        stdout(&out),
        format!("5 {len} /proc/self/cmdline\n"),
        "st_size of a /proc file is 0: it must be read"
    );
    // /proc/self/status: st_size 0, content that differs per process but not its line count.
    let wc_lines: u64 = sh("wc -l < /proc/self/status").parse().unwrap();
    for mode in [&[][..], &["--no-mmap"], &["-j2", "--window-size", "4K"]] {
        let out = run(&["-lc"], mode, Path::new("/proc/self/status"));
        assert!(out.status.success());
        let n = numbers(&stdout(&out));
        assert_eq!(n[0], wc_lines, "{mode:?}");
        assert!(n[1] > 200, "{mode:?}: {} bytes", n[1]);
    }
}

#[test]
fn byte_values_and_column_order() {
    let dir = tempfile::tempdir().unwrap();
    // Every column has its own value, so a column out of place cannot go unnoticed.
    let text = b"55555 \\\\\\\\ \x00\x00\x00 a b\tc\r\n\x0bd e f g h i j\n";
    let f = write(dir.path(), "f", text);
    let expected = reference(text);
    assert_eq!(expected, vec![2, 13, 10, 11, 15, 1, 3, 4, 5, 37]);
    // Flags in any order give wc's fixed column order; --byte columns keep the order they were given.
    let shuffled = [
        "-c", "-B", "\\t", "-W", "-B", "\\x00", "-b", "-B", "\\\\", "-s", "-w", "-B", "5", "-l",
    ];
    let a = run(ALL, &[], &f);
    let b = run(&shuffled, &[], &f);
    assert_eq!(numbers(&stdout(&a)), expected);
    assert_eq!(stdout(&a), stdout(&b));
    let out = run(&["-B", "5", "-B", "\\t", "-c"], &[], &f);
    assert_eq!(numbers(&stdout(&out)), vec![5, 1, 37]);
    let out = run(
        &["-B", "\\x35", "-B", "\\n", "-B", "\\r", "-B", "\\0"],
        &[],
        &f,
    );
    assert_eq!(numbers(&stdout(&out)), vec![5, 2, 1, 3]);
    // Long forms.
    let out = run(
        &[
            "--lines",
            "--words",
            "--spaces",
            "--blanks",
            "--whitespace",
            "--bytes",
        ],
        &[],
        &f,
    );
    assert_eq!(numbers(&stdout(&out)), vec![2, 13, 10, 11, 15, 37]);
}

/// Names are printed byte for byte, and quoted for the shell when they hold a newline, as wc does, in
/// the C locale (every non-ASCII byte escaped) and in a UTF-8 one (printable characters kept).
#[test]
fn names_are_printed_as_wc_prints_them() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let names: [&[u8]; 9] = [
        b"plain",
        b"sp ace\ttab",
        b"x\ny",
        b"\nstarts",
        b"it's\n'",
        b"\xff raw",
        b"\xff\nescaped",
        "caf\u{e9}\nna\u{ef}ve".as_bytes(),
        b"ctl\x01\x7f\n",
    ];
    for (i, name) in names.iter().enumerate() {
        let path = dir.path().join(std::ffi::OsStr::from_bytes(name));
        std::fs::write(path, "a b\n".repeat(i + 1)).unwrap();
    }
    let args: Vec<&std::ffi::OsStr> = names
        .iter()
        .map(|n| std::ffi::OsStr::from_bytes(n))
        .collect();
    for locale in ["C", "C.UTF-8"] {
        let run = |program: &Path| {
            Command::new(program)
                .current_dir(dir.path())
                .env("LC_ALL", locale)
                .arg("-lw")
                .args(&args)
                .output()
                .unwrap()
        };
        let ours = run(bin_path("mmcount"));
        let theirs = run(Path::new("wc"));
        assert!(ours.status.success(), "{}", stderr(&ours));
        assert!(theirs.status.success());
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "{locale}"
        );
        assert_eq!(ours.stdout, theirs.stdout, "{locale}: byte for byte");
        let quoted = ours
            .stdout
            .split(|&b| b == b'\n')
            .filter(|l| l.ends_with(b"'"))
            .count();
        assert_eq!(
            quoted, 6,
            "{locale}: the six names with a newline are quoted"
        );
    }
}

#[test]
fn output_matches_wc_line_for_line() {
    let dir = tempfile::tempdir().unwrap();
    let small = write(dir.path(), "small", b"one two\n");
    let medium = write(dir.path(), "medium", &prose(5000, 11));
    let big = write(dir.path(), "big", &prose(1_200_000, 12));
    let open = write(dir.path(), "open", b"no final newline");
    let empty = write(dir.path(), "empty", b"");
    let null = PathBuf::from("/dev/null");
    let sets: Vec<Vec<&Path>> = vec![
        vec![&small],
        vec![&big],
        vec![&empty],
        vec![&small, &medium],
        vec![&small, &medium, &big],
        vec![&big, &open, &big],
        vec![&small, &null],
        vec![&empty, &empty],
    ];
    for flags in [
        &["-l"][..],
        &["-w"],
        &["-c"],
        &["-lw"],
        &["-wl"],
        &["-lwc"],
        &["-c", "-w", "-l"],
        &["-lc"],
    ] {
        for set in &sets {
            let ours = bin("mmcount").args(flags).args(set).output().unwrap();
            let theirs = Command::new("wc")
                .env("LC_ALL", "C")
                .args(flags)
                .args(set)
                .output()
                .unwrap();
            assert!(ours.status.success());
            assert_eq!(stdout(&ours), stdout(&theirs), "{flags:?} {set:?}");
            let total_lines = stdout(&ours)
                .lines()
                .filter(|l| l.ends_with(" total"))
                .count();
            assert_eq!(total_lines, usize::from(set.len() > 1), "{flags:?} {set:?}");
        }
    }
    // Standard input: piped (unknown size, width 7), redirected from a file (its size), and mixed.
    let text = fs::read(&medium).unwrap();
    for flags in [&["-l"][..], &["-lw"], &["-lwc"]] {
        let ours = bin("mmcount")
            .args(flags)
            .write_stdin(text.clone())
            .output()
            .unwrap();
        let theirs = Command::new("wc")
            .args(flags)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(&text)?;
                c.wait_with_output()
            })
            .unwrap();
        assert_eq!(stdout(&ours), stdout(&theirs), "piped {flags:?}");
        for operands in [&[][..], &["-"], &["-", "small"]] {
            let ours = Command::new(bin_path("mmcount"))
                .current_dir(dir.path())
                .args(flags)
                .args(operands)
                .stdin(fs::File::open(&medium).unwrap())
                .output()
                .unwrap();
            let theirs = Command::new("wc")
                .current_dir(dir.path())
                .args(flags)
                .args(operands)
                .stdin(fs::File::open(&medium).unwrap())
                .output()
                .unwrap();
            assert_eq!(
                stdout(&ours),
                stdout(&theirs),
                "redirected {flags:?} {operands:?}"
            );
        }
    }
}

#[test]
fn missing_files_and_directories_fail_alone() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a", b"one two\nthree\n");
    let b = write(dir.path(), "b", b"x\n");
    let missing = dir.path().join("missing");
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    for mode in [&[][..], &["--no-mmap"]] {
        let out = bin("mmcount")
            .arg("-lw")
            .args(mode)
            .args([&a, &missing, &sub, &b])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            stderr(&out),
            format!(
                "mmcount: {}: No such file or directory\nmmcount: {}: Is a directory\n",
                missing.display(),
                sub.display()
            )
        );
        let wc = Command::new("wc")
            .arg("-lw")
            .args([&a, &missing, &b])
            .output()
            .unwrap();
        assert_eq!(stdout(&out), stdout(&wc), "the total covers a and b");
        assert!(stdout(&out).ends_with(" 3  4 total\n"), "{}", stdout(&out));
    }
}

#[test]
fn unreadable_files_fail_alone() {
    let dir = tempfile::tempdir().unwrap();
    // Traversable by another uid: the temp dir itself is 0700.
    fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let a = write(dir.path(), "a", b"one two\n");
    let secret = write(dir.path(), "secret", b"hidden words here\n");
    let b = write(dir.path(), "b", b"x\n");
    fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let as_nobody = |program: &Path| -> Command {
        if is_root() {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(program);
            c
        } else {
            Command::new(program)
        }
    };
    if is_root() && Command::new("setpriv").arg("--version").output().is_err() {
        return skip("setpriv is missing, and root reads any file");
    }
    if !is_root() {
        fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    }
    // The build directory may not be reachable by that uid (a checkout under /root): use a copy.
    let mut program = bin_path("mmcount").to_path_buf();
    if !as_nobody(&program)
        .arg("--version")
        .output()
        .unwrap()
        .status
        .success()
    {
        program = dir.path().join("mmcount");
        fs::copy(bin_path("mmcount"), &program).unwrap();
    }
    for mode in [&[][..], &["--no-mmap"], &["--json"]] {
        let out = as_nobody(&program)
            .arg("-lw")
            .args(mode)
            .args([&a, &secret, &b])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!("mmcount: {}: Permission denied\n", secret.display())
        );
        if mode == ["--json"] {
            let objects = lists::json_lines(&out);
            assert_eq!(
                objects[1]["error"],
                format!("{}: Permission denied", secret.display())
            );
            assert_eq!(objects[3]["lines"], 2);
            assert_eq!(objects[3]["words"], 3);
            continue;
        }
        let wc = as_nobody(Path::new("/usr/bin/wc"))
            .arg("-lw")
            .args([&a, &secret, &b])
            .output()
            .unwrap();
        assert_eq!(wc.status.code(), Some(1), "wc must fail to read it too");
        assert_eq!(stdout(&out), stdout(&wc));
        assert!(stdout(&out).ends_with(" 2  3 total\n"), "{}", stdout(&out));
    }
}

#[test]
fn usage_errors_exit_1_as_wc() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a", b"x\n");
    for args in [
        &["-B", "xx"][..],
        &["-B", ""],
        &["-B", "\\x4"],
        &["-B", "\\xZZ"],
        &["-B", "\\q"],
        &["--frobnicate"],
        &["-j", "0"],
        &["--window-size", "0"],
        &["--window-size", "lots"],
        &["--map-mode", "weird"],
        &["-q", "--progress"],
    ] {
        let out = bin("mmcount").args(args).arg(&a).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stdout(&out), "", "{args:?}");
        let err = stderr(&out);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "{args:?}: {err}");
        assert!(lines[0].starts_with("mmcount: "), "{args:?}: {err}");
        assert_eq!(lines[1], "Try 'mmcount --help' for more information.");
    }
    let wc = std::process::Command::new("wc")
        .arg("--frobnicate")
        .output()
        .unwrap();
    assert_eq!(wc.status.code(), Some(1), "wc's usage status");
    let out = bin("mmcount").arg("--version").output().unwrap();
    assert_eq!(
        stdout(&out),
        format!("mmcount {}\n", env!("CARGO_PKG_VERSION"))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Random bytes counted on two threads with one-page windows equal one thread and read(2), and the
    /// reference. The bytes come from a seeded generator (fast to make in a debug build), drawn from an
    /// alphabet rich in white space, or raw.
    #[test]
    fn parallel_small_windows_equal_sequential_and_read(
        seed in any::<u64>(),
        len in 0usize..40_000,
        alphabet in 0usize..4,
    ) {
        const ALPHABETS: &[&[u8]] = &[b" \n\tw", b" w", b"w\x00\r\n \x0b\x0c5\\", b""];
        let raw = noise(len, seed);
        let bytes: Vec<u8> = match ALPHABETS[alphabet] {
            b"" => raw,
            letters => raw.iter().map(|&r| letters[r as usize % letters.len()]).collect(),
        };
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "f", &bytes);
        let outputs: Vec<String> = [
            &["-j2", "--window-size", "4K"][..],
            &["-j1", "--window-size", "4K"],
            &["--no-mmap", "--window-size", "4K"],
        ]
        .iter()
        .map(|mode| stdout(&run(ALL, mode, &f)))
        .collect();
        prop_assert_eq!(&outputs[0], &outputs[1]);
        prop_assert_eq!(&outputs[0], &outputs[2]);
        prop_assert_eq!(numbers(&outputs[0]), reference(&bytes));
    }
}
