#!/usr/bin/env python3
"""Tables, CSV and PNG from layout_step_bench JSON lines (benchmarks/layouts/layout_step.cc).

  report.py table  RESULTS.jsonl   per layout: median graphs/s over rounds (min-max),
                                   parameter+gradient+Adam MiB per rank (max and mean)
                                   and its cut against dp only, peak RSS, bytes per rank
                                   per step by group.
  report.py bubble RESULTS.jsonl   per schedule: median idle fraction per stage and
                                   mean, beside (p-1)/(m+p-1).
Writes RESULTS.{csv,md,png} next to the input.
"""
from __future__ import annotations

import csv
import json
import os
import statistics
import sys

MIB = 1024.0 * 1024.0


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.startswith("{")]


def spread(v):
    return f"{statistics.median(v):.1f} ({min(v):.1f}-{max(v):.1f})"


def save(base, header, rows, md_rows):
    with open(base + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    with open(base + ".md", "w") as f:
        f.write("| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n")
        for r in md_rows:
            f.write("| " + " | ".join(str(x) for x in r) + " |\n")
    print(open(base + ".md").read())


def pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        print("report.py: matplotlib missing (scripts/setup-deps.sh --bench); no PNG", file=sys.stderr)
        return None


def table(path):
    rows = load(path)
    by = {}
    for r in rows:
        by.setdefault((r["dp"], r["tp"], r["pp"]), []).append(r)
    ranks = rows[0]["ranks"]
    base_key = (ranks, 1, 1)
    base_state = by[base_key][0]["state_bytes_max"] if base_key in by else None
    header = ["layout (dp,tp,pp)", "graphs/s median (min-max)", "param+grad+Adam MiB/rank max", "mean",
              "cut vs dp only (max)", "peak RSS MiB/rank max", "dp MB/step/rank", "tp MB/step/rank",
              "pp MB/step/rank"]
    out, md = [], []
    for key, rs in by.items():
        gps = [r["graphs_per_s"] for r in rs]
        r0 = rs[0]
        cut = base_state / r0["state_bytes_max"] if base_state else float("nan")
        vals = [f"({key[0]},{key[1]},{key[2]})", statistics.median(gps), r0["state_bytes_max"] / MIB,
                r0["state_bytes_mean"] / MIB, cut, max(r["peak_rss_max"] for r in rs) / MIB,
                statistics.median(r["dp_bytes_per_step"] for r in rs) / 1e6,
                statistics.median(r["tp_bytes_per_step"] for r in rs) / 1e6,
                statistics.median(r["pp_bytes_per_step"] for r in rs) / 1e6]
        out.append(vals)
        md.append([vals[0], spread(gps)] + [f"{v:.2f}" if isinstance(v, float) else v for v in vals[2:]])
    base = os.path.splitext(path)[0]
    save(base, header, out, md)
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    names = [r[0] for r in out]
    ax[0].bar(names, [r[1] for r in out])
    ax[0].set_ylabel("graphs/s")
    ax[0].set_title(f"throughput at {ranks} ranks")
    ax[1].bar(names, [r[2] for r in out])
    ax[1].set_ylabel("MiB per rank (max)")
    ax[1].set_title("parameters + gradients + Adam moments")
    for a in ax:
        a.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    fig.savefig(base + ".png", dpi=120)
    print(f"wrote {base}.csv, {base}.md, {base}.png")


def bubble(path):
    rows = load(path)
    by = {}
    for r in rows:
        by.setdefault(r["schedule"], []).append(r)
    p = rows[0]["pp"]
    header = ["schedule", "p", "m", "idle fraction per stage (median over rounds)", "mean idle (min-max)",
              "(p-1)/(m+p-1)", "graphs/s median"]
    out, md = [], []
    for s, rs in by.items():
        stages = [statistics.median(r["idle_by_stage"][i] for r in rs) for i in range(p)]
        means = [r["idle_mean"] for r in rs]
        vals = [s, p, rs[0]["micro_batches"], " ".join(f"{x:.3f}" for x in stages), statistics.median(means),
                rs[0]["bubble_bound"], statistics.median(r["graphs_per_s"] for r in rs)]
        out.append(vals)
        md.append([s, p, vals[2], vals[3], f"{vals[4]:.3f} ({min(means):.3f}-{max(means):.3f})",
                   f"{vals[5]:.3f}", f"{vals[6]:.1f}"])
    base = os.path.splitext(path)[0]
    save(base, header, out, md)
    plt = pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar([r[0] for r in out], [r[4] for r in out], label="measured (mean over stages)")
    ax.axhline(out[0][5], color="k", linestyle="--", label="(p-1)/(m+p-1)")
    ax.set_ylabel("idle fraction")
    ax.legend()
    fig.tight_layout()
    fig.savefig(base + ".png", dpi=120)
    print(f"wrote {base}.csv, {base}.md, {base}.png")


if __name__ == "__main__":
    {"table": table, "bubble": bubble}[sys.argv[1]](sys.argv[2])
