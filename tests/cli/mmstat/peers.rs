//! fincore's flags, as its users type them: -b, -n (--noheadings), -J and -o with column names in
//! either case, each giving the same output as mmstat's own spelling.

use crate::util::{bin, stderr, stdout, write};

#[test]
fn fincore_flags_mean_what_they_mean_in_fincore() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a", &vec![b'x'; 100_000]);
    let run = |args: &[&str]| {
        let out = bin("mmstat").args(args).arg(&a).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    let ours = run(&["--bytes", "--no-headings", "-o", "res,pages,size,file"]);
    assert_eq!(run(&["-bn", "-o", "RES,PAGES,SIZE,FILE"]), ours);
    assert_eq!(
        run(&["-b", "--noheadings", "-o", "Res,Pages,Size,File"]),
        ours
    );
    assert!(ours.contains("100000"), "-b prints exact bytes: {ours}");
    assert!(!ours.contains("RES"), "-n leaves out the heading: {ours}");
    // fincore prints the same columns, headed the same way, with -o in upper case.
    let fincore = std::process::Command::new("fincore")
        .args(["-o", "RES,PAGES,SIZE,FILE"])
        .arg(&a)
        .output()
        .unwrap();
    let heading = stdout(&fincore);
    let heading: Vec<&str> = heading.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(heading, ["RES", "PAGES", "SIZE", "FILE"]);
    let ours = run(&["-o", "RES,PAGES,SIZE,FILE"]);
    let mine: Vec<&str> = ours.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(mine, heading, "{ours}");
    // -J is --json: the same records (the first line; the summary carries a timing).
    let first = |text: String| text.lines().next().unwrap().to_string();
    assert_eq!(first(run(&["-J"])), first(run(&["--json"])));
}

/// As fincore, no heading over no row: when every path fails, the table's heading is not printed
/// (whether the table streams, is sorted, or kept to --top); with one row, it is printed once,
/// above it.
#[test]
fn a_heading_only_heads_rows() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let fincore = std::process::Command::new("fincore")
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(stdout(&fincore), "", "fincore prints no heading");
    let a = write(dir.path(), "a", b"data\n");
    for args in [
        &[][..],
        &["--sort", "res"],
        &["--sort", "res", "--top", "3"],
    ] {
        let out = bin("mmstat").args(args).arg(&missing).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let text = stdout(&out);
        assert!(
            !text.contains("RES"),
            "{args:?}: a heading over no row: {text}"
        );
        let out = bin("mmstat")
            .args(args)
            .arg(&missing)
            .arg(&a)
            .output()
            .unwrap();
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(text.matches("RES").count(), 1, "{args:?}: {text}");
        assert!(lines[0].trim_start().starts_with("RES"), "{args:?}: {text}");
        assert!(
            lines[1].ends_with(&*a.to_string_lossy()),
            "{args:?}: {text}"
        );
    }
}
