#!/usr/bin/env python3
"""Result bookkeeping for bench/compare.sh. Not meant to be run by hand.

    report.py add   RESULTS JSON TOOL WORKLOAD TARGET PEER_LABEL LOAD   one hyperfine run of (mmtools, peer)
    report.py raw   RESULTS TOOL WORKLOAD MM PEER_LABEL PEER TARGET LOAD [KIND]  a row computed by a row file
    report.py median JSON                                               the median of a one-command run
    report.py table RESULTS NOTES MACHINE MARKDOWN                      print the table, write the Markdown

RESULTS is a TSV file, one row per line: tool, workload, mm, peer label, peer, ratio, target, status,
CPUs busy before the row (LOAD),
kind ("timed" for hyperfine rows, whose peer label is a command, or "computed").
mm and peer are seconds when numeric, otherwise free text (for rows that are not timings).
`add` and `raw` print "MM_SECONDS PEER_SECONDS" (or "- -") so the caller can reuse the medians.
TARGET is a ratio: "0.5" or "<=0.5" (ratio at most 0.5), ">=2" (at least 2), or "-" for none.
"""

import json
import os
import sys


def number(text):
    try:
        return float(text)
    except ValueError:
        return None


def check(ratio, target):
    """Returns (normalised target, status)."""
    target = target.strip()
    if target in ("", "-") or ratio is None:
        return ("" if target in ("", "-") else target), ""
    if target.startswith(">="):
        bound = float(target[2:])
        return f">={bound:g}", "met" if ratio >= bound else "missed"
    bound = float(target[2:] if target.startswith("<=") else target)
    return f"<={bound:g}", "met" if ratio <= bound else "missed"


def append(results, fields):
    fields = ["" if f is None else str(f).replace("\t", " ").replace("\n", " ") for f in fields]
    with open(results, "a") as f:
        f.write("\t".join(fields) + "\n")


def row(results, tool, workload, mm, peer_label, peer, target, load, kind):
    a, b = number(mm), number(peer)
    ratio = a / b if a is not None and b not in (None, 0.0) else None
    target, status = check(ratio, target)
    append(results, [tool, workload, mm, peer_label, peer, "" if ratio is None else f"{ratio:.6f}",
                     target, status, load, kind])
    print(mm if a is not None else "-", peer if b is not None else "-")


def medians(path):
    with open(path) as f:
        return [r["median"] for r in json.load(f)["results"]]


def seconds(value):
    v = number(value)
    if v is None:
        return value
    if v < 1e-3:
        return f"{v * 1e6:.0f} µs"
    if v < 1:
        return f"{v * 1e3:.1f} ms"
    return f"{v:.3f} s"


def table(results, notes, machine, markdown):
    rows = []
    with open(results) as f:
        for line in f:
            tool, workload, mm, label, peer, ratio, target, status, load, kind = line.rstrip("\n").split("\t")
            r = number(ratio)
            rows.append({
                "workload": f"{tool}: {workload}",
                "mmtools": seconds(mm),
                "label": label,
                "peer_time": seconds(peer),
                "peer": f"{label} {seconds(peer)}".strip(),
                "ratio": f"{r:.2f}×" if r is not None else "-",
                "target": (f"{target.replace('<=', '≤ ').replace('>=', '≥ ')}× {status}"
                           if target else "-"),
                "load": load,
                "kind": kind,
            })
    heads = ["workload", "mmtools", "peer", "ratio", "target"]
    widths = {h: max([len(h)] + [len(r[h]) for r in rows]) for h in heads}
    print("  ".join(h.ljust(widths[h]) for h in heads))
    for r in rows:
        print("  ".join(r[h].ljust(widths[h]) for h in heads))

    with open(machine) as f:
        machine_lines = [line.rstrip("\n") for line in f if line.strip()]
    try:
        with open(notes) as f:
            note_lines = [line.rstrip("\n") for line in f if line.strip()]
    except FileNotFoundError:
        note_lines = []
    loads = [number(r["load"]) for r in rows if number(r["load"]) is not None]
    md = ["# mmtools benchmarks", ""]
    md += [f"- {line}" for line in machine_lines]
    md += ["", "| workload | mmtools | peer | ratio | target |", "|---|---:|---:|---:|---|"]
    for r in rows:
        label, dagger = r["label"], ""
        if label.endswith(" †"):
            label, dagger = label[:-2], " †"
        if label and r["kind"] == "timed":
            label = f"`{label}`"
        peer = f"{label}{dagger} {r['peer_time']}".strip()
        cells = [r["workload"], r["mmtools"], peer, r["ratio"], r["target"]]
        md.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    md.append("")
    md.append("Medians of hyperfine runs; ratio = mmtools / peer (below 1 means mmtools is faster).")
    if loads:
        md.append(f"CPUs busy with other work just before each row (sampled for 2 s): {min(loads):.2f} to "
                  f"{max(loads):.2f} of {os.cpu_count()}.")
    md += [""] + [f"- {line}" for line in note_lines]
    with open(markdown, "w") as f:
        f.write("\n".join(md).rstrip() + "\n")
    missed = sum(1 for r in rows if r["target"].endswith("missed"))
    print(f"\n{len(rows)} rows, {missed} target(s) missed; Markdown: {markdown}")


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "add":
        results, path, tool, workload, target, label, load = args
        mm, peer = medians(path)
        row(results, tool, workload, repr(mm), label, repr(peer), target, load, "timed")
    elif cmd == "raw":
        results, tool, workload, mm, label, peer, target, load, *kind = args
        row(results, tool, workload, mm, label, peer, target, load, (kind or ["computed"])[0])
    elif cmd == "median":
        print(repr(medians(args[0])[0]))
    elif cmd == "table":
        table(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
