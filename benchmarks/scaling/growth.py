#!/usr/bin/env python3
"""Tables, fitted exponents and curves from benchmarks/scaling/growth.sh.

  growth.py OUT_DIR

Reads OUT_DIR/<series>_<value>.yaml (workloads `autoglm simulate --profile`
wrote: step median, min, max and peak RSS in the comment, the parameters),
fits log(step) = k log(value) + c per series by least squares (and the same
for the step's memory above the smallest point), writes OUT_DIR/growth.csv,
growth.md and growth.png.
"""
from __future__ import annotations

import csv
import glob
import math
import os
import re
import sys

LABELS = {
    "nodes": "nodes per graph (mean)",
    "edges": "edges per node",
    "batch": "graphs per step",
    "width": "embedding width",
    "vocab": "vocabulary",
}


def fit(xs: list[float], ys: list[float]) -> float:
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    sxx = sum((a - mx) ** 2 for a in lx)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sxx if sxx > 0 else float("nan")


def main() -> None:
    out = sys.argv[1]
    rows = []
    for path in glob.glob(os.path.join(out, "*_*.yaml")):
        series, value = os.path.basename(path)[:-5].rsplit("_", 1)
        text = open(path).read()
        m = re.search(r"Step: median ([0-9.]+) ms \(min ([0-9.]+), max ([0-9.]+)\).*peak RSS ([0-9.]+) MB", text)
        numels = re.search(r"tensor_numels: \[([0-9, ]+)\]", text).group(1)
        rows.append({"series": series, "value": int(value), "step_ms": float(m.group(1)),
                     "step_ms_min": float(m.group(2)), "step_ms_max": float(m.group(3)),
                     "peak_rss_mb": float(m.group(4)),
                     "parameters": sum(int(n) for n in numels.split(","))})
    rows.sort(key=lambda r: (list(LABELS).index(r["series"]) if r["series"] in LABELS else 99, r["value"]))
    with open(os.path.join(out, "growth.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    lines = ["| grows | values | step ms (min-max) | peak RSS MB | parameters | step ~ size^k | k, two largest |",
             "|---|---|---|---|---|---:|---:|"]
    exps = {}
    for s in LABELS:
        pts = [r for r in rows if r["series"] == s]
        if len(pts) < 2:
            continue
        k = fit([r["value"] for r in pts], [r["step_ms"] for r in pts])
        exps[s] = k
        lines.append(f"| {LABELS[s]} | {', '.join(str(r['value']) for r in pts)} | "
                     + ", ".join(f"{r['step_ms']:.1f} ({r['step_ms_min']:.1f}-{r['step_ms_max']:.1f})" for r in pts)
                     + " | " + ", ".join(f"{r['peak_rss_mb']:.0f}" for r in pts) + " | "
                     + ", ".join(str(r["parameters"]) for r in pts) + f" | {k:.2f} | "
                     + f"{fit([r['value'] for r in pts[-2:]], [r['step_ms'] for r in pts[-2:]]):.2f} |")
    text = "\n".join(lines) + "\n"
    open(os.path.join(out, "growth.md"), "w").write(text)
    print(text)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no PNG", file=sys.stderr)
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, s in enumerate(exps):
        pts = [r for r in rows if r["series"] == s]
        x0 = pts[0]["value"]
        xs = [r["value"] / x0 for r in pts]
        axes[0].plot(xs, [r["step_ms"] for r in pts], "o-", color=f"C{i}", label=f"{LABELS[s]} (k = {exps[s]:.2f})")
        axes[1].plot(xs, [r["peak_rss_mb"] for r in pts], "o-", color=f"C{i}", label=LABELS[s])
    for ax, ylabel in zip(axes, ("step ms (median)", "peak RSS MB")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("size / smallest size")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7)
    axes[0].set_title("one process, one thread: step time as one size grows")
    axes[1].set_title("peak resident memory")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "growth.png"), dpi=110)


if __name__ == "__main__":
    main()
