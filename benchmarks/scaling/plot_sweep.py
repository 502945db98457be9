#!/usr/bin/env python3
"""Efficiency and step time against ranks, one line per compressor, from the CSV
`autoglm simulate --csv` writes.

  plot_sweep.py SWEEP.csv OUT.png [TITLE]
"""
from __future__ import annotations

import csv
import sys


def main() -> None:
    path, png = sys.argv[1], sys.argv[2]
    title = sys.argv[3] if len(sys.argv) > 3 else path
    rows = list(csv.DictReader(open(path)))
    if not rows:
        sys.exit(f"plot_sweep.py: {path} has no rows")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for i, c in enumerate(dict.fromkeys(r["compression"] for r in rows)):
        pts = sorted((int(r["ranks"]), float(r["efficiency"]), float(r["step_s"])) for r in rows
                     if r["compression"] == c)
        axes[0].plot([p[0] for p in pts], [100 * p[1] for p in pts], "o-", color=f"C{i}", label=c)
        axes[1].plot([p[0] for p in pts], [1e3 * p[2] for p in pts], "o-", color=f"C{i}", label=c)
    for ax, label in zip(axes, ("scaling efficiency %", "step ms")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("ranks")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylim(0, 105)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=100)


if __name__ == "__main__":
    main()
