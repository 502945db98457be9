#!/usr/bin/env python3
"""Data-parallel PyTorch reference: gat_reference.py's model and training step
wrapped in torch.nn.parallel.DistributedDataParallel over the gloo backend.

The counterpart of Open-AutoGLM's data-parallel trainer (parallel/
gradient_reducer.cc, measured by benchmarks/dp_step.cc): every rank trains its
share of the same global batches, gradients are averaged by DDP's bucketed
all-reduce overlapped with backward (bucket_cap_mb 25 by default, as ours).

Batches: the epoch order is the C++ one (cpp_rng.epoch_order), cut into global
batches of ranks x train.batch_graphs graphs (and ranks x train.batch_nodes
nodes), padded to at least `ranks` graphs, then split into per-rank shares:
  --split balanced (default): parallel/distributed_sampler.cc splitBalanced,
      largest graph first onto the share with the fewest nodes, so each rank
      trains exactly the graphs it trains in Open-AutoGLM;
  --split strided: rank r takes graphs r, r + ranks, ... of the global batch
      (what a DistributedSampler-style split does).
The step is gat_reference.Trainer.step unchanged (collate, forward, mean
cross-entropy over the rank's share, backward with DDP's all-reduce, clipping,
LR, optimizer step); DDP averages the ranks' gradients, so the loss is the mean
of the shares' means rather than the global-batch mean Open-AutoGLM uses (same
work; the two differ only when shares differ in size).

Launch (one JSON line from rank 0 on stdout):
  * by itself: spawns --nprocs processes (torch.multiprocessing), rendezvous on
    127.0.0.1 and a free port;
  * under mpirun (same launcher and core binding as Open-AutoGLM's runs): rank
    and size from OMPI_COMM_WORLD_RANK / OMPI_COMM_WORLD_SIZE (or RANK /
    WORLD_SIZE), rendezvous from MASTER_ADDR / MASTER_PORT (default
    127.0.0.1:29500), e.g.
      mpirun -np 2 -x MASTER_ADDR=127.0.0.1 -x MASTER_PORT=29533 \\
          /usr/bin/python3 benchmarks/reference/ddp_reference.py --config C --cache P

Output: {"impl": "pytorch-ddp-gloo", "graphs_per_s": <global graphs per second>,
"ranks", "threads", "steps", "graphs", "seconds", "step_ms", "split",
"phase_seconds" (rank 0; its "backward" includes waiting for DDP's all-reduce),
...}.

Run it with an interpreter that has torch (Debian: /usr/bin/python3).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
import warnings

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpp_rng  # noqa: E402
import gat_reference as ref  # noqa: E402
from graph_cache import CacheError, open_cache, validate  # noqa: E402

warnings.filterwarnings("ignore", message="scatter_reduce\\(\\) is in beta")


def split_balanced(batch: np.ndarray, world: int, num_nodes: np.ndarray) -> list:
    """parallel/distributed_sampler.cc splitBalanced: graphs by node count,
    largest first (stable), each onto the share with the fewest nodes so far
    (lowest rank on ties); every share keeps the batch's order."""
    if batch.shape[0] < world:
        raise ValueError(f"cannot split {batch.shape[0]} graphs into {world} non-empty shares")
    if world == 1:
        return [batch]
    n = num_nodes[batch]
    pos = sorted(range(batch.shape[0]), key=lambda p: -int(n[p]))  # sorted() is stable
    load = [0] * world
    owner = np.zeros(batch.shape[0], dtype=np.int64)
    for p in pos:
        r = load.index(min(load))
        owner[p] = r
        load[r] += int(n[p])
    return [batch[owner == r] for r in range(world)]


def split_strided(batch: np.ndarray, world: int, num_nodes: np.ndarray) -> list:
    del num_nodes
    return [batch[r::world] for r in range(world)]


def global_batches(tr: ref.Trainer, epoch: int, world: int):
    """distributed_sampler.cc epochBatches: global batches of world x the
    per-rank limits, padded from the start of the epoch to >= world graphs."""
    order = cpp_rng.epoch_order(tr.train_idx, tr.seed, epoch)
    pad = 0
    for b in ref.plan_batches(order, tr.num_nodes, tr.max_graphs * world, tr.max_nodes * world):
        if b.shape[0] < world:
            extra = [order[(pad + i) % order.shape[0]] for i in range(world - b.shape[0])]
            pad += len(extra)
            b = np.concatenate([b, np.asarray(extra, dtype=b.dtype)])
        yield b


