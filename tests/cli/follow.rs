//! `mmadvise lock --follow` and `touch --follow`, watched through the kernel's account: the tool's
//! /proc/PID/smaps (Locked) and fincore. Each change is made, then its effect polled for with a deadline.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{bin_path, disk_dir, evict, noise, sh, skip};

const MIB: u64 = 1 << 20;

/// Bytes locked in `pid`'s maps of `path` (the smaps entries named exactly so; " (deleted)" when its
/// file is gone).
fn locked_of(pid: u32, name: &str) -> u64 {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut ours = false;
    let mut kb = 0;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            ours = line.ends_with(&format!(" {name}"));
        } else if ours && let Some(v) = line.strip_prefix("Locked:") {
            kb += v
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .unwrap();
        }
    }
    kb * 1024
}

/// Polls `ok` for up to 20 s; panics with `what` and the output so far.
fn until(what: &str, lines: &Arc<Mutex<Vec<String>>>, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within 20 s; output: {:#?}",
            lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The running tool, killed if a test fails before it is stopped.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Running {
    fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }
}

/// Starts `mmadvise ARGS`, collecting its output lines.
fn start(args: &[&str]) -> (Running, Arc<Mutex<Vec<String>>>) {
    let mut child = std::process::Command::new(bin_path("mmadvise"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let out = child.stdout.take().unwrap();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            sink.lock().unwrap().push(line.unwrap());
        }
    });
    (Running(Some(child)), lines)
}

fn events(lines: &Arc<Mutex<Vec<String>>>) -> Vec<Value> {
    lines
        .lock()
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn seen(lines: &Arc<Mutex<Vec<String>>>, event: &str, path: &Path) -> bool {
    events(lines)
        .iter()
        .any(|e| e["event"] == event && e["path"] == path.to_str().unwrap())
}

fn stop(mut running: Running) {
    let mut child = running.0.take().unwrap();
    sh(&format!("kill -TERM {}", child.id()));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0), "SIGTERM ends it with status 0");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("mmadvise did not end on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn lock_follow_relocks_replaced_grown_and_new_files_and_lets_go_of_the_old() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("watched");
    let staging = top.path().join("staging");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&staging).unwrap();
    let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));
    std::fs::write(&a, noise(4 * MIB as usize, 1)).unwrap();
    std::fs::write(&b, noise(4 * MIB as usize, 2)).unwrap();
    let (child, lines) = start(&["lock", "--follow", "--json", dir.to_str().unwrap()]);
    let pid = child.id();
    let name = |p: &Path| p.to_str().unwrap().to_string();
    until("the first walk", &lines, || {
        events(&lines).iter().any(|e| e["event"] == "watching")
    });
    assert!(locked_of(pid, &name(&a)) >= 4 * MIB);
    assert!(locked_of(pid, &name(&b)) >= 4 * MIB);

    // a is replaced by a rename (made elsewhere on the same filesystem, then moved over it).
    let new_a = staging.join("a");
    std::fs::write(&new_a, noise(6 * MIB as usize, 3)).unwrap();
    std::fs::rename(&new_a, &a).unwrap();
    until("the new a locked", &lines, || {
        locked_of(pid, &name(&a)) >= 6 * MIB
    });
    until("the old a released", &lines, || {
        locked_of(pid, &format!("{} (deleted)", name(&a))) == 0 && seen(&lines, "replaced", &a)
    });

    // b grows by 8 MiB: its new tail is locked.
    sh(&format!(
        "head -c {} /dev/urandom >> '{}'",
        8 * MIB,
        b.display()
    ));
    until("b's new tail locked", &lines, || {
        locked_of(pid, &name(&b)) >= 12 * MIB && seen(&lines, "grew", &b)
    });

    // c is created in the directory.
    std::fs::write(&c, noise(2 * MIB as usize, 4)).unwrap();
    until("c locked", &lines, || locked_of(pid, &name(&c)) >= 2 * MIB);

    // c is deleted: let go.
    std::fs::remove_file(&c).unwrap();
    until("c released", &lines, || {
        locked_of(pid, &format!("{} (deleted)", name(&c))) == 0 && seen(&lines, "released", &c)
    });

    // SIGHUP walks everything again; SIGTERM unlocks and ends with status 0.
    sh(&format!("kill -HUP {pid}"));
    until("a rescan", &lines, || {
        events(&lines).iter().any(|e| e["event"] == "rescan")
    });
    until("the rescan's end", &lines, || {
        events(&lines)
            .iter()
            .filter(|e| e["event"] == "watching")
            .count()
            == 2
    });
    stop(child);
    until("the last event", &lines, || {
        events(&lines)
            .last()
            .is_some_and(|e| e["event"] == "stopped")
    });
    for e in events(&lines) {
        for key in e.as_object().unwrap().keys() {
            assert!(
                mmtools::cli::schema::allows("mmadvise", e["type"].as_str().unwrap(), key),
                "{key} of {e} is not in mmtools-json(7)"
            );
        }
    }
    let last = events(&lines).pop().unwrap();
    assert_eq!(last["files"], 2, "{last}");
    assert!(last["locked_bytes"].as_u64().unwrap() >= 18 * MIB, "{last}");
}

