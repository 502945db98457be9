#!/usr/bin/env python3
"""PyTorch reference of the Open-AutoGLM text-graph GAT classifier.

Same model (core/graph_classifier.cc, gat_layer.cc, gat_attention.cc,
readout.cc), same graphs (it reads the C++ side's binary graph cache) and same
batching (core/graph_batch.cc planBatches + collate) as the C++ framework,
written the way PyTorch Geometric's GATConv is: gather per edge with
index_select, segment softmax with scatter_reduce("amax") + index_add, messages
summed with index_add. No Python loop over nodes, edges or graphs in the hot
path; collation is vectorised numpy.

Modes
  throughput (default): --warmup-steps untimed steps, then --steps timed
      training steps (collation, forward, backward, clipping, optimizer step);
      prints one JSON line:
      {"impl": "pytorch-reference", "graphs_per_s": ..., "steps": ...,
       "graphs": ..., "seconds": ..., "threads": ..., ...}
  accuracy (--epochs-accuracy K): K epochs over the train split (less the
      data.val_fraction held out, as in C++), the LR schedule spread over
      those K epochs; validation and test accuracy after each epoch on
      stderr, one JSON line on stdout.

Graphs, validation split, epoch order (std::mt19937_64 shuffles, cpp_rng.py)
and hence the batches of every step are the same as Open-AutoGLM's; only the
random numbers of initialisation and dropout differ.

Run it with an interpreter that has torch (Debian: /usr/bin/python3).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as Fn
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpp_rng  # noqa: E402
from graph_cache import CacheError, GraphCache, open_cache, validate  # noqa: E402

# torch 1.13 flags scatter_reduce as beta on every first call; it is the op used here on purpose.
warnings.filterwarnings("ignore", message="scatter_reduce\\(\\) is in beta")

# ---------------------------------------------------------------------------
# Config: the same YAML file as the C++ side; defaults are the C++ defaults.

MODEL_DEFAULTS = {  # core/graph_classifier.h ModelConfig
    "embed_dim": 128,
    "layers": 2,
    "heads": 4,
    "head_dim": 32,
    "dropout": 0.5,
    "attn_dropout": 0.1,
    "negative_slope": 0.2,
    "residual": True,
    "readout": "mean_max",
    "head_hidden": 128,
    "attention": "fused",  # C++ kernel choice; no effect here
}
TRAIN_DEFAULTS = {  # trainer/config/experiment_config.h TrainConfig (the keys used here)
    "epochs": 20,
    "batch_graphs": 32,
    "batch_nodes": 0,         # node budget per batch; 0 = none
    "optimizer": "adamw",     # adam | adamw
    "lr": 2e-3,
    "weight_decay": 1e-4,
    "warmup_steps": 100,
    "schedule": "cosine",     # cosine | constant
    "min_lr_ratio": 0.0,
    "grad_clip": 1.0,         # 0 = off
    "eval_batch_graphs": 256,
}
RUN_DEFAULTS = {"seed": 42}               # RunConfig
DATA_DEFAULTS = {"val_fraction": 0.1}     # DataConfig


def load_config(path: str) -> tuple[dict, dict]:
    """Returns (model, train); train also carries run.seed and data.val_fraction."""
    import yaml

    with open(path, "r", encoding="utf-8") as f:
        root = yaml.safe_load(f) or {}
    model_y = root.get("model") or {}
    train_y = root.get("train") or {}
    model = dict(MODEL_DEFAULTS)
    unknown = sorted(k for k in model_y if k not in model)
    if unknown:
        print(f"[reference] {path}: ignoring model keys {unknown}", file=sys.stderr)
    model.update({k: v for k, v in model_y.items() if k in model})
    train = dict(TRAIN_DEFAULTS)
    train.update({k: v for k, v in train_y.items() if k in train})
    train["seed"] = int((root.get("run") or {}).get("seed", RUN_DEFAULTS["seed"]))
    train["val_fraction"] = float((root.get("data") or {}).get("val_fraction", DATA_DEFAULTS["val_fraction"]))
    if train["optimizer"] not in ("adam", "adamw"):
        raise ValueError(f"{path}: train.optimizer must be adam or adamw, got '{train['optimizer']}'")
    if train["schedule"] not in ("cosine", "constant"):
        raise ValueError(f"{path}: train.schedule must be cosine or constant, got '{train['schedule']}'")
    return model, train


# ---------------------------------------------------------------------------
# Batching: planBatches + collate.


def plan_batches(order: np.ndarray, num_nodes: np.ndarray, max_graphs: int, max_nodes: int) -> list:
    """core/graph_batch.cc planBatches: a batch closes when adding the next
    graph would exceed max_graphs graphs or max_nodes nodes (0 = no budget); a
    graph larger than the budget forms a batch of its own. Runs once per epoch
    (not per step); vectorised when there is no node budget."""
    if max_graphs < 1:
        raise ValueError(f"max_graphs must be >= 1, got {max_graphs}")
    if max_nodes <= 0:
        return [order[i:i + max_graphs] for i in range(0, len(order), max_graphs)]
    batches, start, cur_n = [], 0, 0
    n_of = num_nodes[order].tolist()
    for i, n in enumerate(n_of):
        full = (i - start) >= max_graphs or cur_n + n > max_nodes
        if full and i > start:
            batches.append(order[start:i])
            start, cur_n = i, 0
        cur_n += n
    if start < len(order):
        batches.append(order[start:])
    return batches


class Batch:
    __slots__ = ("tokens", "src", "dst", "weight", "node_graph", "graph_ptr", "labels",
                 "num_graphs", "num_nodes", "num_edges")


class Collator:
    """core/graph_batch.cc collate: concatenates the graphs' nodes and edges,
    offsets edge endpoints by the nodes of the graphs before (block-diagonal
    adjacency; the batch stays sorted by dst), and builds node -> graph and
    graph -> first node. The CSR views the C++ fused kernel needs (in_ptr,
    out_ptr/out_perm) are not built: the scatter formulation does not use
    them."""

    def __init__(self, c: GraphCache):
        self.c = c
        # int64 copies of the edge endpoints, so a batch is one gather + add.
        self.src64 = c.src.astype(np.int64)
        self.dst64 = c.dst.astype(np.int64)
        self.nn = np.diff(c.node_offsets)
        self.ne = np.diff(c.edge_offsets)

    def __call__(self, idx: np.ndarray) -> Batch:
        c = self.c
        B = idx.shape[0]
        n = self.nn[idx]
        e = self.ne[idx]
        gptr = np.zeros(B + 1, dtype=np.int64)
        np.cumsum(n, out=gptr[1:])
        eptr = np.zeros(B + 1, dtype=np.int64)
        np.cumsum(e, out=eptr[1:])
        N, E = int(gptr[-1]), int(eptr[-1])
        # position in the cache of every batch node / edge
        node_src = np.repeat(c.node_offsets[idx] - gptr[:-1], n) + np.arange(N, dtype=np.int64)
        edge_src = np.repeat(c.edge_offsets[idx] - eptr[:-1], e) + np.arange(E, dtype=np.int64)
        node_shift = np.repeat(gptr[:-1], e)
        b = Batch()
        b.tokens = torch.from_numpy(c.tokens[node_src])
        b.src = torch.from_numpy(self.src64[edge_src] + node_shift)
        b.dst = torch.from_numpy(self.dst64[edge_src] + node_shift)
        b.weight = torch.from_numpy(c.weight[edge_src])  # collated as in C++; GAT does not use it
        b.node_graph = torch.from_numpy(np.repeat(np.arange(B, dtype=np.int64), n))
        b.graph_ptr = torch.from_numpy(gptr)
        b.labels = torch.from_numpy(c.labels[idx])
        b.num_graphs, b.num_nodes, b.num_edges = B, N, E
        return b


# ---------------------------------------------------------------------------
# Model.


class GATLayer(nn.Module):
    """core/gat_layer.cc + gat_attention.cc (referenceAttention)."""

    def __init__(self, in_dim, heads, head_dim, negative_slope, attn_dropout, dropout, residual):
        super().__init__()
        out = heads * head_dim
        self.H, self.F = heads, head_dim
        self.negative_slope = negative_slope
        self.attn_dropout = attn_dropout
        self.dropout = dropout
        self.residual = residual
        self.proj = nn.Linear(in_dim, out, bias=False)
        self.att_src = nn.Parameter(torch.empty(heads, head_dim))
        self.att_dst = nn.Parameter(torch.empty(heads, head_dim))
        self.bias = nn.Parameter(torch.zeros(out))
        nn.init.xavier_uniform_(self.proj.weight)
        nn.init.xavier_uniform_(self.att_src)
        nn.init.xavier_uniform_(self.att_dst)
        self.res_proj = nn.Linear(in_dim, out, bias=False) if residual and in_dim != out else None

    def forward(self, h: torch.Tensor, g: Batch) -> torch.Tensor:
        N, H, F = h.shape[0], self.H, self.F
        x = self.proj(h).view(N, H, F)
        s_src = (x * self.att_src.unsqueeze(0)).sum(-1)  # [N,H]
        s_dst = (x * self.att_dst.unsqueeze(0)).sum(-1)
        src, dst = g.src, g.dst
        z = Fn.leaky_relu(s_src.index_select(0, src) + s_dst.index_select(0, dst), self.negative_slope)
        # segment softmax over each node's incoming edges
        idx = dst.unsqueeze(1).expand(g.num_edges, H)
        zmax = z.new_zeros(N, H).scatter_reduce(0, idx, z.detach(), "amax", include_self=False)
        ez = torch.exp(z - zmax.index_select(0, dst))
        denom = z.new_zeros(N, H).index_add_(0, dst, ez)
        alpha = ez / denom.index_select(0, dst)
        if self.training and self.attn_dropout > 0.0:
            alpha = Fn.dropout(alpha, self.attn_dropout, True)
        msg = x.index_select(0, src) * alpha.unsqueeze(-1)  # [E,H,F]
        out = x.new_zeros(N, H, F).index_add_(0, dst, msg).view(N, H * F) + self.bias
        if self.residual:
            out = out + (self.res_proj(h) if self.res_proj is not None else h)
        out = Fn.elu(out)
        if self.dropout > 0.0:
            out = Fn.dropout(out, self.dropout, self.training)
        return out


class Readout(nn.Module):
    """core/readout.cc."""

    def __init__(self, kind: str, dim: int):
        super().__init__()
        if kind not in ("mean_max", "mean", "max", "attention"):
            raise ValueError(f"model.readout: unknown readout '{kind}'")
        self.kind, self.dim = kind, dim
        self.gate = nn.Linear(dim, 1) if kind == "attention" else None

    def out_dim(self) -> int:
        return 2 * self.dim if self.kind == "mean_max" else self.dim

    @staticmethod
    def _mean(h, g):
        s = h.new_zeros(g.num_graphs, h.shape[1]).index_add_(0, g.node_graph, h)
        counts = (g.graph_ptr[1:] - g.graph_ptr[:-1]).clamp_min(1).to(h.dtype)
        return s / counts.unsqueeze(1)

    @staticmethod
    def _max(h, g):
        idx = g.node_graph.unsqueeze(1).expand_as(h)
        return h.new_zeros(g.num_graphs, h.shape[1]).scatter_reduce(0, idx, h, "amax", include_self=False)

    def forward(self, h, g):
        if self.kind == "mean":
            return self._mean(h, g)
        if self.kind == "max":
            return self._max(h, g)
        if self.kind == "mean_max":
            return torch.cat([self._mean(h, g), self._max(h, g)], 1)
        logit = self.gate(h).squeeze(1)
        lmax = logit.new_zeros(g.num_graphs).scatter_reduce(0, g.node_graph, logit.detach(), "amax",
                                                            include_self=False)
        e = torch.exp(logit - lmax.index_select(0, g.node_graph))
        denom = logit.new_zeros(g.num_graphs).index_add_(0, g.node_graph, e)
        w = e / denom.index_select(0, g.node_graph)
        return h.new_zeros(g.num_graphs, h.shape[1]).index_add_(0, g.node_graph, h * w.unsqueeze(1))


class GraphClassifier(nn.Module):
    """core/graph_classifier.cc."""

    def __init__(self, cfg: dict, vocab_size: int, num_classes: int):
        super().__init__()
        self.dropout = float(cfg["dropout"])
        self.embed = nn.Embedding(vocab_size, int(cfg["embed_dim"]))
        nn.init.normal_(self.embed.weight, 0.0, 0.1)
        dim = int(cfg["embed_dim"])
        blocks = []
        for _ in range(int(cfg["layers"])):
            blocks.append(GATLayer(dim, int(cfg["heads"]), int(cfg["head_dim"]), float(cfg["negative_slope"]),
                                   float(cfg["attn_dropout"]), self.dropout, bool(cfg["residual"])))
            dim = int(cfg["heads"]) * int(cfg["head_dim"])
        self.blocks = nn.ModuleList(blocks)
        self.readout = Readout(str(cfg["readout"]), dim)
        rd = self.readout.out_dim()
        hh = int(cfg["head_hidden"])
        self.hidden = None
        if hh > 0:
            self.hidden = nn.Linear(rd, hh)
            rd = hh
        self.out = nn.Linear(rd, num_classes)

    def forward(self, g: Batch) -> torch.Tensor:
        h = self.embed(g.tokens)
        h = Fn.dropout(h, self.dropout, self.training)
        for blk in self.blocks:
            h = blk(h, g)
        z = self.readout(h, g)
        if self.hidden is not None:
            z = Fn.dropout(torch.relu(self.hidden(z)), self.dropout, self.training)
        return self.out(z)


# ---------------------------------------------------------------------------
# Training.


class Trainer:
    """trainer/trainer.cc: same validation split, epoch orders, optimizer,
    LR schedule, clipping and step order as the C++ Trainer."""

    def __init__(self, cache: GraphCache, model_cfg: dict, train_cfg: dict, epochs: int | None = None):
        self.cache = cache
        self.collate = Collator(cache)
        self.seed = int(train_cfg["seed"])
        self.num_nodes = np.diff(cache.node_offsets)
        self.train_idx, self.val_idx = cpp_rng.split_validation(
            cache.indices_of(0), float(train_cfg["val_fraction"]), self.seed)
        if self.train_idx.shape[0] == 0:
            raise ValueError(f"{cache.path}: no training graphs left after the validation split")
        self.test_idx = cache.indices_of(1)
        self.max_graphs = int(train_cfg["batch_graphs"])
        self.max_nodes = int(train_cfg["batch_nodes"] or 0)
        self.eval_graphs = int(train_cfg["eval_batch_graphs"])

        torch.manual_seed(self.seed)
        self.model = GraphClassifier(model_cfg, cache.vocab_size, cache.num_classes)
        self.lr = float(train_cfg["lr"])
        opt_cls = torch.optim.Adam if train_cfg["optimizer"] == "adam" else torch.optim.AdamW
        self.opt = opt_cls(self.model.parameters(), lr=self.lr, weight_decay=float(train_cfg["weight_decay"]))
        self.params = list(self.model.parameters())
        self.grad_clip = float(train_cfg["grad_clip"] or 0.0)

        # trainer/optim/lr_schedule.cc: linear warm-up from 0 to lr over warmup_steps,
        # then constant or cosine decay to min_lr_ratio * lr at total_steps.
        self.warmup = int(train_cfg["warmup_steps"] or 0)
        self.schedule = str(train_cfg["schedule"])
        self.min_lr_ratio = float(train_cfg["min_lr_ratio"])
        n_epochs = int(epochs if epochs is not None else train_cfg["epochs"])
        self._plans = {}
        self.total_steps = n_epochs * len(self.epoch_batches(0))
        self.global_step = 0
        self.phase_seconds = {"collate": 0.0, "forward": 0.0, "backward": 0.0, "optimizer": 0.0}

    def lr_at(self, step: int) -> float:
        if self.warmup > 0 and step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        if self.schedule == "constant":
            return self.lr
        t = min(1.0, max(0.0, (step - self.warmup) / max(1, self.total_steps - self.warmup)))
        floor = self.lr * self.min_lr_ratio
        return floor + (self.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * t))

    def epoch_batches(self, epoch: int) -> list:
        if epoch not in self._plans:  # planned once per epoch, as the C++ side does
            self._plans = {epoch: plan_batches(cpp_rng.epoch_order(self.train_idx, self.seed, epoch),
                                               self.num_nodes, self.max_graphs, self.max_nodes)}
        return self._plans[epoch]

    def step(self, idx: np.ndarray) -> tuple[float, Batch]:
        """Trainer::trainBatch: collate, forward, backward, clip + LR + optimizer
        step, timed per phase at the same points as the C++ side."""
        clock = time.perf_counter
        t0 = clock()
        g = self.collate(idx)
        t1 = clock()
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        logits = self.model(g)
        loss = Fn.cross_entropy(logits, g.labels)
        t2 = clock()
        loss.backward()
        t3 = clock()
        if self.grad_clip > 0.0:
            torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip)
        lr = self.lr_at(self.global_step)
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.step()
        self.global_step += 1
        value = loss.item()
        t4 = clock()
        pt = self.phase_seconds
        pt["collate"] += t1 - t0
        pt["forward"] += t2 - t1
        pt["backward"] += t3 - t2
        pt["optimizer"] += t4 - t3
        if not math.isfinite(value):
            raise FloatingPointError(f"training diverged: loss is {value} at step {self.global_step}")
        return value, g

    def batch_stream(self):
        epoch = 0
        while True:
            for b in self.epoch_batches(epoch):
                yield b
            epoch += 1

    @torch.no_grad()
    def evaluate(self, idx: np.ndarray) -> float:
        self.model.eval()
        correct = 0
        for b in plan_batches(idx, self.num_nodes, self.eval_graphs, 0):
            g = self.collate(b)
            correct += int((self.model(g).argmax(1) == g.labels).sum())
        self.model.train()
        return correct / max(1, idx.shape[0])


def run_throughput(tr: Trainer, warmup: int, steps: int, threads: int) -> dict:
    tr.model.train()
    stream = tr.batch_stream()
    for _ in range(warmup):
        tr.step(next(stream))
    graphs = nodes = edges = 0
    loss = None
    before = dict(tr.phase_seconds)
    t0 = time.perf_counter()
    for _ in range(steps):
        loss, g = tr.step(next(stream))
        graphs += g.num_graphs
        nodes += g.num_nodes
        edges += g.num_edges
    seconds = time.perf_counter() - t0
    phases = {k: round(tr.phase_seconds[k] - before[k], 4) for k in before}
    final_loss = float(loss) if loss is not None else float("nan")
    return {
        "impl": "pytorch-reference",
        "graphs_per_s": round(graphs / seconds, 3) if seconds > 0 else None,
        "steps": steps,
        "graphs": graphs,
        "seconds": round(seconds, 4),
        "threads": threads,
        "phase_seconds": phases,
        "nodes_per_s": round(nodes / seconds, 1) if seconds > 0 else None,
        "nodes": nodes,
        "edges": edges,
        "warmup_steps": warmup,
        "final_loss": round(final_loss, 5),
        "torch": torch.__version__,
    }


def run_accuracy(tr: Trainer, epochs: int, threads: int) -> dict:
    tr.model.train()
    t0 = time.perf_counter()
    acc = val = float("nan")
    best = (-1.0, 0, float("nan"))  # (val acc, epoch, test acc)
    for ep in range(epochs):
        te = time.perf_counter()
        tot, n = 0.0, 0
        for b in tr.epoch_batches(ep):
            loss, g = tr.step(b)
            tot += float(loss) * g.num_graphs
            n += g.num_graphs
        train_s = time.perf_counter() - te
        val = tr.evaluate(tr.val_idx) if tr.val_idx.shape[0] else float("nan")
        acc = tr.evaluate(tr.test_idx)
        if tr.val_idx.shape[0] and val > best[0]:
            best = (val, ep + 1, acc)
        print(f"[reference] epoch {ep + 1}/{epochs}: train loss {tot / max(1, n):.4f}, "
              f"val acc {val:.4f}, test acc {acc:.4f}, lr {tr.lr_at(tr.global_step - 1):.2e}, "
              f"{n / train_s:.1f} graphs/s", file=sys.stderr, flush=True)
    return {"impl": "pytorch-reference", "mode": "accuracy", "epochs": epochs,
            "test_accuracy": round(acc, 5), "val_accuracy": round(val, 5),
            "best_val_epoch": best[1], "test_accuracy_at_best_val": round(best[2], 5),
            "train_graphs": int(tr.train_idx.shape[0]), "val_graphs": int(tr.val_idx.shape[0]),
            "test_graphs": int(tr.test_idx.shape[0]),
            "seconds": round(time.perf_counter() - t0, 2), "threads": threads}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, help="experiment YAML (model:, train: sections)")
    ap.add_argument("--cache", required=True, help="binary graph cache written by 'autoglm prepare'")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup-steps", type=int, default=5)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--epochs-accuracy", type=int, default=0, metavar="K",
                    help="train K epochs and report test accuracy instead of throughput")
    ap.add_argument("--seed", type=int, default=None, help="override run.seed")
    ap.add_argument("--no-crc", action="store_true", help="skip the payload CRC check")
    args = ap.parse_args(argv)

    torch.set_num_threads(max(1, args.threads))
    model_cfg, train_cfg = load_config(args.config)
    if args.seed is not None:
        train_cfg["seed"] = args.seed
    torch.manual_seed(int(train_cfg["seed"]))
    try:
        cache = open_cache(args.cache, verify_crc=not args.no_crc)
        validate(cache)
    except CacheError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tr = Trainer(cache, model_cfg, train_cfg,
                 epochs=args.epochs_accuracy if args.epochs_accuracy > 0 else None)
    if args.epochs_accuracy > 0:
        res = run_accuracy(tr, args.epochs_accuracy, args.threads)
    else:
        res = run_throughput(tr, args.warmup_steps, args.steps, args.threads)
    print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
