//! Warm-up as operators run it: `mmadvise restore` of a snapshot whose files changed or vanished,
//! budgets that bound what is loaded, and throttling (rate and I/O priority) of the loading. Checked
//! through the kernel's own account (fincore), as in the mmadvise module.

use std::path::Path;

use crate::mmadvise::{data_file, json_lines, loaded, make_cold, mmadvise, p, resident};
use crate::util::disk_dir_or_skip;
use crate::util::{bin, skip, stderr, stdout};

const MIB: u64 = 1 << 20;

/// Saves the residency of `paths` with `mmstat --save` into `dir/cache.snap`.
fn save(dir: &Path, paths: &[&Path]) -> std::path::PathBuf {
    let snap = dir.join("cache.snap");
    let out = bin("mmstat")
        .arg("--save")
        .arg(&snap)
        .args(paths)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    snap
}

#[test]
fn restore_skips_a_file_removed_since_the_snapshot() {
    let dir = disk_dir_or_skip!();
    let a = data_file(dir.path(), "a", 4 * MIB);
    let gone = data_file(dir.path(), "pg_internal.init", MIB);
    let changed = data_file(dir.path(), "changed", MIB);
    for f in [&a, &gone, &changed] {
        std::fs::read(f).unwrap();
    }
    let snap = save(dir.path(), &[&a, &gone, &changed]);
    std::fs::remove_file(&gone).unwrap();
    std::fs::write(&changed, b"rewritten").unwrap();
    make_cold(&[&a, &changed]);

    let out = mmadvise(&["restore", p(&snap)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(loaded(&a), 4 * MIB, "the files that exist are restored");
    assert_eq!(resident(&changed), 0);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "mmadvise: warning: {}: skipped: no longer exists: removed since the snapshot",
            gone.display()
        )),
        "{err}"
    );
    assert!(!err.contains("No such file"), "{err}");
    let text = stdout(&out);
    assert!(
        text.contains(", skipped 1 changed and 1 removed since the snapshot"),
        "{text}"
    );

    make_cold(&[&a]);
    let out = mmadvise(&["restore", "--json", p(&snap)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert!(lines.iter().all(|l| l["type"] != "error"), "{lines:?}");
    let skipped: Vec<_> = lines.iter().filter(|l| l["type"] == "skipped").collect();
    assert_eq!(skipped.len(), 2, "{lines:?}");
    assert!(
        skipped
            .iter()
            .any(|l| l["path"] == p(&gone) && l["reason"].as_str().unwrap().contains("removed"))
    );
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["files"], 1);
    assert_eq!(summary["skipped"], 2);
    assert_eq!(summary["errors"], 0);
    assert_eq!(summary["changed_files"], 1);
    assert_eq!(summary["removed_files"], 1);

    // --strict: any skipped file fails the run, after restoring the rest.
    make_cold(&[&a]);
    let out = mmadvise(&["restore", "--strict", p(&snap)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("mmadvise: 2 files of the snapshot skipped, and --strict was given"),
        "{}",
        stderr(&out)
    );
    assert_eq!(loaded(&a), 4 * MIB);

    // Nothing at all restored: a failure, whatever --strict says.
    std::fs::remove_file(&a).unwrap();
    let out = mmadvise(&["restore", p(&snap)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("mmadvise: nothing restored: no file of the snapshot could be loaded"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn restore_with_a_budget_loads_no_more_and_reports_the_rest() {
    let dir = disk_dir_or_skip!();
    let small = data_file(dir.path(), "small", 4 * MIB);
    let big = data_file(dir.path(), "big", 16 * MIB);
    let mid = data_file(dir.path(), "mid", 8 * MIB);
    for f in [&small, &big, &mid] {
        std::fs::read(f).unwrap();
    }
    let snap = save(dir.path(), &[&small, &big, &mid]);
    make_cold(&[&small, &big, &mid]);

    // Largest first: big (16M) fits, mid is cut at 4M, small is left out.
    let budget = 20 * MIB;
    let out = mmadvise(&[
        "restore",
        "--json",
        "--order",
        "size",
        "--budget",
        "20M",
        p(&snap),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let chunk = 2 * MIB;
    let all = loaded(&small) + loaded(&big) + loaded(&mid);
    assert!(
        all <= budget + chunk,
        "{all} bytes loaded for a budget of {budget}"
    );
    assert!(
        all >= budget - chunk,
        "{all} bytes loaded for a budget of {budget}"
    );
    assert_eq!(loaded(&big), 16 * MIB, "the largest first");
    assert_eq!(resident(&small), 0, "left out");
    let lines = json_lines(&out);
    let summary = lines.last().unwrap();
    assert_eq!(summary["budget_bytes"], budget);
    assert_eq!(summary["loaded_bytes"], budget);
    assert_eq!(summary["loaded_files"], 2);
    assert_eq!(summary["left_out_bytes"], 8 * MIB);
    assert_eq!(summary["left_out_files"], 2, "mid in part, small whole");
    let file = |f: &Path| {
        lines
            .iter()
            .find(|l| l["type"] == "file" && l["path"] == p(f))
            .unwrap()
            .clone()
    };
    assert_eq!(file(&mid)["left_out_bytes"], 4 * MIB);
    assert_eq!(file(&small)["left_out_bytes"], 4 * MIB);

    // Snapshot order, in text: small and big fit, mid is left out.
    make_cold(&[&small, &big, &mid]);
    let out = mmadvise(&["restore", "--budget", "20M", p(&snap)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(loaded(&small) + loaded(&big), 20 * MIB);
    assert_eq!(resident(&mid), 0);
    let text = stdout(&out);
    assert!(
        text.contains(", budget 20M: loaded 20M of 2 files, left out 8.0M of 1 file"),
        "{text}"
    );
    assert!(
        text.contains("8.0M left out: the budget was spent"),
        "{text}"
    );

    // What is resident already costs nothing: a second run loads the rest of mid.
    let out = mmadvise(&["restore", "--json", "--budget", "20M", p(&snap)]);
    let summary = json_lines(&out).pop().unwrap();
    assert_eq!(summary["loaded_bytes"], 8 * MIB);
    assert_eq!(summary["left_out_bytes"], 0);
    assert_eq!(loaded(&mid), 8 * MIB);
}

#[test]
fn touch_and_willneed_keep_to_a_budget() {
    let dir = disk_dir_or_skip!();
    let a = data_file(dir.path(), "a", 6 * MIB);
    let b = data_file(dir.path(), "b", 6 * MIB);
    make_cold(&[&a, &b]);
    let out = mmadvise(&["touch", "--json", "--budget", "8M", p(&a), p(&b)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(loaded(&a), 6 * MIB);
    assert_eq!(loaded(&b), 2 * MIB);
    let summary = json_lines(&out).pop().unwrap();
    assert_eq!(summary["left_out_bytes"], 4 * MIB);

    make_cold(&[&a, &b]);
    let out = mmadvise(&[
        "willneed",
        "--wait",
        "--json",
        "--budget",
        "8M",
        p(&a),
        p(&b),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = json_lines(&out).pop().unwrap();
    assert_eq!(summary["loaded_bytes"], 8 * MIB);
    assert_eq!(summary["left_out_bytes"], 4 * MIB);
    assert!(loaded(&a) + loaded(&b) <= 8 * MIB + 2 * MIB);

    // Bad budgets are usage errors.
    for bad in ["0%", "150%", "lots"] {
        let out = mmadvise(&["touch", "--budget", bad, p(&a)]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(stderr(&out).starts_with("mmadvise: "), "{}", stderr(&out));
    }
}

/// A memory cgroup to make a child in, and whether it is version 2: this process's own in version 1
/// (the memory controller's hierarchy), the root in version 2.
fn own_memory_cgroup() -> Option<(std::path::PathBuf, bool)> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mount = |v2: bool| {
        mounts.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            let mut r = right.split(' ');
            let (fstype, options) = (r.next()?, r.nth(1).unwrap_or(""));
            let ok = if v2 {
                fstype == "cgroup2"
            } else {
                fstype == "cgroup" && options.split(',').any(|o| o == "memory")
            };
            ok.then(|| std::path::PathBuf::from(point))
        })
    };
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let v2 = controllers.is_empty();
        if !v2 && !controllers.split(',').any(|c| c == "memory") {
            continue;
        }
        let root = mount(v2)?;
        if !v2 {
            return Some((root.join(path.trim_start_matches('/')), false));
        }
        // Version 2: a cgroup that holds processes cannot give controllers to children, the root
        // can; make the child there, with the memory controller enabled for it.
        if std::fs::read_to_string(root.join("cgroup.controllers"))
            .is_ok_and(|c| c.contains("memory"))
        {
            let _ = std::fs::write(root.join("cgroup.subtree_control"), "+memory");
            return Some((root, true));
        }
    }
    None
}

#[test]
fn a_percentage_budget_is_of_the_room_under_the_memory_cgroup_limit() {
    let dir = disk_dir_or_skip!();
    let a = data_file(dir.path(), "a", MIB);
    let Some((parent, v2)) = own_memory_cgroup() else {
        skip("no memory cgroup to make a child of");
        return;
    };
    let child = parent.join(format!("mmtools-test-{}", std::process::id()));
    if std::fs::create_dir(&child).is_err() {
        skip("cannot make a memory cgroup (not root, or the hierarchy is read-only)");
        return;
    }
    let limit: u64 = 256 * MIB;
    let max = if v2 {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    let (wrote, out) = match std::fs::write(child.join(max), limit.to_string()) {
        Err(e) => (Err(e), None),
        Ok(()) => {
            let script = format!(
                "echo $$ > '{}' && exec '{}' touch --json --budget 50% '{}'",
                child.join("cgroup.procs").display(),
                crate::util::bin_path("mmadvise").display(),
                a.display()
            );
            (
                Ok(()),
                Some(
                    std::process::Command::new("sh")
                        .arg("-c")
                        .arg(script)
                        .output()
                        .unwrap(),
                ),
            )
        }
    };
    let _ = std::fs::remove_dir(&child);
    if let Err(e) = wrote {
        skip(&format!("cannot set a memory cgroup limit: {e}"));
        return;
    }
    let out = out.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = json_lines(&out).pop().unwrap();
    let budget = summary["budget_bytes"].as_u64().unwrap();
    // Half the room under 256M, less what the shell and mmadvise use; far below half of MemAvailable.
    assert!(budget <= limit / 2, "{budget}");
    assert!(budget >= limit / 2 - 32 * MIB, "{budget}");
}

#[test]
fn a_rate_limit_is_a_lower_bound_on_the_time_and_the_file_is_resident() {
    let dir = disk_dir_or_skip!();
    let f = crate::mmadvise::big_file(dir.path(), "f", 160 * MIB);
    make_cold(&[&f]);
    let start = std::time::Instant::now();
    let out = mmadvise(&["touch", "--json", "--progress", "--rate", "40M", p(&f)]);
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The bar shows the rate achieved beside the limit.
    assert!(stderr(&out).contains("/s ETA"), "{}", stderr(&out));
    assert!(stderr(&out).contains("(limit 40M/s)"), "{}", stderr(&out));
    assert!(took.as_secs_f64() >= 3.5, "160 MiB at 40 MiB/s in {took:?}");
    assert!(loaded(&f) >= 160 * MIB, "{} of 160 MiB", loaded(&f));
    let summary = json_lines(&out).pop().unwrap();
    assert_eq!(summary["rate_limit_bytes_per_second"], 40 * MIB);
    assert_eq!(summary["loaded_bytes"], 160 * MIB);
    let rate = summary["rate_bytes_per_second"].as_u64().unwrap();
    assert!(rate <= 40 * MIB && rate > 0, "{rate}");

    // restore and willneed --wait keep to it too. The snapshot says all of it was cached (as saved,
    // reclaim might have taken a few pages back already).
    let snap = dir.path().join("all.snap");
    let mut w = mmtools::snapshot::Writer::new(Vec::new()).unwrap();
    w.file(&mmtools::snapshot::FileRecord {
        path: f.clone(),
        identity: mmtools::snapshot::Identity::of(&std::fs::metadata(&f).unwrap()),
        fingerprint: None,
        resident: vec![mmtools::range::Range::upto(160 * MIB)],
    })
    .unwrap();
    std::fs::write(&snap, w.finish().unwrap()).unwrap();
    make_cold(&[&f]);
    let start = std::time::Instant::now();
    let out = mmadvise(&["restore", "-q", "--rate", "64M/s", p(&snap)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        start.elapsed().as_secs_f64() >= 2.4,
        "{:?}",
        start.elapsed()
    );
    assert!(loaded(&f) >= 160 * MIB, "{} of 160 MiB", loaded(&f));
    make_cold(&[&f]);
    let start = std::time::Instant::now();
    let out = mmadvise(&["willneed", "-q", "--wait", "--rate", "128M", p(&f)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        start.elapsed().as_secs_f64() >= 1.2,
        "{:?}",
        start.elapsed()
    );
    assert!(loaded(&f) >= 160 * MIB, "{} of 160 MiB", loaded(&f));
}

#[test]
fn ionice_idle_is_the_priority_of_every_thread_of_the_running_tool() {
    use mmtools::sys::ioprio::{IoClass, get};
    let dir = disk_dir_or_skip!();
    let f = data_file(dir.path(), "f", 16 * MIB);
    make_cold(&[&f]);
    // Slow enough (16 MiB at 2 MiB/s) to be looked at while it loads.
    let mut child = std::process::Command::new(crate::util::bin_path("mmadvise"))
        .args([
            "touch",
            "-q",
            "-j",
            "2",
            "--rate",
            "2M",
            "--ionice",
            "idle",
            p(&f),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    crate::util::wait_sleeping(
        &mut child,
        std::time::Duration::from_secs(20),
        "touch --rate",
    );
    let pid = child.id();
    let tasks: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
        .filter_map(|t| t.file_name().to_str()?.parse().ok())
        .collect();
    let classes: Vec<_> = tasks.iter().map(|&tid| get(tid).map(|p| p.class)).collect();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        tasks.len() >= 3,
        "the main thread and two workers: {tasks:?}"
    );
    for c in &classes {
        assert!(matches!(c, Ok(IoClass::Idle)), "{tasks:?}: {classes:?}");
    }

    // A class this user may not set is an error before anything is read.
    if crate::util::is_root() {
        return;
    }
    let out = mmadvise(&["touch", "--ionice", "realtime:0", p(&f)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot set the I/O priority realtime:0"));
}
