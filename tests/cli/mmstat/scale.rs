//! A tree of any size in bounded memory: the summary, JSON Lines, --top N and --group-by print as
//! the files are measured and keep no record per file, to standard output or through --output-file.

use super::*;

/// Directories and files per directory of the generated tree: 300,000 files.
const DIRS: usize = 300;
const FILES_PER_DIR: usize = 1000;

/// Makes the tree fast: one mknod per file (empty regular files), on tmpfs where there is one.
fn big_tree() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("mmstat-scale")
        .tempdir_in(if Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        })
        .unwrap();
    for d in 0..DIRS {
        let sub = dir.path().join(format!("d{d:03}"));
        std::fs::create_dir(&sub).unwrap();
        let fd = rustix::fs::open(
            &sub,
            rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::RDONLY,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
        for f in 0..FILES_PER_DIR {
            rustix::fs::mknodat(
                &fd,
                format!("f{f:04}").as_str(),
                rustix::fs::FileType::RegularFile,
                rustix::fs::Mode::from_raw_mode(0o644),
                0,
            )
            .unwrap();
        }
    }
    // Some with data, so that the totals have pages to add up.
    for d in 0..DIRS {
        std::fs::write(dir.path().join(format!("d{d:03}/f0000")), [1u8; 10]).unwrap();
    }
    dir
}

/// Peak RSS in KiB of one run whose standard output goes to `stdout`.
fn peak_rss_to(args: &[&str], stdout: Stdio) -> Option<(u64, Output)> {
    if !Path::new("/usr/bin/time").exists() {
        return None;
    }
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(assert_cmd::cargo::cargo_bin!("mmstat"))
        .args(args)
        .stdout(stdout)
        .output()
        .unwrap();
    let kib = stderr(&out).lines().last()?.trim().parse().ok()?;
    Some((kib, out))
}

#[test]
fn a_tree_of_300000_files_in_bounded_memory() {
    let started = Instant::now();
    let dir = big_tree();
    println!(
        "tree of {} files made in {:?}",
        DIRS * FILES_PER_DIR,
        started.elapsed()
    );
    let root = p(dir.path());
    let outdir = tempfile::tempdir().unwrap();
    let report = outdir.path().join("report");
    let report_arg = p(&report);
    let null = || Stdio::from(File::options().write(true).open("/dev/null").unwrap());
    let runs: [(&str, Vec<&str>, bool); 5] = [
        ("--summary", vec!["--summary", "--bytes", root], true),
        ("--json", vec!["--json", root], false),
        ("--top 20", vec!["--top", "20", root], true),
        (
            "--json --output-file",
            vec!["--json", "--output-file", report_arg, root],
            true,
        ),
        (
            "--group-by",
            vec![
                "--group-by",
                "dir",
                "--top",
                "1",
                "--json",
                "--output-file",
                report_arg,
                root,
            ],
            true,
        ),
    ];
    for (what, args, captured) in runs {
        let stdout = if captured { Stdio::piped() } else { null() };
        let Some((kib, out)) = peak_rss_to(&args, stdout) else {
            skip("no /usr/bin/time to measure peak RSS");
            return;
        };
        assert!(
            out.status.success(),
            "{what}: {}",
            crate::util::stderr(&out)
        );
        println!("{what}: peak RSS {kib} KiB");
        assert!(
            kib <= 32 * 1024,
            "{what}: peak RSS {kib} KiB is over 32 MiB"
        );
        let text = crate::util::stdout(&out);
        match what {
            "--summary" => assert!(
                text.starts_with(&format!(
                    "{} files, {} directories: {} of {} resident",
                    DIRS * FILES_PER_DIR,
                    DIRS + 1,
                    DIRS * 10,
                    DIRS * 10
                )),
                "{text}"
            ),
            "--top 20" => {
                let lines: Vec<&str> = text.lines().collect();
                // Heading, 20 rows, summary: the 20 files with data come first.
                assert_eq!(lines.len(), 22, "{text}");
                assert!(lines[1..21].iter().all(|l| l.contains("/f0000")), "{text}");
            }
            "--json --output-file" | "--group-by" => {
                assert_eq!(text, "", "{what}: the report goes to the file");
                let written = std::fs::read_to_string(&report).unwrap();
                let kinds: Vec<String> = written
                    .lines()
                    .map(|l| {
                        let v: Value = serde_json::from_str(l).unwrap();
                        v["type"].as_str().unwrap().to_string()
                    })
                    .collect();
                let count = |k: &str| kinds.iter().filter(|t| *t == k).count();
                assert_eq!(kinds.last().map(String::as_str), Some("summary"), "{what}");
                if what == "--group-by" {
                    // One group per directory, each followed by its file with data.
                    assert_eq!((count("group"), count("file")), (DIRS, DIRS), "{what}");
                    assert!(
                        written
                            .lines()
                            .filter(|l| l.contains(r#""type":"file""#))
                            .all(|l| l.contains("/f0000")),
                        "{what}"
                    );
                } else {
                    assert_eq!(count("file"), DIRS * FILES_PER_DIR, "{what}");
                }
                // Written whole: nothing left beside it.
                assert_eq!(std::fs::read_dir(outdir.path()).unwrap().count(), 1);
            }
            _ => {}
        }
    }
}

#[test]
fn a_closed_pipe_ends_a_streamed_run_quietly() {
    let dir = tempdir();
    for i in 0..3000 {
        std::fs::write(dir.path().join(format!("f{i:04}")), b"x").unwrap();
    }
    for format in ["--json", "--bytes"] {
        // The reader takes one line and closes the pipe while mmstat still has rows to write.
        let mut child = Command::new(assert_cmd::cargo::cargo_bin!("mmstat"))
            .arg(format)
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 16];
        std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{format}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{format}");
    }
}
