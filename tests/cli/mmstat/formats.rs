//! mmstat's outputs: the JSON schema, --check, --sort and --top, the Prometheus format parsed back
//! strictly, the --save snapshot read back, --watch and SIGINT, table columns, usage errors.

use super::*;

#[test]
fn json_schema() {
    let dir = tempdir();
    let f = data_file(dir.path(), "f", 3, 5);
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let out = mmstat(&[
        "--json",
        "--ranges",
        "-v",
        p(dir.path()),
        p(&dir.path().join("missing")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let records = lines(&out);
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    let file = of_type(&records, "file")[0];
    assert_eq!(
        keys(file),
        [
            "type",
            "path",
            "size",
            "pages",
            "resident_pages",
            "resident_bytes",
            "percent",
            "dirty_pages",
            "writeback_pages",
            "evicted_pages",
            "recently_evicted_pages",
            "method",
            "fs",
            "unknown_reason",
            "counted",
            "resident_ranges",
            "map"
        ]
    );
    assert_eq!(file["path"], p(&f));
    assert_eq!(file["size"], 3 * page() as u64 + 5);
    assert_eq!(file["pages"], 4);
    assert!(file["resident_pages"].is_u64() && file["resident_bytes"].is_u64());
    assert!(file["percent"].is_f64() || file["percent"].is_u64());
    assert!(["cachestat", "mincore"].contains(&file["method"].as_str().unwrap()));
    if file["method"] == "cachestat" {
        for key in [
            "dirty_pages",
            "writeback_pages",
            "evicted_pages",
            "recently_evicted_pages",
        ] {
            assert!(file[key].is_u64(), "{key}");
        }
    }
    assert!(["storage", "tmpfs"].contains(&file["fs"].as_str().unwrap()));
    assert!(file["unknown_reason"].is_null());
    assert!(file["resident_ranges"].is_array() && file["map"].is_array());
    let error = of_type(&records, "error")[0];
    assert_eq!(keys(error), ["type", "path", "error"]);
    assert_eq!(
        error["error"],
        format!(
            "cannot open '{}' for reading: No such file or directory",
            p(&dir.path().join("missing"))
        ),
        "the message as printed on stderr, after `mmstat: `"
    );
    let s = records.last().unwrap();
    assert_eq!(
        keys(s),
        [
            "type",
            "schema",
            "files",
            "links",
            "directories",
            "skipped",
            "errors",
            "unknown_files",
            "pages",
            "resident_pages",
            "unknown_pages",
            "size",
            "unknown_bytes",
            "resident_bytes",
            "percent",
            "dirty_pages",
            "writeback_pages",
            "evicted_pages",
            "recently_evicted_pages",
            "elapsed_seconds"
        ]
    );
    assert_eq!(
        (s["files"].as_u64(), s["errors"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(s["directories"], 2);
    assert_eq!(s["pages"], 4);

    // --summary alone: only the summary; --check adds its verdict.
    let out = mmstat(&["--json", "--summary", "--check", "0", p(&f)]);
    let records = lines(&out);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["check_passed"], true);
}

#[test]
fn check_exit_codes() {
    let dir = tempdir();
    let f = data_file(dir.path(), "f", 16, 0);
    cache(&f);
    let out = mmstat(&["--summary", "--check", "0", p(&f)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    if on_tmpfs(dir.path()) {
        skip("the temporary directory is on tmpfs, whose pages cannot be evicted");
        return;
    }
    evict(&f);
    let out = mmstat(&["--summary", "--check", "50%", p(&f)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("check failed: 0.00% of the pages are resident, less than 50%"),
        "{}",
        stderr(&out)
    );
    for _ in 0..10 {
        cache(&f);
        let out = mmstat(&["--summary", "--check", "100", p(&f)]);
        if out.status.code() == Some(0) {
            assert!(stderr(&out).is_empty());
            return;
        }
    }
    panic!("--check 100 never passed on a cached file");
}

#[test]
fn top_and_sort() {
    let dir = tempdir();
    for (name, pages) in [("one", 1), ("five", 5), ("three", 3), ("nine", 9)] {
        let f = data_file(dir.path(), name, pages, 0);
        cache(&f);
    }
    let out = mmstat(&["--json", "--sort", "size", p(dir.path())]);
    let sizes: Vec<u64> = of_type(&lines(&out), "file")
        .iter()
        .map(|f| f["pages"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [9, 5, 3, 1]);
    let out = mmstat(&["--json", "--sort", "name", p(dir.path())]);
    let names: Vec<String> = of_type(&lines(&out), "file")
        .iter()
        .map(|f| {
            f["path"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["five", "nine", "one", "three"]);
    // --top sorts by resident bytes: the largest cached first.
    let out = mmstat(&["--json", "--top", "2", p(dir.path())]);
    let records = lines(&out);
    let files = of_type(&records, "file");
    assert_eq!(files.len(), 2);
    let res: Vec<u64> = files
        .iter()
        .map(|f| f["resident_bytes"].as_u64().unwrap())
        .collect();
    assert!(res[0] >= res[1], "{res:?}");
    assert_eq!(summary(&out)["files"], 4, "the summary covers every file");
    let text = stdout(&mmstat(&[
        "--top",
        "1",
        "--no-headings",
        "-o",
        "file",
        p(dir.path()),
    ]));
    assert_eq!(text.lines().count(), 1, "{text}");
}

/// One sample of the Prometheus text format.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// Parses the Prometheus text exposition format strictly: HELP and TYPE lines come before a metric's
/// samples, each metric's samples are contiguous, label values are unescaped (\\, \", \n), values are
/// floats.
fn parse_prometheus(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut typed: Vec<String> = Vec::new();
    let mut finished: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    let is_name = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let (kind, name) = (parts.next().unwrap(), parts.next().unwrap());
            assert!(is_name(name), "{line}");
            match kind {
                "HELP" => assert!(parts.next().is_some_and(|h| !h.is_empty()), "{line}"),
                "TYPE" => {
                    assert_eq!(parts.next(), Some("gauge"), "{line}");
                    assert!(!typed.contains(&name.to_string()), "TYPE twice: {line}");
                    typed.push(name.to_string());
                }
                _ => panic!("unknown comment: {line}"),
            }
            continue;
        }
        assert!(!line.is_empty(), "no blank lines");
        let name_end = line.find(['{', ' ']).unwrap();
        let name = &line[..name_end];
        assert!(is_name(name), "{line}");
        assert!(
            typed.contains(&name.to_string()),
            "sample before its TYPE: {line}"
        );
        if current.as_deref() != Some(name) {
            assert!(
                !finished.contains(&name.to_string()),
                "{name}'s samples are split"
            );
            if let Some(previous) = current.take() {
                finished.push(previous);
            }
            current = Some(name.to_string());
        }
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(body) = rest.strip_prefix('{') {
            let (parsed, used) = parse_labels(body, line);
            labels = parsed;
            rest = &body[used..];
        }
        let value = rest.strip_prefix(' ').expect("a space before the value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    samples
}

fn is_label_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// Parses `a="x",b="y"}` and returns the labels and the length consumed (past the `}`).
fn parse_labels(text: &str, line: &str) -> (Vec<(String, String)>, usize) {
    let mut labels = Vec::new();
    let mut at = 0;
    loop {
        let eq = text[at..].find('=').unwrap() + at;
        let label = text[at..eq].to_string();
        assert!(is_label_name(&label), "{line}");
        assert_eq!(&text[eq + 1..eq + 2], "\"", "{line}");
        let mut value = String::new();
        let mut chars = text[eq + 2..].char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next().map(|c| c.1) {
                    Some('\\') => value.push('\\'),
                    Some('"') => value.push('"'),
                    Some('n') => value.push('\n'),
                    other => panic!("bad escape {other:?} in {line}"),
                },
                '"' => {
                    end = Some(eq + 2 + i + 1);
                    break;
                }
                c => value.push(c),
            }
        }
        let end = end.unwrap();
        labels.push((label, value));
        match &text[end..end + 1] {
            "," => at = end + 1,
            "}" => return (labels, end + 1),
            other => panic!("expected , or }} got {other}: {line}"),
        }
    }
}

#[test]
fn prometheus_format_parses_back() {
    let dir = tempdir();
    let weird = "we\"ird\\name\nwith newline";
    let a = data_file(dir.path(), weird, 2, 0);
    let b = data_file(dir.path(), "plain", 3, 10);
    let out = mmstat(&["--format", "prometheus", p(&a), p(&b)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let samples = parse_prometheus(&text);
    let json = lines(&mmstat(&["--json", p(&a), p(&b)]));
    let pages_of = |path: &Path| {
        samples
            .iter()
            .find(|s| {
                s.name == "mmstat_file_pages"
                    && s.labels.iter().any(|(k, v)| k == "path" && v == p(path))
            })
            .unwrap_or_else(|| panic!("no pages sample for {path:?} in\n{text}"))
            .value
    };
    assert_eq!(pages_of(&a), 2.0, "the escaped path reads back");
    assert_eq!(pages_of(&b), 4.0);
    let sample = |name: &str| samples.iter().find(|s| s.name == name).unwrap().value;
    assert_eq!(sample("mmstat_files"), 2.0);
    assert_eq!(sample("mmstat_pages"), 6.0);
    assert_eq!(sample("mmstat_size_bytes"), (5 * page() + 10) as f64);
    let ratio = sample("mmstat_resident_ratio");
    assert!((0.0..=1.0).contains(&ratio));
    for s in samples
        .iter()
        .filter(|s| s.name.starts_with("mmstat_file_"))
    {
        let fs = s.labels.iter().find(|(k, _)| k == "fs").unwrap();
        assert!(["storage", "tmpfs"].contains(&fs.1.as_str()));
    }
    let size_of_a = samples
        .iter()
        .find(|s| s.name == "mmstat_file_size_bytes" && s.labels[0].1 == p(&a))
        .unwrap()
        .value;
    assert_eq!(size_of_a, json[0]["size"].as_f64().unwrap());

    // --top bounds the per-file series; --summary leaves them out; the totals cover every file.
    for (args, paths) in [(vec!["--top", "1"], 1), (vec!["--summary"], 0)] {
        let mut all = vec!["--format", "prometheus"];
        all.extend(args);
        all.extend([p(&a), p(&b)]);
        let samples = parse_prometheus(&stdout(&mmstat(&all)));
        let mut labelled: Vec<&str> = samples
            .iter()
            .flat_map(|s| {
                s.labels
                    .iter()
                    .filter(|(k, _)| k == "path")
                    .map(|(_, v)| v.as_str())
            })
            .collect();
        labelled.dedup();
        assert_eq!(labelled.len(), paths, "{all:?}");
        let files = samples.iter().find(|s| s.name == "mmstat_files").unwrap();
        assert_eq!(files.value, 2.0);
    }
}

#[test]
fn save_round_trips_through_the_snapshot_reader() {
    let dir = tempdir();
    let snap = dir.path().join("snap.jsonl");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let whole = data_file(&data, "whole", 4, 0);
    let half = data_file(&data, "half", 8, 0);
    std::fs::hard_link(&whole, data.join("whole.link")).unwrap();
    let tmpfs = on_tmpfs(dir.path());
    for _ in 0..10 {
        cache(&whole);
        if !tmpfs {
            read_first(&half, 4 * page());
        }
        let out = mmstat_in(
            dir.path(),
            &["--save", "snap.jsonl", "--json", "--ranges", "data"],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let records = lines(&out);
        let (header, files) =
            mmtools::snapshot::read(std::io::BufReader::new(File::open(&snap).unwrap())).unwrap();
        assert_eq!(header.version, mmtools::snapshot::VERSION);
        assert_eq!(header.page_size, page() as u64);
        let paths: Vec<&Path> = files.iter().map(|f| f.path.as_path()).collect();
        assert_eq!(
            paths,
            [half.as_path(), whole.as_path()],
            "absolute, each file once"
        );
        for (record, path) in files.iter().zip([&half, &whole]) {
            let meta = std::fs::metadata(path).unwrap();
            assert_eq!(record.identity, mmtools::snapshot::Identity::of(&meta));
            assert_eq!(record.identity.ino, meta.ino());
        }
        let printed: Vec<Vec<(u64, u64)>> = of_type(&records, "file")
            .iter()
            .filter(|f| f["counted"] == true)
            .map(|f| serde_json::from_value(f["resident_ranges"].clone()).unwrap())
            .collect();
        let saved: Vec<Vec<(u64, u64)>> = files
            .iter()
            .map(|f| f.resident.iter().map(|r| r.bounds()).collect())
            .collect();
        assert_eq!(printed, saved, "the snapshot holds the ranges printed");
        let expected_half = if tmpfs {
            vec![(0, 8 * page() as u64)]
        } else {
            vec![(0, 4 * page() as u64)]
        };
        if saved == [expected_half, vec![(0, 4 * page() as u64)]] {
            let leftovers: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .filter(|n| n.to_string_lossy().contains("tmp"))
                .collect();
            assert!(leftovers.is_empty(), "{leftovers:?}");
            return;
        }
    }
    panic!("the page cache kept changing under the test");
}

#[test]
fn watch_appends_refreshes_with_deltas_and_stops_on_sigint() {
    let dir = tempdir();
    let f = data_file(dir.path(), "w", 8, 0);
    let out = mmstat(&["--watch", "0.1", "--count", "3", "--json", p(&f)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let records = lines(&out);
    let summaries = of_type(&records, "summary");
    assert_eq!(summaries.len(), 3);
    assert_eq!(of_type(&records, "file").len(), 3);
    assert!(summaries[0]["resident_pages_delta"].is_null());
    assert!(summaries[1]["resident_pages_delta"].is_i64());
    assert!(
        summaries[1]["recently_evicted_pages_delta"].is_i64()
            || summaries[1]["recently_evicted_pages_delta"].is_null()
    );
    assert_eq!(summaries[2]["refresh"], 3);
    let text = stdout(&mmstat(&[
        "--watch",
        "0.1",
        "--count",
        "2",
        "--summary",
        p(&f),
    ]));
    assert_eq!(text.lines().count(), 2, "one line a refresh: {text}");
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .contains("recently evicted pages since the last refresh")
    );

    // SIGINT once the first refresh is out (read from the pipe, not guessed from a delay).
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("mmstat"))
        .args(["--watch", "0.2", p(&f)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let lines_reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut first = String::new();
        reader.read_line(&mut first).unwrap();
        tx.send(()).unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
        first + &rest
    });
    if rx.recv_timeout(Duration::from_secs(20)).is_err() {
        let _ = child.kill();
        panic!("mmstat --watch printed no refresh in 20 s");
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let started = Instant::now();
    crate::util::wait_or_kill(
        &mut child,
        Duration::from_secs(10),
        "mmstat --watch after SIGINT",
    );
    println!("stopped {:?} after SIGINT", started.elapsed());
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(2),
        "dies of SIGINT, as the shell expects"
    );
    let text = lines_reader.join().unwrap();
    assert!(text.starts_with("# refresh 1 at "), "{text}");
    assert!(text.ends_with('\n'), "whole lines only: {text:?}");
}

#[test]
fn table_columns_and_files0_from() {
    let dir = tempdir();
    let a = data_file(dir.path(), "a", 2, 0);
    let b = data_file(dir.path(), "b b", 1, 0);
    let list = dir.path().join("list");
    std::fs::write(&list, format!("{}\0{}\0", p(&a), p(&b))).unwrap();
    let out = mmstat(&[
        "--files0-from",
        p(&list),
        "--bytes",
        "-o",
        "size,pages,file",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["SIZE", "PAGES", "FILE"]
    );
    let row = lines.next().unwrap();
    assert!(row.starts_with(&format!("{}  ", 2 * page())), "{row}");
    assert!(row.ends_with(&format!("/2  {}", p(&a))), "{row}");
    assert!(lines.next().unwrap().ends_with(p(&b)));
    let summary = lines.next().unwrap();
    assert!(summary.starts_with("2 files, 0 directories: "), "{summary}");
    assert!(
        summary.contains(&format!(" of {} resident (", 3 * page())),
        "{summary}"
    );
    assert!(lines.next().is_none());
    // --no-headings leaves rows only; --summary the summary only.
    let out = mmstat(&["--no-headings", p(&a), p(&b)]);
    assert_eq!(stdout(&out).lines().count(), 2);
    let out = mmstat(&["--summary", p(&a), p(&b)]);
    assert_eq!(stdout(&out).lines().count(), 1);
}

#[test]
fn usage_errors() {
    for args in [
        vec![],
        vec!["--ascii", "x"],
        vec!["--top", "0", "x"],
        vec!["--count", "2", "x"],
        vec!["--watch", "0", "x"],
        vec!["--check", "101", "x"],
        vec!["--include", "[", "x"],
        vec!["--watch", "1", "--format", "prometheus", "x"],
        vec!["-o", "nope", "x"],
    ] {
        let out = mmstat(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
}
