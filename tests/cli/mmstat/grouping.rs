//! `--group-by dir[:DEPTH]`: files added up per directory at most DEPTH levels below each argument,
//! checked against find(1)'s own count of the files and bytes under each directory, against the
//! summary (the groups add up to it), and --top N per group.

use std::collections::BTreeMap;

use super::*;

/// A tree three levels deep: files at every level, plus a second name (hard link) of one file.
fn tree(dir: &Path) -> PathBuf {
    let root = dir.join("t");
    for (sub, n) in [
        ("", 2),
        ("a", 3),
        ("a/b", 2),
        ("a/b/c", 4),
        ("x", 1),
        ("x/y/z", 3),
    ] {
        let d = root.join(sub);
        std::fs::create_dir_all(&d).unwrap();
        for i in 0..n {
            std::fs::write(d.join(format!("f{i}")), vec![b'z'; 1000 * (i + 1)]).unwrap();
        }
    }
    std::fs::hard_link(root.join("a/b/c/f3"), root.join("x/link")).unwrap();
    root
}

/// find's count of the regular files under `dir` (at most `depth` levels below for `Some`), and
/// their bytes, hard links once.
fn find(dir: &Path, maxdepth: Option<usize>) -> (u64, u64) {
    let depth = maxdepth.map_or(String::new(), |d| format!("-maxdepth {d}"));
    let out = crate::util::sh(&format!(
        "find '{}' {depth} -type f -printf '%i %s\\n' | sort -u -k1,1 | awk '{{n++; s+=$2}} END {{print n+0, s+0}}'",
        dir.display()
    ));
    let numbers = crate::util::numbers(&out);
    (numbers[0], numbers[1])
}

fn groups(records: &[Value]) -> BTreeMap<String, &Value> {
    of_type(records, "group")
        .into_iter()
        .map(|g| (g["path"].as_str().unwrap().to_string(), g))
        .collect()
}

#[test]
fn groups_match_find_and_add_up_to_the_summary() {
    let dir = tempdir();
    let root = tree(dir.path());
    let r = p(&root);
    let records = lines(&mmstat(&["--json", "--group-by", "dir", r]));
    let g = groups(&records);
    let keys: Vec<&str> = g.keys().map(String::as_str).collect();
    let expect = [r.to_string(), format!("{r}/a"), format!("{r}/x")];
    assert_eq!(keys, expect.iter().map(String::as_str).collect::<Vec<_>>());
    // The argument's own group holds only its own files; the others all below them.
    assert_eq!(
        (
            g[r]["files"].as_u64().unwrap(),
            g[r]["size"].as_u64().unwrap()
        ),
        find(&root, Some(1))
    );
    for sub in ["a", "x"] {
        let group = g[&format!("{r}/{sub}")];
        let (files, size) = find(&root.join(sub), None);
        let links = group["links"].as_u64().unwrap();
        assert_eq!(group["files"].as_u64().unwrap() + links, files, "{sub}");
        assert_eq!(group["depth"], 1);
        if sub == "a" {
            assert_eq!((group["files"].as_u64().unwrap(), links), (9, 0));
            assert_eq!(group["size"].as_u64().unwrap(), size);
        } else {
            // x/link is a second name of a/b/c/f3, counted there first.
            assert_eq!((group["files"].as_u64().unwrap(), links), (4, 1));
        }
    }
    let s = of_type(&records, "summary")[0];
    for field in [
        "files",
        "pages",
        "size",
        "resident_pages",
        "resident_bytes",
        "links",
    ] {
        let sum: u64 = g.values().map(|g| g[field].as_u64().unwrap()).sum();
        assert_eq!(sum, s[field].as_u64().unwrap(), "{field}");
    }
    assert!(of_type(&records, "file").is_empty(), "no file records");

    // dir:0 is one group per argument; a deep DEPTH is every directory.
    let records = lines(&mmstat(&["--json", "--group-by", "dir:0", r]));
    let g = groups(&records);
    assert_eq!(g.len(), 1);
    assert_eq!(g[r]["files"], 15);
    let records = lines(&mmstat(&["--json", "--group-by", "dir:9", r]));
    let dirs = crate::util::sh(&format!(
        "find '{r}' -type f -printf '%h\\n' | sort -u | wc -l"
    ));
    assert_eq!(groups(&records).len().to_string(), dirs);
    // A file argument counts in the directory that holds it.
    let records = lines(&mmstat_in(
        &root,
        &["--json", "--group-by", "dir", "f0", "a/f1"],
    ));
    let keys: Vec<String> = groups(&records).into_keys().collect();
    assert_eq!(keys, [".", "a"]);
}

