#!/usr/bin/env python3
"""Tables, CSV and plots from dp_step_bench JSON lines (benchmarks/dp_step.cc).

  dp_report.py overlap OUT_DIR RESULTS.jsonl
      per compressor: step time with the reducer overlapping backward, with all
      communication after backward, and with no communication; the fraction of
      communication hidden, two ways: from the reducer's own clocks,
      1 - exposed / busy (exposed: finishStep() waiting after backward; busy: the
      synchronisation thread reducing buckets), and from step times,
      (after - overlap) / (after - off), which noise swamps when communication is
      a small part of the step; bytes this rank
      handed to the communicator per step and the achieved Top-k ratio.
      Writes OUT_DIR/overlap.csv and OUT_DIR/overlap.png.
"""
from __future__ import annotations

import csv
import json
import os
import sys


def load(path: str) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.startswith("{")]


def overlap(out_dir: str, path: str) -> None:
    rows = load(path)
    by = {(r["compressor"], r["mode"]): r for r in rows}
    compressors = list(dict.fromkeys(r["compressor"] for r in rows))
    table = []
    for c in compressors:
        ov, ab, off = by.get((c, "overlap")), by.get((c, "after_backward")), by.get((c, "off"))
        if not (ov and ab and off):
            continue
        comm = ab["step_ms"] - off["step_ms"]
        hidden = (ab["step_ms"] - ov["step_ms"]) / comm if comm > 0 else float("nan")
        hidden_clock = 1.0 - ov["exposed_ms"] / ov["busy_ms"] if ov["busy_ms"] > 0 else float("nan")
        table.append({
            "compressor": c,
            "ranks": ov["ranks"],
            "step_ms_overlap": round(ov["step_ms"], 2),
            "step_ms_after_backward": round(ab["step_ms"], 2),
            "step_ms_no_comm": round(off["step_ms"], 2),
            "comm_busy_ms": round(ov["busy_ms"], 2),
            "exposed_ms": round(ov["exposed_ms"], 2),
            "hidden_fraction_clocks": round(hidden_clock, 3),
            "hidden_fraction_step_times": round(hidden, 3),
            "bytes_per_step": int(ov["bytes_per_step"]),
            "achieved_ratio": round(ov["achieved_ratio"], 5),
        })
    if not table:
        sys.exit("dp_report.py: no complete (overlap, after_backward, off) triple in " + path)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "overlap.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(table[0].keys()))
        w.writeheader()
        w.writerows(table)
    none_bytes = next((t["bytes_per_step"] for t in table if t["compressor"] == "none"), None)
    head = (f"{'compressor':<11}{'overlap ms':>11}{'after bw ms':>12}{'no comm ms':>11}{'comm ms':>9}"
            f"{'exposed ms':>11}{'hidden':>8}{'hidden*':>8}{'bytes/rank/step':>17}{'vs none':>9}{'topk ratio':>11}")
    print(head)
    for t in table:
        rel = f"{t['bytes_per_step'] / none_bytes:.4f}" if none_bytes else "-"
        ratio = f"{t['achieved_ratio']:.4f}" if t["achieved_ratio"] > 0 else "-"
        print(f"{t['compressor']:<11}{t['step_ms_overlap']:>11.2f}{t['step_ms_after_backward']:>12.2f}"
              f"{t['step_ms_no_comm']:>11.2f}{t['comm_busy_ms']:>9.2f}{t['exposed_ms']:>11.2f}"
              f"{t['hidden_fraction_clocks']:>8.2f}{t['hidden_fraction_step_times']:>8.2f}{t['bytes_per_step']:>17,}{rel:>9}{ratio:>11}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib missing: no plot)")
        return
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5))
    xs = range(len(table))
    w = 0.27
    a1.bar([x - w for x in xs], [t["step_ms_no_comm"] for t in table], w, label="no communication")
    a1.bar(list(xs), [t["step_ms_overlap"] for t in table], w, label="reducer, overlapped")
    a1.bar([x + w for x in xs], [t["step_ms_after_backward"] for t in table], w, label="after backward")
    a1.set_xticks(list(xs), [t["compressor"] for t in table])
    a1.set_ylabel("step time (ms)")
    a1.set_title(f"step time, {table[0]['ranks']} ranks")
    a1.legend(fontsize=8)
    a2.bar(list(xs), [t["bytes_per_step"] / 1e6 for t in table])
    a2.set_xticks(list(xs), [t["compressor"] for t in table])
    a2.set_ylabel("MB handed to the communicator per rank per step")
    a2.set_yscale("log")
    a2.set_title("traffic per rank per step (measured)")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "overlap.png"), dpi=120)
    print("hidden = 1 - exposed/busy (reducer clocks); hidden* = (after - overlap)/(after - off) (step times)")
    print(f"wrote {out_dir}/overlap.csv, {out_dir}/overlap.png")


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[1] != "overlap":
        sys.exit(__doc__)
    overlap(sys.argv[2], sys.argv[3])


if __name__ == "__main__":
    main()