/// Bytes of `path` in the page cache, as util-linux fincore counts them.
fn resident(path: &Path) -> u64 {
    let out = sh(&format!(
        "fincore --bytes --noheadings --output RES '{}'",
        path.display()
    ));
    out.trim().parse().unwrap()
}

#[test]
fn touch_follow_loads_replaced_and_new_files() {
    let Some(top) = disk_dir() else {
        skip("no temporary directory on a disk (tmpfs pages cannot be evicted)");
        return;
    };
    let dir = top.path().join("watched");
    let staging = top.path().join("staging");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&staging).unwrap();
    let a = dir.join("a");
    std::fs::write(&a, noise(4 * MIB as usize, 5)).unwrap();
    evict(&a);
    let (child, lines) = start(&["touch", "--follow", "--json", dir.to_str().unwrap()]);
    until("the first walk", &lines, || {
        events(&lines).iter().any(|e| e["event"] == "watching")
    });
    assert_eq!(resident(&a), 4 * MIB, "loaded at the start");

    // Files made elsewhere, written back and evicted, then moved in: only mmadvise can load them.
    let stage = |name: &str, len: u64, seed: u64| {
        let p = staging.join(name);
        std::fs::write(&p, noise(len as usize, seed)).unwrap();
        evict(&p);
        assert_eq!(resident(&p), 0);
        p
    };
    std::fs::rename(stage("a", 6 * MIB, 6), &a).unwrap();
    until("the new a loaded", &lines, || {
        resident(&a) == 6 * MIB && seen(&lines, "replaced", &a)
    });
    let d = dir.join("d");
    std::fs::rename(stage("d", 3 * MIB, 7), &d).unwrap();
    until("d loaded", &lines, || {
        resident(&d) == 3 * MIB && seen(&lines, "added", &d)
    });
    stop(child);
}

#[test]
fn lock_follow_checks_rlimit_memlock_before_each_new_lock() {
    let is_root = sh("id -u").trim() == "0";
    if !is_root
        || std::process::Command::new("prlimit")
            .arg("--version")
            .output()
            .is_err()
    {
        skip("needs root and prlimit to drop CAP_IPC_LOCK and set a small RLIMIT_MEMLOCK");
        return;
    }
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("watched");
    std::fs::create_dir_all(&dir).unwrap();
    let a = dir.join("a");
    std::fs::write(&a, noise(MIB as usize, 8)).unwrap();
    let errors = top.path().join("stderr");
    let child = std::process::Command::new("prlimit")
        .args([
            "--memlock=3145728:3145728",
            "setpriv",
            "--inh-caps=-ipc_lock",
        ])
        .args(["--bounding-set=-ipc_lock"])
        .arg(bin_path("mmadvise"))
        .args(["lock", "--follow", "--json", dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&errors).unwrap())
        .spawn()
        .unwrap();
    let mut running = Running(Some(child));
    let out = running.0.as_mut().unwrap().stdout.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            sink.lock().unwrap().push(line.unwrap());
        }
    });
    until("a locked", &lines, || seen(&lines, "added", &a));
    // b would pass the limit: refused with lock's message, and the others stay locked.
    // Files are made beside the directory and moved in whole, so that each is seen at its full size.
    let moved_in = |name: &str, len: u64, seed: u64| {
        let staged = top.path().join(name);
        std::fs::write(&staged, noise(len as usize, seed)).unwrap();
        std::fs::rename(&staged, dir.join(name)).unwrap();
        dir.join(name)
    };
    let b = moved_in("b", 4 * MIB, 9);
    let want = format!(
        "mmadvise: {}: cannot lock 4.0M: RLIMIT_MEMLOCK lets this process lock 3.0M (2.0M still free)",
        b.display()
    );
    until("b refused", &lines, || {
        std::fs::read_to_string(&errors).unwrap().contains(&want)
    });
    assert!(
        std::fs::read_to_string(&errors)
            .unwrap()
            .contains("ulimit -l")
    );
    // c fits: it is locked.
    let c = moved_in("c", MIB, 10);
    until("c locked", &lines, || {
        locked_of(running.id(), c.to_str().unwrap()) >= MIB
    });
    stop(running);
}
