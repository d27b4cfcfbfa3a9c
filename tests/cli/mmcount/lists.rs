//! mmcount's JSON Lines and its name lists (--files0-from, from a file and from standard input).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::util::*;

pub(super) fn json_lines(out: &std::process::Output) -> Vec<serde_json::Map<String, Value>> {
    stdout(out)
        .lines()
        .map(|line| match serde_json::from_str(line) {
            Ok(Value::Object(map)) => map,
            other => panic!("not a JSON object: {line}: {other:?}"),
        })
        .collect()
}

#[test]
fn json_lines_report_files_errors_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let a_bytes = b"a 5\tb\n\\c 55\n".to_vec();
    let b_bytes = noise(9000, 5);
    let a = write(dir.path(), "a", &a_bytes);
    let b = write(dir.path(), "b", &b_bytes);
    let missing = dir.path().join("missing");
    for mode in [&[][..], &["--no-mmap"], &["-j2", "--window-size", "4K"]] {
        let out = bin("mmcount")
            .arg("--json")
            .args(ALL)
            .args(["-B", "\\xAB"])
            .args(mode)
            .arg(&a)
            .arg(&missing)
            .arg(&b)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            stderr(&out),
            format!(
                "mmcount: {}: No such file or directory\n",
                missing.display()
            )
        );
        let objects = json_lines(&out);
        let types: Vec<&str> = objects
            .iter()
            .map(|o| o["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["file", "error", "file", "summary"]);
        for o in &objects {
            assert_eq!(o.keys().next().map(String::as_str), Some("type"), "{o:?}");
        }
        let keys = [
            "lines",
            "words",
            "spaces",
            "blanks",
            "whitespace",
            "byte_0x09",
            "byte_0x00",
            "byte_0x5c",
            "byte_0x35",
            "byte_0xab",
            "bytes",
        ];
        let mut totals = vec![0u64; keys.len()];
        for (o, (path, bytes)) in [&objects[0], &objects[2]]
            .into_iter()
            .zip([(&a, &a_bytes), (&b, &b_bytes)])
        {
            assert_eq!(o["path"], path.display().to_string());
            let mut expected = reference(bytes);
            expected.insert(9, count_if(bytes, |x| x == 0xab));
            let got: Vec<u64> = keys
                .iter()
                .map(|k| o[*k].as_u64().unwrap_or_else(|| panic!("{k} in {o:?}")))
                .collect();
            assert_eq!(got, expected, "{mode:?}");
            assert_eq!(
                o.len(),
                keys.len() + 2,
                "only type, path and the counters: {o:?}"
            );
            for (t, g) in totals.iter_mut().zip(&got) {
                *t += g;
            }
        }
        let e = &objects[1];
        assert_eq!(e["path"], missing.display().to_string());
        // The message as printed on stderr, after `mmcount: `.
        assert_eq!(
            e["error"],
            format!("{}: No such file or directory", missing.display())
        );
        let s = &objects[3];
        assert_eq!(s["files"].as_u64(), Some(2));
        assert_eq!(s["errors"].as_u64(), Some(1));
        let got: Vec<u64> = keys.iter().map(|k| s[*k].as_u64().unwrap()).collect();
        assert_eq!(got, totals, "the summary covers the files counted");
    }
    // Defaults and standard input: "spaces" only; path "" with no operand, "-" for `-`.
    let out = bin("mmcount")
        .arg("--json")
        .write_stdin("a b c")
        .output()
        .unwrap();
    let objects = json_lines(&out);
    assert_eq!(objects[0]["path"], "");
    assert_eq!(objects[0]["spaces"], 2);
    assert_eq!(objects[0].len(), 3);
    assert_eq!(objects[1]["files"], 1);
    assert_eq!(objects[1]["errors"], 0);
    assert_eq!(objects[1]["spaces"], 2);
    let out = bin("mmcount")
        .args(["--json", "-c", "-"])
        .write_stdin("abc")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(json_lines(&out)[0]["path"], "-");
    assert_eq!(json_lines(&out)[0]["bytes"], 3);
}

#[test]
fn files0_from_a_file_and_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a", b"one\ntwo\n");
    let spaced = write(dir.path(), "with space", b"x y\n");
    let missing = dir.path().join("missing");
    let mut list_bytes = Vec::new();
    for name in [&a, &spaced, &PathBuf::new(), &missing, &a] {
        list_bytes.extend_from_slice(name.as_os_str().as_encoded_bytes());
        list_bytes.push(0);
    }
    let list = write(dir.path(), "list", &list_bytes);
    let out = bin("mmcount")
        .arg("-lw")
        .arg("--files0-from")
        .arg(&list)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // As wc reads the same list (it stats every name first, so the widths match too).
    let wc = Command::new("wc")
        .arg("-lw")
        .arg("--files0-from")
        .arg(&list)
        .output()
        .unwrap();
    assert_eq!(stdout(&out), stdout(&wc));
    assert_eq!(
        stderr(&out),
        format!(
            "mmcount: {}:3: invalid zero-length file name\nmmcount: {}: No such file or directory\n",
            list.display(),
            missing.display()
        )
    );
    let rows: Vec<Vec<u64>> = stdout(&out).lines().map(numbers).collect();
    assert_eq!(rows, vec![vec![2, 2], vec![1, 2], vec![2, 2], vec![5, 6]]);
    assert!(stdout(&out).contains("/with space\n"));
    // From standard input, and as JSON.
    let out = bin("mmcount")
        .args(["-lw", "--json", "--files0-from", "-"])
        .write_stdin(list_bytes.clone())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("mmcount: -:3: invalid zero-length file name\n"));
    let objects = json_lines(&out);
    let types: Vec<&str> = objects
        .iter()
        .map(|o| o["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["file", "file", "error", "error", "file", "summary"]);
    assert_eq!(objects[1]["path"], spaced.display().to_string());
    assert_eq!(
        objects[2]["path"], "",
        "an empty name is not standard input"
    );
    assert_eq!(objects[5]["files"], 3);
    assert_eq!(objects[5]["errors"], 2);
    assert_eq!(objects[5]["lines"], 5);
    // `-` in a list read from standard input is an error for that entry only.
    let out = bin("mmcount")
        .args(["-l", "--files0-from", "-"])
        .write_stdin(format!("-\0{}\0", a.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no file name of '-'"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        stdout(&out).lines().map(numbers).collect::<Vec<_>>(),
        vec![vec![2], vec![2]]
    );
    // An empty list counts nothing; an unreadable list fails the run.
    let empty = write(dir.path(), "empty-list", b"");
    let out = bin("mmcount")
        .arg("--files0-from")
        .arg(&empty)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(stdout(&out), "");
    let out = bin("mmcount")
        .arg("--files0-from")
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("mmcount: "), "{}", stderr(&out));
    assert!(stderr(&out).contains("No such file or directory"));
    // With operands: a usage error, which exits 1 as wc's do.
    let out = bin("mmcount")
        .arg("--files0-from")
        .arg(&list)
        .arg(&a)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
}
