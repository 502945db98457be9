#!/usr/bin/env python3
"""Measured step times over emulated hosts beside the performance model's.

  compare.py OUT_DIR AUTOGLM

Reads OUT_DIR/steps.jsonl (benchmarks/scaling/emulated.sh), and for every
measured (rate, ranks, scaling, compressor) asks `AUTOGLM simulate` for the
prediction from OUT_DIR/workload_b<batch per rank>.yaml (measured on one
process) and OUT_DIR/cluster_<rate>.yaml (the link fitted to the all-reduce
timings). Writes OUT_DIR/model_vs_emulated.{csv,md,png} and prints the table.
Efficiency: weak scaling step(1) / step(p) at the same batch per rank; strong
scaling step(1, whole batch) / (p x step(p)).
"""
from __future__ import annotations

import csv
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile


def predict(autoglm: str, workload: str, cluster: str, ranks: int, compressor: str, sets: tuple = ()) -> dict:
    # As measured: half the ranks on each of the two hosts.
    args = [autoglm, "simulate", workload, "--cluster", cluster, "--ranks", str(ranks),
            "--set", f"cluster.ranks_per_node={ranks // 2}", "--compressors", compressor]
    for s in sets:
        args += ["--set", s]
    with tempfile.NamedTemporaryFile(suffix=".csv") as f:
        subprocess.run(args + ["--csv", f.name], check=True, stdout=subprocess.DEVNULL)
        rows = list(csv.DictReader(open(f.name)))
    out = {k: float(rows[0][k]) * 1e3 for k in ("step_s", "compute_s", "exposed_s", "communication_s")}
    out["wire_bytes"] = float(rows[0]["wire_bytes"])
    out["bubble"] = float(rows[0]["bubble"])
    return out


