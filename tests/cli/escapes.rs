//! Walks and names that cannot be turned against their caller (root, say).
//!
//! A link planted in /dev/shm, a directory anyone may write, is refused by `mmcounter --shm`, as
//! glibc's shm_open refuses it (O_NOFOLLOW).
//!
//! In the walks, a directory of the tree is swapped, again and
//! again, with a symbolic link to a directory outside it (renameat2 RENAME_EXCHANGE in a loop, from a
//! python3 child) while mmcp -r, mmstat and mmadvise walk the tree. Nothing from outside may ever be
//! copied, reported or touched.
//!
//! The outside directory holds files named as those of the swapped directory (of another size and
//! content, so that a file opened by path through the swapped link is caught) and files of its own
//! (`secret*`, so that a walk led outside is caught), at two levels: the swapped directory's own
//! entries, and those of its subdirectory, which a walk opening directories by path would reach.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{bin, skip, stderr, stdout};

const RUNS: usize = 60;
const INSIDE: &[u8] = b"inside\n";

/// The tree, the outside directory, and the link that is swapped with `src/sub`.
struct Scene {
    _dir: tempfile::TempDir,
    root: PathBuf,
    src: PathBuf,
}

fn scene() -> Scene {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let src = root.join("src");
    let outside = root.join("outside");
    // sub/deep too: a walk that opens sub/deep by path follows a link swapped in for sub.
    for d in ["sub", "sub/deep"] {
        std::fs::create_dir_all(src.join(d)).unwrap();
    }
    std::fs::create_dir_all(outside.join("deep")).unwrap();
    for d in ["", "deep/"] {
        for i in 0..20 {
            std::fs::write(src.join(format!("sub/{d}in{i:02}")), INSIDE).unwrap();
            std::fs::write(outside.join(format!("{d}in{i:02}")), vec![b'X'; 5000]).unwrap();
            std::fs::write(outside.join(format!("{d}secret{i:02}")), vec![b'S'; 3000]).unwrap();
        }
    }
    // Siblings before and after, so that the walk spends time around the swapped directory.
    for d in ["a", "z"] {
        std::fs::create_dir(src.join(d)).unwrap();
        for i in 0..20 {
            std::fs::write(src.join(format!("{d}/f{i:02}")), INSIDE).unwrap();
        }
    }
    std::os::unix::fs::symlink(&outside, root.join("swap")).unwrap();
    // Where the filesystem keeps user attributes, each side says where it is (for mmcp -a).
    for (d, origin) in [(src.join("sub"), "inside"), (outside.clone(), "outside")] {
        let _ = rustix::fs::setxattr(
            &d,
            "user.origin",
            origin.as_bytes(),
            rustix::fs::XattrFlags::empty(),
        );
    }
    Scene {
        _dir: dir,
        root,
        src,
    }
}

/// A python3 child exchanging `a` and `b` as fast as it can, once it has written `ready`.
struct Swapper(Child);

impl Swapper {
    fn start(a: &Path, b: &Path, ready: &Path) -> Option<Swapper> {
        let script = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b, ready = (os.fsencode(x) for x in sys.argv[1:4])
AT_FDCWD, RENAME_EXCHANGE = -100, 2
if libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0:
    sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
open(ready, "w").close()
while True:
    libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
"#;
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(a)
            .arg(b)
            .arg(ready)
            .stderr(Stdio::piped())
            .spawn()
            .ok()?;
        let start = Instant::now();
        while !ready.exists() {
            if let Ok(Some(_)) = child.try_wait() {
                return None;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the swapper did not start"
            );
            std::thread::yield_now();
        }
        Some(Swapper(child))
    }
}

impl Drop for Swapper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts swapping `src/sub` with the link to outside, or says why the test cannot run.
fn swapping(scene: &Scene) -> Option<Swapper> {
    let swapper = Swapper::start(
        &scene.src.join("sub"),
        &scene.root.join("swap"),
        &scene.root.join("ready"),
    );
    if swapper.is_none() {
        skip("python3 with renameat2 (RENAME_EXCHANGE) is needed");
    }
    swapper
}

/// Every regular file under `dir`, links not followed.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let kind = e.file_type().unwrap();
        if kind.is_dir() {
            files(&e.path(), out);
        } else if kind.is_file() {
            out.push(e.path());
        }
    }
}

