#!/usr/bin/env python3
"""Table and chart of benchmarks/early_exit/run.sh's CSV.

  report.py early_exit.csv OUT_DIR   -> OUT_DIR/early_exit.md, OUT_DIR/early_exit.png

Per dataset and threshold: test accuracy mean +- std over the seeds, the
difference from the same early-exit models at threshold 1.0 (every block) and
from the plain models (no exit heads), mean GAT blocks computed and the share of
node-block work (blocks weighted by each graph's nodes). The chart plots
accuracy against mean blocks.
"""
import csv
import statistics
import sys
from collections import defaultdict


def mean_std(xs):
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def main():
    rows = list(csv.DictReader(open(sys.argv[1])))
    out_dir = sys.argv[2]
    plain = defaultdict(list)
    cells = defaultdict(list)
    for r in rows:
        if r["model"] == "plain":
            plain[r["dataset"]].append(100 * float(r["test_accuracy"]))
        else:
            cells[(r["dataset"], float(r["threshold"]))].append(r)
    lines = []
    curves = defaultdict(list)
    for ds in dict.fromkeys(r["dataset"] for r in rows):
        full = [100 * float(r["test_accuracy"]) for r in cells.get((ds, 1.0), [])]
        p_mean, p_std = mean_std(plain[ds]) if plain[ds] else (float("nan"), 0.0)
        f_mean = statistics.mean(full) if full else float("nan")
        lines.append(f"\n### {ds}: plain model {p_mean:.2f} ± {p_std:.2f} % ({len(plain[ds])} seeds)\n")
        lines.append("| threshold | test accuracy % | vs every block | vs plain | mean blocks | "
                     "blocks saved | node-block work | seeds |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for (d, t), rs in sorted(cells.items(), key=lambda kv: -kv[0][1]):
            if d != ds:
                continue
            acc = [100 * float(r["test_accuracy"]) for r in rs]
            blocks = statistics.mean(float(r["mean_blocks"]) for r in rs)
            work = statistics.mean(float(r["node_block_fraction"]) for r in rs)
            layers = round(float(max(float(r["mean_blocks"]) for r in cells[(d, 1.0)]))) if (d, 1.0) in cells else 0
            m, s = mean_std(acc)
            saved = 1 - blocks / layers if layers else float("nan")
            lines.append(f"| {t:.2f} | {m:.2f} ± {s:.2f} | {m - f_mean:+.2f} | {m - p_mean:+.2f} | {blocks:.3f} | "
                         f"{100 * saved:.1f} % | {work:.3f} | {len(rs)} |")
            curves[ds].append((blocks, m, t))
    md = "\n".join(lines).lstrip("\n") + "\n"
    open(f"{out_dir}/early_exit.md", "w").write(md)
    print(md)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report.py: matplotlib missing (apt-get install python3-matplotlib); no chart", file=sys.stderr)
        return
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4), squeeze=False)
    for ax, (ds, pts) in zip(axes[0], curves.items()):
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o")
        for b, a, t in pts:
            ax.annotate(f"{t:g}", (b, a), textcoords="offset points", xytext=(3, 3), fontsize=7)
        if plain[ds]:
            ax.axhline(statistics.mean(plain[ds]), color="grey", linestyle="--", label="plain model")
            ax.legend()
        ax.set_title(f"{ds}: early exit (mean of seeds)")
        ax.set_xlabel("mean GAT blocks computed")
        ax.set_ylabel("test accuracy %")
    fig.tight_layout()
    fig.savefig(f"{out_dir}/early_exit.png", dpi=120)


if __name__ == "__main__":
    main()