def layouts(out: str, autoglm: str) -> str:
    """Measured tp = 2 and pp = 2 steps beside the model's replays."""
    path = os.path.join(out, "layouts.jsonl")
    if not os.path.exists(path):
        return ""
    rows = [json.loads(l) for l in open(path) if l.strip()]
    table = []
    for r in rows:
        w = os.path.join(out, f"workload_b{r['batch_per_rank']}.yaml")
        text = open(w).read()
        shape = dict(re.findall(r"(\w+): ([0-9.]+)", re.search(r"tp_shape: \{(.*)\}", text).group(1)))
        sets = []
        if r["tp"] > 1:
            sets = [f"workload.tp={r['tp']}"]
        if r["pp"] > 1:
            m = r["micro_batches"]
            act = float(shape["nodes_per_step"]) / m * float(shape["block_width"]) * 4 / 1e6
            sets = [f"workload.pipeline_stages={r['pp']}", f"workload.micro_batches={m}",
                    f"workload.schedule={r['schedule']}", f"workload.activation_mb={act:.4f}"]
        c = os.path.join(out, f"cluster_{r['rate']}.yaml")
        model = predict(autoglm, w, c, r["ranks"], "none", tuple(sets))
        measured_bytes = r["tp_bytes_per_step"] if r["tp"] > 1 else r["pp_bytes_per_step"]
        table.append({"rate": r["rate"], "layout": r["layout"], "measured_ms": round(r["step_ms"], 2),
                      "predicted_ms": round(model["step_s"], 2),
                      "error_pct": round(100 * (model["step_s"] - r["step_ms"]) / r["step_ms"], 1),
                      "measured_bytes": measured_bytes, "predicted_tp_bytes": model["wire_bytes"] if r["tp"] > 1 else "",
                      "measured_idle": r.get("idle_mean", ""), "predicted_bubble": model["bubble"] if r["pp"] > 1 else ""})
    with open(os.path.join(out, "layouts_vs_model.csv"), "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=list(table[0].keys()))
        wr.writeheader()
        wr.writerows(table)
    lines = ["| link | layout (dp,tp,pp) | measured ms | predicted ms | error | tp/pp MB per rank measured | "
             "tp MB predicted | stage idle measured | bubble predicted |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for t in table:
        pb = f"{t['predicted_tp_bytes'] / 1e6:.2f}" if t["predicted_tp_bytes"] != "" else "-"
        mi = f"{t['measured_idle']:.3f}" if t["measured_idle"] != "" else "-"
        bb = f"{t['predicted_bubble']:.3f}" if t["predicted_bubble"] != "" else "-"
        lines.append(f"| {t['rate']} | ({t['layout']}) | {t['measured_ms']:.1f} | {t['predicted_ms']:.1f} | "
                     f"{t['error_pct']:+.1f} % | {t['measured_bytes'] / 1e6:.2f} | {pb} | {mi} | {bb} |")
    errs = [abs(t["error_pct"]) for t in table]
    lines.append("")
    lines.append(f"layouts: {len(errs)} points, |error| median {statistics.median(errs):.1f} %, worst {max(errs):.1f} %")
    return "\n".join(lines) + "\n"


def one_process_ms(workload: str) -> float:
    text = open(workload).read()
    m = re.search(r"Step: median ([0-9.]+) ms", text)
    return float(m.group(1))


def main() -> None:
    out, autoglm = sys.argv[1], sys.argv[2]
    raw = [json.loads(l) for l in open(os.path.join(out, "steps.jsonl")) if l.strip()]
    if not raw:
        sys.exit("compare.py: no measured steps in steps.jsonl")
    # One row per configuration: the median over passes, with their step times.
    groups: dict = {}
    for r in raw:
        groups.setdefault((r["rate"], r["ranks"], r["scaling"], r["compressor"]), []).append(r)
    rows = []
    for g in groups.values():
        r = dict(g[0])
        for k in ("step_ms", "busy_ms", "exposed_ms"):
            r[k] = statistics.median(x[k] for x in g)
        r["passes"] = [round(x["step_ms"], 1) for x in g]
        rows.append(r)
    settings = open(os.path.join(out, "settings.txt")).read()
    total = int(re.search(r"strong_total=(\d+)", settings).group(1))
    table = []
    for r in rows:
        b = r["batch_per_rank"]
        w = os.path.join(out, f"workload_b{b}.yaml")
        c = os.path.join(out, f"cluster_{r['rate']}.yaml")
        model = predict(autoglm, w, c, r["ranks"], r["compressor"])
        pred = model["step_s"]
        meas = r["step_ms"]
        if r["scaling"] == "weak":
            base = one_process_ms(w)
            eff_m, eff_p = base / meas, base / pred
        else:
            base = one_process_ms(os.path.join(out, f"workload_b{total}.yaml"))
            eff_m, eff_p = base / (r["ranks"] * meas), base / (r["ranks"] * pred)
        table.append({
            "rate": r["rate"], "scaling": r["scaling"], "ranks": r["ranks"], "batch_per_rank": b,
            "oversubscribed": r["ranks"] > r["cores"], "compressor": r["compressor"],
            "measured_ms": round(meas, 2), "predicted_ms": round(pred, 2),
            "error_pct": round(100 * (pred - meas) / meas, 1),
            "measured_efficiency": round(eff_m, 3), "predicted_efficiency": round(eff_p, 3),
            # The step's two parts: compute (step - exposed communication) and the
            # reducer thread's busy time, measured and predicted.
            "compute_ms": round(meas - r["exposed_ms"], 1), "predicted_compute_ms": round(model["compute_s"], 1),
            "busy_ms": round(r["busy_ms"], 1), "predicted_busy_ms": round(model["communication_s"], 1),
            "exposed_ms": round(r["exposed_ms"], 1), "predicted_exposed_ms": round(model["exposed_s"], 1),
            "bytes_per_step": r.get("bytes_per_step", ""),
            "step_ms_per_pass": " ".join(str(x) for x in r["passes"]),
        })
    cols = list(table[0].keys())
    with open(os.path.join(out, "model_vs_emulated.csv"), "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=cols)
        wr.writeheader()
        wr.writerows(table)
    lines = ["| link | scaling | ranks | graphs/rank | compressor | measured ms | predicted ms | error | "
             "compute ms meas. / pred. | comm busy ms meas. / pred. | efficiency measured | predicted |",
             "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for t in table:
        over = f"{t['ranks']} (oversubscribed)" if t["oversubscribed"] else str(t["ranks"])
        if " " in t["step_ms_per_pass"]:
            over += f" [passes: {t['step_ms_per_pass']}]"
        lines.append(f"| {t['rate']} | {t['scaling']} | {over} | {t['batch_per_rank']} | {t['compressor']} | "
                     f"{t['measured_ms']:.1f} | {t['predicted_ms']:.1f} | {t['error_pct']:+.1f} % | "
                     f"{t['compute_ms']:.1f} / {t['predicted_compute_ms']:.1f} | "
                     f"{t['busy_ms']:.1f} / {t['predicted_busy_ms']:.1f} | "
                     f"{100 * t['measured_efficiency']:.1f} % | {100 * t['predicted_efficiency']:.1f} % |")
    summary = []
    for label, sel in (("all points", table), ("one rank per core", [t for t in table if not t["oversubscribed"]]),
                       ("oversubscribed", [t for t in table if t["oversubscribed"]])):
        errs = [abs(t["error_pct"]) for t in sel]
        if errs:
            ce = [abs(t["predicted_compute_ms"] - t["compute_ms"]) / t["compute_ms"] * 100 for t in sel]
            be = [abs(t["predicted_busy_ms"] - t["busy_ms"]) / t["busy_ms"] * 100 for t in sel if t["busy_ms"] > 0]
            summary.append(f"{label}: {len(errs)} points, |error| median {statistics.median(errs):.1f} %, "
                           f"worst {max(errs):.1f} %; compute part median {statistics.median(ce):.1f} %, "
                           f"communication busy median {statistics.median(be):.1f} %")
    text = "\n".join(lines) + "\n\n" + "\n".join(summary) + "\n"
    extra = layouts(out, autoglm)
    if extra:
        open(os.path.join(out, "layouts_vs_model.md"), "w").write(extra)
        text += "\n" + extra
    open(os.path.join(out, "model_vs_emulated.md"), "w").write(text)
    print(text)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no PNG", file=sys.stderr)
        return
    rates = sorted({t["rate"] for t in table}, key=lambda r: float(re.match(r"[0-9.]+", r).group(0)))
    fig, axes = plt.subplots(2, len(rates), figsize=(4.5 * len(rates), 7.5), squeeze=False)
    for col, rate in enumerate(rates):
        for row, scaling in enumerate(("weak", "strong")):
            ax = axes[row][col]
            for i, comp in enumerate(sorted({t["compressor"] for t in table})):
                pts = sorted((t["ranks"], t["measured_ms"], t["predicted_ms"]) for t in table
                             if t["rate"] == rate and t["scaling"] == scaling and t["compressor"] == comp)
                if not pts:
                    continue
                x = [p[0] for p in pts]
                ax.plot(x, [p[1] for p in pts], "o", color=f"C{i}", label=f"{comp} measured")
                ax.plot(x, [p[2] for p in pts], "-", color=f"C{i}", label=f"{comp} model")
            ax.set_title(f"{rate}, {scaling} scaling")
            ax.set_xlabel("ranks (2 hosts; > cores oversubscribed)")
            ax.set_ylabel("step ms")
            ax.set_xscale("log", base=2)
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "model_vs_emulated.png"), dpi=110)


if __name__ == "__main__":
    main()