#[test]
fn top_keeps_its_meaning_per_group() {
    let dir = tempdir();
    let root = tree(dir.path());
    let r = p(&root);
    let records = lines(&mmstat(&[
        "--json",
        "--group-by",
        "dir",
        "--top",
        "2",
        "--sort",
        "size",
        r,
    ]));
    let mut current: Option<&Value> = None;
    let mut shown: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut order = Vec::new();
    for record in &records {
        match record["type"].as_str().unwrap() {
            "group" => {
                current = Some(record);
                order.push(record["size"].as_u64().unwrap());
            }
            "file" => {
                let group = current.expect("a file record follows its group");
                let name = group["path"].as_str().unwrap();
                assert_eq!(record["group"], group["path"]);
                assert!(record["path"].as_str().unwrap().starts_with(name));
                shown
                    .entry(name.to_string())
                    .or_default()
                    .push(record["size"].as_u64().unwrap());
            }
            _ => {}
        }
    }
    assert!(
        order.windows(2).all(|w| w[0] >= w[1]),
        "groups by size: {order:?}"
    );
    // Each group's two largest files, largest first, as find sees them.
    for (group, sizes) in &shown {
        let all = crate::util::sh(&format!(
            "find '{group}' {} -type f -printf '%s\\n' | sort -rn | head -2",
            if group == r { "-maxdepth 1" } else { "" }
        ));
        let expect = crate::util::numbers(&all);
        assert_eq!(sizes, &expect, "{group}");
    }
    assert_eq!(shown.len(), 3);

    // The table: a row per group (with its FILES), its files indented below it.
    let out = stdout(&mmstat(&[
        "--group-by",
        "dir",
        "--top",
        "1",
        "-o",
        "size,file",
        r,
    ]));
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(
        rows[0].split_whitespace().collect::<Vec<_>>(),
        ["SIZE", "FILES", "PATH"]
    );
    assert!(rows[1].ends_with(&format!(" 9  {r}/a/")), "{out}");
    assert!(rows[2].ends_with(&format!("  {r}/a/b/c/f3")), "{out}");
    assert!(
        rows.last()
            .unwrap()
            .starts_with("15 files, 7 directories: "),
        "{out}"
    );
}

#[test]
fn group_by_values_are_checked() {
    for bad in ["file", "dir:", "dir:x", "dir:-1", "dir:1:2"] {
        let out = mmstat(&["--group-by", bad, "."]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            stderr(&out).contains("expected dir or dir:DEPTH"),
            "{bad}: {}",
            stderr(&out)
        );
    }
    let out = mmstat(&["--watch", "1", "--format", "prometheus", "."]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("needs --output-file"),
        "{}",
        stderr(&out)
    );
    let out = mmstat(&["--output", "out.prom", "."]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("use --output-file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn group_deltas_under_watch() {
    let dir = tempdir();
    let root = tree(dir.path());
    let out = mmstat(&[
        "--json",
        "--group-by",
        "dir",
        "--watch",
        "0.01",
        "--count",
        "2",
        p(&root),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let records = lines(&out);
    let first: Vec<&Value> = of_type(&records, "group");
    assert_eq!(first.len(), 6, "three groups per refresh");
    assert!(
        first[..3]
            .iter()
            .all(|g| g["resident_bytes_delta"].is_null())
    );
    assert!(
        first[3..]
            .iter()
            .all(|g| g["resident_bytes_delta"].is_i64())
    );
}
