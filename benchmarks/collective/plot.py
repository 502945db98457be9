#!/usr/bin/env python3
"""Bus bandwidth vs message size from collective_bench CSVs: plot.py OUT.png A.csv [B.csv ...]"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    out, paths = sys.argv[1], sys.argv[2:]
    fig, ax = plt.subplots(figsize=(8, 5))
    for path in paths:
        with open(path) as f:
            rows = list(csv.DictReader(f))
        if not rows:
            continue
        ranks = rows[0]["ranks"]
        x = [int(r["bytes"]) for r in rows]
        ax.plot(x, [float(r["mpi_busbw_gbs"]) for r in rows], "--o", label=f"MPI_Allreduce, {ranks} ranks")
        ax.plot(x, [float(r["ours_busbw_gbs"]) for r in rows], "-s", label=f"ours, {ranks} ranks")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("bus bandwidth (GB/s) = 2(n-1)/n x bytes / time")
    ax.set_title("all-reduce float32 on one host: ours vs MPI_Allreduce (Open MPI 4.1)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    main()
