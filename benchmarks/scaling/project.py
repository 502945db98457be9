#!/usr/bin/env python3
"""Projection tables and curves from benchmarks/scaling/project.sh.

  project.py OUT_DIR

Reads OUT_DIR/<model>_<rate>gbit.csv (autoglm simulate --csv) and the
workloads' comments; writes OUT_DIR/projections.csv (every row, with model and
network), projections.md (efficiency per compressor at each rank count) and
projections.png (efficiency against ranks, a panel per model and network).
"""
from __future__ import annotations

import csv
import glob
import os
import re
import sys

MODELS = {"r8": "R8 (configs/r8_gat.yaml)", "ohsumed": "Ohsumed 300-d (configs/ohsumed_300d.yaml)",
          "layout512": "512-d layout model (Ohsumed)",
          "layout512-tp2": "512-d layout model, tp = 2 in each node",
          "layout512-tp4": "512-d layout model, tp = 4 in each node"}
COMPRESSORS = ["none", "fp16", "onebit", "topk"]


def main() -> None:
    out = sys.argv[1]
    rows = []
    for path in sorted(glob.glob(os.path.join(out, "*gbit.csv"))):
        model, rate = re.match(r"(.+)_(\d+)gbit\.csv", os.path.basename(path)).groups()
        for r in csv.DictReader(open(path)):
            r = {"model": model, "gbit": int(rate), **r}
            rows.append(r)
    if not rows:
        sys.exit("project.py: no <model>_<rate>gbit.csv in " + out)
    with open(os.path.join(out, "projections.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    ranks = sorted({int(r["ranks"]) for r in rows if int(r["ranks"]) >= 64})
    head = "| model | Gbit/s | " + " | ".join(f"{c} @{p}" for c in COMPRESSORS for p in ranks) + " |"
    lines = []
    for m in MODELS:
        wl = os.path.join(out, f"workload_{m}.yaml")  # the tp variants share layout512's
        if os.path.exists(wl):
            text = open(wl).read()
            step = re.search(r"Step: median ([0-9.]+) ms", text).group(1)
            n = sum(int(x) for x in re.search(r"tensor_numels: \[([0-9, ]+)\]", text).group(1).split(","))
            spr = re.search(r"samples_per_rank: (\d+)", text).group(1)
            lines.append(f"- {MODELS[m]}: {n:,} parameters, {spr} graphs per rank, one-process step {step} ms")
    lines += ["", head, "|---|---:|" + "---:|" * (len(COMPRESSORS) * len(ranks))]
    for m in MODELS:
        for g in sorted({r["gbit"] for r in rows}):
            sel = {(r["compression"], int(r["ranks"])): float(r["efficiency"]) for r in rows
                   if r["model"] == m and r["gbit"] == g}
            if not sel:
                continue
            cells = [f"{100 * sel[(c, p)]:.1f} %" if (c, p) in sel else "-" for c in COMPRESSORS for p in ranks]
            lines.append(f"| {m} | {g} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    open(os.path.join(out, "projections.md"), "w").write(text)
    print(text)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no PNG", file=sys.stderr)
        return
    gbits = sorted({r["gbit"] for r in rows})
    models = [m for m in MODELS if any(r["model"] == m for r in rows)]
    fig, axes = plt.subplots(len(models), len(gbits), figsize=(4 * len(gbits), 3.2 * len(models)), squeeze=False)
    for i, m in enumerate(models):
        for j, g in enumerate(gbits):
            ax = axes[i][j]
            for k, c in enumerate(COMPRESSORS):
                pts = sorted((int(r["ranks"]), float(r["efficiency"])) for r in rows
                             if r["model"] == m and r["gbit"] == g and r["compression"] == c)
                ax.plot([p[0] for p in pts], [100 * p[1] for p in pts], "o-", color=f"C{k}", label=c)
            ax.set_xscale("log", base=2)
            ax.set_ylim(0, 105)
            ax.set_title(f"{m}, {g} Gbit/s", fontsize=9)
            ax.set_xlabel("ranks")
            ax.set_ylabel("efficiency %")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "projections.png"), dpi=100)


if __name__ == "__main__":
    main()
