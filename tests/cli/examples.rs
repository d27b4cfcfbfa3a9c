//! The deployment examples under examples/ cannot rot: the systemd units pass `systemd-analyze verify`
//! (systemd's own parser), the Kubernetes manifest is parsed by PyYAML, and the commands they hold are
//! run as written (paths moved into a temporary directory), the textfile they write checked by
//! promtool.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{bin_path, skip, stderr, write};

fn example(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(path)
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

/// Runs `words` (a command line split on spaces) after replacing each `(from, to)` in every word.
fn run_words(words: &[String], replace: &[(&str, &Path)]) -> std::process::Output {
    let words: Vec<String> = words
        .iter()
        .map(|w| {
            replace.iter().fold(w.clone(), |w, (from, to)| {
                w.replace(from, to.to_str().unwrap())
            })
        })
        .collect();
    Command::new(&words[0]).args(&words[1..]).output().unwrap()
}

/// Checks a textfile with promtool, the Prometheus server's own checker.
fn promtool_passes(file: &Path) {
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(file).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool on {file:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
}

/// A small tree to measure, with an `index` directory.
fn data(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    for sub in ["index/a", "tables/b", "tables/c/d"] {
        std::fs::create_dir_all(data.join(sub)).unwrap();
        write(&data.join(sub), "f", &crate::util::noise(64 << 10, 3));
    }
    data
}

#[test]
fn systemd_units_pass_systemd_analyze_and_their_command_runs() {
    if !have("systemd-analyze") || !have("promtool") {
        skip("systemd-analyze (systemd) and promtool (prometheus) are needed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let service = std::fs::read_to_string(example("systemd/mmstat-textfile.service")).unwrap();
    let timer = std::fs::read_to_string(example("systemd/mmstat-textfile.timer")).unwrap();
    // verify checks that ExecStart's program exists: point it at the binary under test.
    let mmstat = bin_path("mmstat").to_str().unwrap();
    let units = dir.path().join("units");
    std::fs::create_dir(&units).unwrap();
    write(
        &units,
        "mmstat-textfile.service",
        service.replace("/usr/local/bin/mmstat", mmstat).as_bytes(),
    );
    write(&units, "mmstat-textfile.timer", timer.as_bytes());
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(units.join("mmstat-textfile.service"))
        .arg(units.join("mmstat-textfile.timer"))
        .output()
        .unwrap();
    // An unknown key or a bad value is only a warning to systemd: any message fails the test.
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        stderr(&out)
    );
    // The command, as written, with the paths moved here.
    let exec = service
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line");
    let words: Vec<String> = exec.split(' ').map(String::from).collect();
    let textfile = dir.path().join("textfile");
    std::fs::create_dir(&textfile).unwrap();
    let data = data(dir.path());
    let out = run_words(
        &words,
        &[
            ("/usr/local/bin/mmstat", bin_path("mmstat")),
            ("/var/lib/prometheus/node-exporter", &textfile),
            ("/srv/data", &data),
        ],
    );
    assert!(out.status.success(), "{exec}: {}", stderr(&out));
    let names: Vec<_> = std::fs::read_dir(&textfile)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["mmstat.prom"], "one file and no temporary");
    let text = std::fs::read_to_string(textfile.join("mmstat.prom")).unwrap();
    assert!(text.contains("mmstat_dir_resident_bytes{path="), "{text}");
    promtool_passes(&textfile.join("mmstat.prom"));
}

/// The manifest as JSON, through PyYAML (Debian's python3-yaml).
fn yaml(path: &Path) -> Option<Value> {
    let script = "import json, sys, yaml\n\
                  print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))";
    for python in ["/usr/bin/python3", "python3"] {
        let Ok(out) = Command::new(python).args(["-c", script]).arg(path).output() else {
            continue;
        };
        if out.status.success() {
            return Some(serde_json::from_slice(&out.stdout).unwrap());
        }
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("No module named 'yaml'"),
            "PyYAML rejects {path:?}: {}",
            stderr(&out)
        );
    }
    None
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn kubernetes_daemonset_parses_and_its_commands_run() {
    let manifest = example("kubernetes/mmstat-daemonset.yaml");
    let Some(docs) = yaml(&manifest) else {
        skip("PyYAML (python3-yaml) is needed");
        return;
    };
    let ds = &docs[0];
    assert_eq!(ds["apiVersion"], "apps/v1");
    assert_eq!(ds["kind"], "DaemonSet");
    let labels = &ds["spec"]["template"]["metadata"]["labels"];
    for (k, v) in ds["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(&labels[k], v, "the selector matches the pods");
    }
    let pod = &ds["spec"]["template"]["spec"];
    let volumes = pod["volumes"].as_array().unwrap();
    let host_path = |name: &str| {
        volumes.iter().find(|v| v["name"] == name).unwrap()["hostPath"]["path"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(host_path("textfile"), "/var/lib/node-exporter/textfile");
    let init = &pod["initContainers"][0];
    let main = &pod["containers"][0];
    // The host's data is mounted read-only everywhere.
    for c in [init, main] {
        for m in c["volumeMounts"].as_array().unwrap() {
            if m["name"] == "data" {
                assert_eq!(m["readOnly"], true, "{m}");
            }
        }
        let caps = &c["securityContext"]["capabilities"];
        assert_eq!(strings(&caps["drop"]), ["ALL"]);
    }

    // Run the pod's commands as written, the mounts moved here: preStop's --save, the init
    // container's warm-up gate (after the data was evicted), then the main container (one refresh).
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path());
    let (snapshots, textfile) = (dir.path().join("snapshots"), dir.path().join("textfile"));
    std::fs::create_dir(&snapshots).unwrap();
    std::fs::create_dir(&textfile).unwrap();
    let bin = bin_path("mmstat").parent().unwrap();
    let mounts: [(&str, &Path); 4] = [
        ("/usr/local/bin", bin),
        ("/host/data", &data),
        ("/snapshots", &snapshots),
        ("/textfile", &textfile),
    ];
    let save = strings(&main["lifecycle"]["preStop"]["exec"]["command"]);
    let out = run_words(&save, &mounts);
    assert!(out.status.success(), "{save:?}: {}", stderr(&out));
    assert!(snapshots.join("data.jsonl").exists());
    let evict = Command::new(bin_path("mmadvise"))
        .args(["evict"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(evict.status.success(), "{}", stderr(&evict));
    let mut script = init["args"][0].as_str().unwrap().to_string();
    assert!(script.contains("mmadvise restore") && script.contains("--check"));
    for (from, to) in &mounts {
        script = script.replace(from, to.to_str().unwrap());
    }
    let mut command = strings(&init["command"]);
    command.push(script);
    let out = Command::new(&command[0])
        .args(&command[1..])
        .output()
        .unwrap();
    assert!(out.status.success(), "the warm-up gate: {}", stderr(&out));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("resident"), "{summary}");

    let mut args = strings(&main["command"]);
    args.extend(strings(&main["args"]));
    let output = args.iter().position(|a| a == "--output-file").unwrap();
    assert!(args[output + 1].starts_with("/textfile/"));
    args.extend(["--count".to_string(), "1".to_string()]);
    let out = run_words(&args, &mounts);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    let text = std::fs::read_to_string(textfile.join("mmstat.prom")).unwrap();
    assert!(text.contains("mmstat_dir_files{path="), "{text}");
    if have("promtool") {
        promtool_passes(&textfile.join("mmstat.prom"));
    } else {
        skip("promtool (prometheus) is needed");
    }
}