#[test]
fn mmcp_r_never_copies_from_outside_the_tree() {
    let scene = scene();
    let Some(_swapper) = swapping(&scene) else {
        return;
    };
    let mut copied_sub = 0;
    for run in 0..RUNS {
        let dst = scene.root.join(format!("copy{run}"));
        // Every other run with -a, which also copies the directories' extended attributes.
        let out = bin("mmcp")
            .arg(if run % 2 == 0 { "-r" } else { "-a" })
            .arg(&scene.src)
            .arg(&dst)
            .output()
            .unwrap();
        let mut found = Vec::new();
        files(&dst, &mut found);
        for f in &found {
            let name = f.file_name().unwrap().to_string_lossy();
            assert!(
                !name.starts_with("secret"),
                "run {run}: {} copied",
                f.display()
            );
            let data = std::fs::read(f).unwrap();
            assert!(
                data == INSIDE,
                "run {run}: {} has {} bytes of outside data; {}",
                f.display(),
                data.len(),
                stderr(&out)
            );
            copied_sub += usize::from(name.starts_with("in"));
        }
        let mut origin = [0u8; 16];
        if let Ok(n) = rustix::fs::lgetxattr(dst.join("sub"), "user.origin", &mut origin[..]) {
            assert_eq!(
                &origin[..n],
                b"inside",
                "run {run}: the copy of sub has the outside directory's attributes"
            );
        }
        std::fs::remove_dir_all(&dst).unwrap();
    }
    // The race is real: the swapped directory was copied in some runs, missed in others.
    assert!(copied_sub > 0, "sub was never copied");
}

#[test]
fn mmstat_never_reports_files_outside_the_tree() {
    let scene = scene();
    let Some(_swapper) = swapping(&scene) else {
        return;
    };
    for run in 0..RUNS {
        let out = bin("mmstat")
            .args(["--json", "--bytes"])
            .arg(&scene.src)
            .output()
            .unwrap();
        let text = stdout(&out);
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["type"] == "file" {
                let path = v["path"].as_str().unwrap();
                assert!(!path.contains("secret"), "run {run}: {line}");
                assert_eq!(v["size"], INSIDE.len(), "run {run}: {line}");
            }
        }
    }
}

#[test]
fn mmadvise_never_touches_files_outside_the_tree() {
    let scene = scene();
    let Some(_swapper) = swapping(&scene) else {
        return;
    };
    let mut touched_sub = 0;
    for run in 0..RUNS {
        let out = bin("mmadvise")
            .args(["touch", "--json"])
            .arg(&scene.src)
            .output()
            .unwrap();
        let text = stdout(&out);
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["type"] == "file" {
                let path = v["path"].as_str().unwrap();
                assert!(!path.contains("secret"), "run {run}: {line}");
                assert_eq!(v["size"], INSIDE.len(), "run {run}: {line}");
                touched_sub += usize::from(path.contains("/sub/"));
            }
        }
    }
    assert!(touched_sub > 0, "sub was never touched");
}

/// A link in /dev/shm, removed however the test ends.
struct Planted(PathBuf);

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn mmcounter_shm_refuses_a_planted_link() {
    if !Path::new("/dev/shm").is_dir() {
        skip("no /dev/shm");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    std::fs::write(&target, b"0000000041\n").unwrap();
    let missing = dir.path().join("missing");
    for (to, what) in [(&target, "an existing file"), (&missing, "a missing file")] {
        let name = format!("mmtools-planted-{}-{}", std::process::id(), what.len());
        let link = Path::new("/dev/shm").join(&name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(to, &link).unwrap();
        let _planted = Planted(link.clone());
        for args in [&[][..], &["--get"], &["--set", "7"]] {
            let out = bin("mmcounter")
                .args(["--shm", &name])
                .args(args)
                .output()
                .unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{what} {args:?}: {err}");
            assert_eq!(
                err,
                format!(
                    "mmcounter: {name}: not a regular file (a symbolic link, refused as shm_open \
                     does)\n"
                ),
                "{what} {args:?}"
            );
            assert_eq!(stdout(&out), "");
        }
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    }
    assert_eq!(std::fs::read(&target).unwrap(), b"0000000041\n");
    assert!(!missing.exists(), "a link's missing target was created");
}
