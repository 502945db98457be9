#!/usr/bin/env python3
"""Quality report: quality.csv -> quality.md (mean +- std per row, next to
TextGCN and TextING) and quality.png (bar chart with std error bars)."""
import csv
import statistics
import sys
from collections import OrderedDict
from pathlib import Path

# Published test accuracy (%), ../shared/data/README.md.
PUBLISHED = {
    "r8": {"TextGCN": 97.07, "TextING": 98.04},
    "r52": {"TextGCN": 93.56, "TextING": 95.48},
    "mr": {"TextGCN": 76.74, "TextING": 79.82},
    "ohsumed": {"TextGCN": 68.36, "TextING": 70.42},
}


def load(path):
    rows = OrderedDict()
    with open(path) as f:
        for r in csv.DictReader(f):
            key = r["row"]
            e = rows.setdefault(key, {"group": r["group"], "dataset": r["dataset"], "acc": [], "wall": [], "seeds": []})
            e["acc"].append(100.0 * float(r["test_accuracy"]))
            e["wall"].append(float(r["wall_seconds"]))
            e["seeds"].append(r["seed"])
    return rows


def fmt(values):
    if len(values) == 1:
        return f"{values[0]:.2f} (1 seed)"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def table(rows):
    out = ["| row | group | dataset | seeds | test acc % (mean ± std) | per seed | vs TextGCN | vs TextING | wall s per run (median) |",
           "|---|---|---|---|---|---|---|---|---|"]
    for name, e in rows.items():
        m = statistics.mean(e["acc"])
        pub = PUBLISHED.get(e["dataset"], {})
        gcn = f"{m - pub['TextGCN']:+.2f}" if "TextGCN" in pub else ""
        ing = f"{m - pub['TextING']:+.2f}" if "TextING" in pub else ""
        per_seed = " / ".join(f"{a:.2f}" for a in e["acc"])
        out.append(f"| {name} | {e['group']} | {e['dataset']} | {len(e['acc'])} | {fmt(e['acc'])} | {per_seed} | "
                   f"{gcn} | {ing} | {statistics.median(e['wall']):.0f} |")
    return "\n".join(out)


def chart(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report.py: matplotlib missing, no PNG (scripts/setup-deps.sh --bench)", file=sys.stderr)
        return
    names = list(rows)
    means = [statistics.mean(rows[n]["acc"]) for n in names]
    stds = [statistics.stdev(rows[n]["acc"]) if len(rows[n]["acc"]) > 1 else 0.0 for n in names]
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(names)), 4.5))
    ax.bar(range(len(names)), means, yerr=stds, capsize=3, color="#4c72b0")
    for i, n in enumerate(names):
        pub = PUBLISHED.get(rows[n]["dataset"], {})
        for label, style in (("TextGCN", "r_"), ("TextING", "k_")):
            if label in pub:
                ax.plot([i], [pub[label]], style, markersize=18, label=label if i == 0 else None)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("test accuracy % (mean ± std over seeds)")
    lo = min(min(means) - 3, min(p["TextGCN"] for p in PUBLISHED.values() if True) - 3)
    ax.set_ylim(max(0, lo), 100)
    handles = [plt.Line2D([], [], color="r", marker="_", linestyle="", markersize=12, label="TextGCN"),
               plt.Line2D([], [], color="k", marker="_", linestyle="", markersize=12, label="TextING")]
    ax.legend(handles=handles, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    csv_path, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    rows = load(csv_path)
    if not rows:
        sys.exit(f"report.py: {csv_path} has no rows")
    md = ["# Model quality", "",
          "Test accuracy of the model selected on the validation split (never the test split), "
          "mean ± sample std over seeds; TextGCN and TextING as published (../shared/data/README.md). "
          "Wall time is one whole `autoglm train` run, graph preparation included when the cache was cold.", "",
          table(rows), ""]
    (out_dir / "quality.md").write_text("\n".join(md))
    chart(rows, out_dir / "quality.png")
    print("\n".join(md))


if __name__ == "__main__":
    main()
