//! What mmstat looks at: hard links, symbolic links, FIFOs and devices, processes' files, tmpfs and
//! hugetlbfs, the walking filters and -x, and an output order that does not depend on the threads.

use super::*;

#[test]
fn hard_links_count_once_and_symlinks_are_not_followed() {
    let dir = tempdir();
    let d = dir.path().join("tree");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    let f = data_file(&d, "a", 4, 0);
    std::fs::hard_link(&f, d.join("sub/link")).unwrap();
    let outside = data_file(dir.path(), "outside", 8, 0);
    std::os::unix::fs::symlink(&outside, d.join("sym")).unwrap();
    std::os::unix::fs::symlink(&d, d.join("sub/loop")).unwrap();

    let out = mmstat(&["--json", p(&d)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let records = lines(&out);
    let files = of_type(&records, "file");
    let paths: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [p(&d.join("a")), p(&d.join("sub/link"))],
        "links and loops are not followed"
    );
    assert_eq!(files[0]["counted"], true);
    assert_eq!(files[1]["counted"], false);
    let s = summary(&out);
    assert_eq!(
        (s["files"].as_u64(), s["links"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(s["pages"], 4, "the hard link's pages count once");
    assert_eq!(s["directories"], 2);

    // -L follows links, and leaves the loop with a note instead of walking forever.
    let out = mmstat(&["--json", "-L", p(&d)]);
    let records = lines(&out);
    let paths: Vec<&str> = of_type(&records, "file")
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&p(&d.join("sym"))), "{paths:?}");
    assert_eq!(summary(&out)["pages"], 12);
    assert!(
        stderr(&out).contains("loop: skipped: a symbolic link loop"),
        "{}",
        stderr(&out)
    );
    assert_eq!(of_type(&records, "skipped").len(), 1);

    // A link named on the command line is followed, as du does.
    let out = mmstat(&["--json", p(&d.join("sym"))]);
    assert_eq!(summary(&out)["pages"], 8);
}

#[test]
fn fifos_and_devices_never_block() {
    let dir = tempdir();
    let fifo = dir.path().join("fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    data_file(dir.path(), "data", 1, 0);
    // A process holding the FIFO open: its files are looked at without a note for the FIFO.
    let held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    let mut child = Command::new("sleep").arg("30").stdin(held).spawn().unwrap();
    let pid = child.id().to_string();
    for (args, note) in [
        (vec![p(&fifo)], true),
        (vec![p(dir.path())], true),
        (vec!["--pid", &pid], false),
    ] {
        let started = Instant::now();
        let out = bin("mmstat")
            .args(&args)
            .timeout(Duration::from_secs(20))
            .output()
            .unwrap();
        println!("mmstat {args:?}: {:?}", started.elapsed());
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(
            stderr(&out).contains("fifo: skipped: a FIFO"),
            note,
            "{}",
            stderr(&out)
        );
    }
    let _ = child.kill();
    let _ = child.wait();
    // Standard input that is a device is skipped too.
    let out = Command::new(assert_cmd::cargo::cargo_bin!("mmstat"))
        .arg("-")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("-: skipped: a character device"));
}

#[test]
fn files_of_a_process() {
    let dir = tempdir();
    let held = data_file(dir.path(), "held", 2, 0);
    let mut child = Command::new("sleep")
        .arg("30")
        .stdin(File::open(&held).unwrap())
        .spawn()
        .unwrap();
    // Once /proc/PID/exe is sleep, the exec is done: sleep maps its binary and holds `held` as stdin.
    let sleep_bin = std::fs::canonicalize(sh_which("sleep")).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::fs::read_link(format!("/proc/{}/exe", child.id())).ok() != Some(sleep_bin.clone()) {
        assert!(std::time::Instant::now() < deadline, "sleep never started");
        std::thread::sleep(Duration::from_millis(1));
    }
    let out = mmstat(&["--json", "--pid", &child.id().to_string()]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(out.status.success(), "{}", stderr(&out));
    let records = lines(&out);
    let paths: Vec<&str> = of_type(&records, "file")
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&p(&held)), "{paths:?}");
    let sleep = std::fs::canonicalize(sh_which("sleep")).unwrap();
    assert!(
        paths.contains(&p(&sleep)),
        "its executable is mapped: {paths:?}"
    );
    let out = mmstat(&["--pid", "4194304"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("mmstat: process 4194304: no such process"),
        "{}",
        stderr(&out)
    );
}

fn sh_which(tool: &str) -> PathBuf {
    PathBuf::from(crate::util::sh(&format!("command -v {tool}")))
}

#[test]
fn tmpfs_is_labelled() {
    let shm = Path::new("/dev/shm");
    if !on_tmpfs(shm) {
        skip("no tmpfs at /dev/shm");
        return;
    }
    let dir = tempfile::tempdir_in(shm).unwrap();
    let f = data_file(dir.path(), "t", 2, 0);
    let out = mmstat(&[p(&f)]);
    assert!(
        stdout(&out).contains(&format!("{} [tmpfs]", p(&f))),
        "{}",
        stdout(&out)
    );
    let out = mmstat(&["--json", p(&f)]);
    let record = lines(&out)[0].clone();
    assert_eq!(record["fs"], "tmpfs");
    assert_eq!(record["resident_pages"], 2);
}

/// Unmounts a directory when dropped.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn hugetlbfs_is_unknown() {
    let dir = tempdir();
    let mounted = is_root()
        && Command::new("mount")
            .args(["-t", "hugetlbfs", "none"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !mounted {
        skip("cannot mount a hugetlbfs (needs root and kernel support)");
        return;
    }
    let _guard = Mounted(dir.path().to_path_buf());
    let f = dir.path().join("huge");
    File::create(&f).unwrap().set_len(4 << 20).unwrap();
    let out = mmstat(&["--json", p(&f)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let record = lines(&out)[0].clone();
    assert_eq!(record["fs"], "hugetlbfs");
    assert_eq!(record["unknown_reason"], "hugetlbfs");
    assert!(record["resident_pages"].is_null() && record["percent"].is_null());
    assert!(
        stderr(&out).contains("hugetlbfs is unknown"),
        "{}",
        stderr(&out)
    );
    let text = stdout(&mmstat(&[p(&f)]));
    assert!(text.contains(&format!("{} [hugetlbfs]", p(&f))), "{text}");
}

#[test]
fn filters_and_one_file_system() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::create_dir_all(d.join("keep/skip")).unwrap();
    data_file(d, "small.db", 1, 0);
    data_file(d, "big.db", 8, 0);
    data_file(d, "notes.txt", 2, 0);
    data_file(&d.join("keep/skip"), "inner.db", 2, 0);
    let names = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["--json", "--sort", "name"];
        all.extend_from_slice(args);
        all.push(p(d));
        let out = mmstat(&all);
        assert!(out.status.success(), "{}", stderr(&out));
        of_type(&lines(&out), "file")
            .iter()
            .map(|f| {
                let path = f["path"].as_str().unwrap();
                path.strip_prefix(p(d))
                    .unwrap()
                    .trim_start_matches('/')
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        names(&["--include", "*.db"]),
        ["big.db", "keep/skip/inner.db", "small.db"]
    );
    assert_eq!(
        names(&["--include", "*.db", "--exclude", "skip"]),
        ["big.db", "small.db"]
    );
    assert_eq!(
        names(&["--min-size", &(2 * page()).to_string(), "--max-size", "2M"]),
        ["big.db", "keep/skip/inner.db", "notes.txt"]
    );
    // -x: a filesystem mounted below is left out.
    let mounted = is_root()
        && Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1M", "none"])
            .arg(d.join("keep"))
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !mounted {
        skip("cannot mount a tmpfs for -x (needs root)");
        return;
    }
    let _guard = Mounted(d.join("keep"));
    data_file(&d.join("keep"), "on-tmpfs", 1, 0);
    assert!(names(&[]).contains(&"keep/on-tmpfs".to_string()));
    assert!(!names(&["-x"]).iter().any(|n| n.starts_with("keep")));
}

#[test]
fn output_order_does_not_depend_on_threads() {
    let dir = tempdir();
    for i in 0..300 {
        let sub = dir
            .path()
            .join(format!("d{}", i % 7))
            .join(format!("e{}", i % 3));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("f{i}")), vec![b'x'; i * 37]).unwrap();
    }
    let listing = |threads: &str| -> Vec<String> {
        let out = mmstat(&["--json", "-j", threads, p(dir.path())]);
        of_type(&lines(&out), "file")
            .iter()
            .map(|f| format!("{} {}", f["path"], f["pages"]))
            .collect()
    };
    let one = listing("1");
    assert_eq!(one.len(), 300);
    let mut sorted = one.clone();
    sorted.sort_by(|a, b| {
        let key = |s: &str| PathBuf::from(s.split(' ').next().unwrap().trim_matches('"'));
        key(a).cmp(&key(b))
    });
    assert_eq!(one, sorted, "paths in order");
    for threads in ["2", "8"] {
        assert_eq!(listing(threads), one, "-j {threads}");
    }
}

#[test]
fn a_deep_tree_with_few_descriptors() {
    let dir = tempdir();
    let mut deep = dir.path().to_path_buf();
    for _ in 0..300 {
        deep.push("d");
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("f"), b"x").unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 32 && exec {} --json --summary {}",
            assert_cmd::cargo::cargo_bin!("mmstat").display(),
            p(dir.path())
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let s = summary(&out);
    assert_eq!(
        (s["files"].as_u64(), s["directories"].as_u64()),
        (Some(1), Some(301))
    );
}