def rank_stream(tr: ref.Trainer, rank: int, world: int, split):
    """(this rank's share, global batch size) for every step, epoch after epoch."""
    epoch = 0
    while True:
        for b in global_batches(tr, epoch, world):
            yield split(b, world, tr.num_nodes)[rank], int(b.shape[0])
        epoch += 1


def worker(rank: int, world: int, args, addr: str, port: int) -> dict | None:
    torch.set_num_threads(max(1, args.threads))
    os.environ.setdefault("MASTER_ADDR", addr)
    os.environ.setdefault("MASTER_PORT", str(port))
    dist.init_process_group("gloo", init_method="env://", rank=rank, world_size=world)
    try:
        model_cfg, train_cfg = ref.load_config(args.config)
        torch.manual_seed(int(train_cfg["seed"]))
        cache = open_cache(args.cache, verify_crc=not args.no_crc)
        validate(cache)
        tr = ref.Trainer(cache, model_cfg, train_cfg)
        # The optimizer and clipping hold the same parameter tensors DDP wraps.
        tr.model = DistributedDataParallel(tr.model, bucket_cap_mb=args.bucket_mb,
                                           gradient_as_bucket_view=args.gradient_as_bucket_view)
        split = split_balanced if args.split == "balanced" else split_strided
        stream = rank_stream(tr, rank, world, split)
        for _ in range(args.warmup_steps):
            tr.step(next(stream)[0])
        dist.barrier()
        before = dict(tr.phase_seconds)
        graphs = local_graphs = 0
        t0 = time.perf_counter()
        for _ in range(args.steps):
            share, global_size = next(stream)
            _, g = tr.step(share)
            graphs += global_size
            local_graphs += g.num_graphs
        dist.barrier()
        seconds = time.perf_counter() - t0
        if rank != 0:
            return None
        return {
            "impl": "pytorch-ddp-gloo",
            "graphs_per_s": round(graphs / seconds, 3) if seconds > 0 else None,
            "ranks": world,
            "threads": args.threads,
            "steps": args.steps,
            "graphs": graphs,
            "rank0_graphs": local_graphs,
            "seconds": round(seconds, 4),
            "step_ms": round(1e3 * seconds / max(1, args.steps), 3),
            "warmup_steps": args.warmup_steps,
            "split": args.split,
            "bucket_cap_mb": args.bucket_mb,
            "gradient_as_bucket_view": args.gradient_as_bucket_view,
            "parameters": sum(p.numel() for p in tr.params),
            "phase_seconds": {k: round(tr.phase_seconds[k] - before[k], 4) for k in before},
            "torch": torch.__version__,
        }
    finally:
        dist.destroy_process_group()


def _spawned(rank: int, world: int, args, addr: str, port: int) -> None:
    res = worker(rank, world, args, addr, port)
    if res is not None:
        print(json.dumps(res), flush=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, help="experiment YAML (model:, train: sections)")
    ap.add_argument("--cache", required=True, help="binary graph cache written by 'autoglm prepare'")
    ap.add_argument("--nprocs", type=int, default=2, help="processes to spawn when not under mpirun")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads per rank")
    ap.add_argument("--warmup-steps", type=int, default=5)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--split", choices=("balanced", "strided"), default="balanced")
    ap.add_argument("--bucket-mb", type=float, default=25.0, help="DDP bucket_cap_mb")
    ap.add_argument("--gradient-as-bucket-view", action="store_true")
    ap.add_argument("--no-crc", action="store_true", help="skip the payload CRC check")
    args = ap.parse_args(argv)
    if args.steps < 1 or args.warmup_steps < 0 or args.threads < 1 or args.nprocs < 1:
        ap.error("--steps and --threads must be >= 1, --warmup-steps >= 0")
    try:  # fail before starting processes on a bad cache path
        validate(open_cache(args.cache, verify_crc=False))
    except CacheError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    env = os.environ
    rank_s = env.get("OMPI_COMM_WORLD_RANK", env.get("RANK"))
    size_s = env.get("OMPI_COMM_WORLD_SIZE", env.get("WORLD_SIZE"))
    if rank_s is not None and size_s is not None:  # under mpirun / torchrun
        res = worker(int(rank_s), int(size_s), args, env.get("MASTER_ADDR", "127.0.0.1"),
                     int(env.get("MASTER_PORT", "29500")))
        if res is not None:
            print(json.dumps(res), flush=True)
        return 0
    torch.multiprocessing.spawn(_spawned, args=(args.nprocs, args, "127.0.0.1", _free_port()),
                                nprocs=args.nprocs, join=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
