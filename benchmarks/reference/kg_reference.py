#!/usr/bin/env python3
"""PyTorch reference of the Open-AutoGLM knowledge-graph completion task (kg_completion).

The baseline the C++ task is compared with side by side: same model, same
batch size and number of negatives, same epoch order, so that triples/s and
the filtered MRR after the same number of epochs can be compared. Written the
way a PyTorch user would (as facebookresearch/kbc for one-vs-all, DGL-KE and
the RotatE code for negative sampling): embedding lookups, one matmul / cdist /
broadcast per batch, no Python loop over triples or entities in the hot path.

Data (--data DIR)
  entities.dict, relations.dict: "<id>\\t<name>" lines; train.txt, valid.txt,
  test.txt: "<head>\\t<relation>\\t<tail>" names (CR of CRLF lines stripped;
  names stay strings: WN18RR's zero-padded offsets keep their zeros). Or a
  directory with kg.json {"format": "autoglm-kg-ids", "entities": N,
  "relations": R} and no dicts, whose triples files hold integer ids.

Specification (the C++ task implements the same)
  Triples. R relations. With reciprocal (default on for one_vs_all, off for
    negative) relation r's inverse is r+R and each train triple (h,r,t) also
    yields (t,r+R,h). The training list is the M original triples in file
    order followed (when reciprocal) by their M reciprocals: L = M or 2M.
  Epoch order. Fisher-Yates shuffle of parallel/data_parallel/
    distributed_sampler.cc epochOrder over 0..L-1: std::mt19937_64 seeded
    with seed*1000003+epoch (epoch 0-based), for i = L..2: j = rng() % i,
    swap(order[i-1], order[j]) (cpp_rng.py). Batches are consecutive slices
    of --batch of that order; the last, smaller batch is kept.
  Embeddings. Entity table [E, D], relation table [R or 2R, D] (rotate:
    [R or 2R, D/2] phases), D = --dim, real numbers. Complex vectors are
    stored [re (D/2) | im (D/2)].
  Scores.
    transe_l1 / transe_l2: gamma - ||h + r - t||_p, p = 1 or 2.
    rotate: gamma - sum_i |h_i * exp(i*phase_i) - t_i| (complex modulus),
      phase = raw / (range / pi), range = (gamma + 2) / (D/2).
    complex: Re(sum_i h_i r_i conj(t_i)).
  Initialisation (torch.manual_seed(seed); entity table first, then relation).
    complex: normal(0, 1) * --init-scale (default 1e-3);
    transe: uniform(-range, range), range = (gamma + 2) / D;
    rotate: entities and phases uniform(-range, range), range = (gamma+2)/(D/2).
  --training one_vs_all: each query (h, r) of the batch is scored against
    every entity (logits [B, E]); loss = mean cross-entropy with target t
    + n3 * N3. Only tail queries are trained: with reciprocal the reciprocal
    triples are the head queries; without, there is no head-side training.
  --training negative: per step --negatives N entity ids drawn uniformly with
    replacement (numpy default_rng(seed), one draw of N per step) and shared
    by the B triples of the batch (as DGL-KE does). With reciprocal the tails
    are always corrupted: s_bj = score(h_b, r_b, e_j), [B, N]. Without, the
    global step counter (0-based, running on across epochs) decides: even
    steps corrupt tails, odd steps corrupt heads, s_bj = score(e_j, r_b, t_b).
    loss = (pos + neg) / 2, pos = mean_b -logsigmoid(s_b),
    neg = mean_b sum_j w_bj * -logsigmoid(-s_bj), w_b = softmax_j(alpha * s_bj)
    detached when --adversarial-temperature alpha > 0, else 1/N; + n3 * N3 of
    the positive triples when n3 > 0. Negatives equal to the positive are not
    filtered out.
  N3 = (sum over the batch of sum_i |h_i|^3 + |r_i|^3 + |t_i|^3) / B with |x|
    the complex modulus (complex) or the absolute value (transe) of each
    coordinate; rotate has no N3 (--n3 > 0 is refused).
  Optimizers. adagrad: torch.optim.Adagrad(lr, initial_accumulator_value 0,
    eps 1e-10); adam: torch.optim.Adam(lr, eps 1e-8). Default dense embedding
    gradients (kbc declares sparse=True but scores against the whole weight,
    so its entity gradient is dense too). --sparse: nn.Embedding(sparse=True);
    Adagrad takes the sparse gradients, adam becomes torch.optim.SparseAdam
    (eps 1e-8; lazy: moments of rows absent from a batch are not decayed,
    unlike Adam). N3 only touches the batch's rows, so it works with either.
    With one_vs_all the candidate table is the entity weight itself, whose
    gradient is dense whatever --sparse says (as in kbc); SparseAdam refuses
    dense gradients, so --sparse --optimizer adam --training one_vs_all is
    refused.
  Filtered evaluation (valid and/or test). For each triple (h, r, t): the
    tail query (h, r, ?) with target t and the head query (?, r, t) with
    target h; with reciprocal the head query is scored as (t, r+R, ?),
    without as score(e, r, t) for every e. Filter: every other entity that
    answers the query in train+valid+test. Pessimistic rank, as kbc: rank =
    1 + #{candidates e != target, not filtered, score(e) >= score(target)}
    (score(target) is read from the same score matrix). MRR, MR, Hits@1/3/10
    averaged over the 2T queries of both directions. Scores are computed in
    chunks of entities so that a distance model holds at most about
    2^24 elements of [B, chunk, D].

Output
  stderr: progress (epoch, loss, triples/s, seconds). stdout: one JSON line
  per epoch {"impl": "pytorch-reference", "epoch", "loss", "triples_per_s",
  "train_seconds", ...} and, every --eval-every epochs and at the end,
  {"impl", "epoch", "split": "valid"|"test", "mrr", "mr", "hits1", "hits3",
  "hits10", ...}. triples_per_s counts training triples (reciprocals
  included) per second of training steps: the epoch order (cpp_rng.py, pure
  Python) is drawn before the clock starts and reported as order_seconds;
  evaluation is not counted.

Self-check: kg_reference.py --self-test (brute-force filtered ranking with
Python loops against the vectorised one, ties included; each score function
on hand-computed numbers; losses, N3 and the loaders).

Run it with an interpreter that has torch (Debian: /usr/bin/python3).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as Fn
from torch import nn
from torch.utils.checkpoint import checkpoint

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpp_rng  # noqa: E402

SCORES = ("transe_l1", "transe_l2", "rotate", "complex")
# Largest [B, chunk, D] intermediate of a distance model, in elements.
CHUNK_ELEMS = 1 << 24


# ---------------------------------------------------------------------------
# Data.


class KGError(ValueError):
    pass


class KG:
    """entities E, relations R (originals), train/valid/test int64 [M, 3]."""

    def __init__(self, entities: int, relations: int, train, valid, test):
        self.entities, self.relations = entities, relations
        self.train, self.valid, self.test = train, valid, test

    def split(self, name: str) -> np.ndarray:
        return {"train": self.train, "valid": self.valid, "test": self.test}[name]


def _lines(path: str):
    with open(path, "r", encoding="utf-8", newline="") as f:
        for no, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if line:
                yield no, line


def _read_dict(path: str) -> dict:
    out = {}
    for no, line in _lines(path):
        parts = line.split("\t")
        if len(parts) != 2:
            raise KGError(f"{path}:{no}: expected '<id>\\t<name>'")
        i, name = int(parts[0]), parts[1]
        if i != len(out) or name in out:
            raise KGError(f"{path}:{no}: ids must run 0, 1, ... in order with unique names")
        out[name] = i
    return out


def _read_triples(path: str, ent, rel, n_ent: int, n_rel: int) -> np.ndarray:
    """ent/rel: name -> id dicts, or None for integer ids."""
    rows = []
    for no, line in _lines(path):
        parts = line.split("\t")
        if len(parts) != 3:
            raise KGError(f"{path}:{no}: expected '<head>\\t<relation>\\t<tail>'")
        try:
            if ent is None:
                h, r, t = int(parts[0]), int(parts[1]), int(parts[2])
            else:
                h, r, t = ent[parts[0]], rel[parts[1]], ent[parts[2]]
        except (KeyError, ValueError) as exc:
            raise KGError(f"{path}:{no}: unknown entity or relation {exc}") from None
        if not (0 <= h < n_ent and 0 <= t < n_ent and 0 <= r < n_rel):
            raise KGError(f"{path}:{no}: id out of range")
        rows.append((h, r, t))
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def load_kg(root: str) -> KG:
    meta = os.path.join(root, "kg.json")
    if os.path.exists(meta):
        with open(meta, "r", encoding="utf-8") as f:
            m = json.load(f)
        if m.get("format") != "autoglm-kg-ids":
            raise KGError(f"{meta}: format must be 'autoglm-kg-ids'")
        n_ent, n_rel, ent, rel = int(m["entities"]), int(m["relations"]), None, None
    else:
        ent = _read_dict(os.path.join(root, "entities.dict"))
        rel = _read_dict(os.path.join(root, "relations.dict"))
        n_ent, n_rel = len(ent), len(rel)
    splits = [_read_triples(os.path.join(root, f"{s}.txt"), ent, rel, n_ent, n_rel)
              for s in ("train", "valid", "test")]
    return KG(n_ent, n_rel, *splits)


def training_list(train: np.ndarray, n_rel: int, reciprocal: bool) -> np.ndarray:
    """The M triples in file order, then (when reciprocal) their (t, r+R, h)."""
    if not reciprocal:
        return train.copy()
    rec = np.stack([train[:, 2], train[:, 1] + n_rel, train[:, 0]], axis=1)
    return np.concatenate([train, rec], axis=0)


# ---------------------------------------------------------------------------
# Model.


def _halves(x: torch.Tensor):
    k = x.shape[-1] // 2
    return x[..., :k], x[..., k:]


def _rotate_dist(q: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """sum_i |q_i - c_i| for complex q [B, D], c [N, D] stored [re | im]: [B, N]."""
    qr, qi = _halves(q)
    cr, ci = _halves(c)
    return torch.hypot(qr[:, None, :] - cr[None], qi[:, None, :] - ci[None]).sum(-1)


class KGModel(nn.Module):
    """Every score is written f(q, e): a query vector q built from the two known
    parts of the triple, matched against candidate entity rows e.
      transe:  f = gamma - ||q - e||_p;  tail q = h + r,  head q = t - r
      rotate:  f = gamma - sum |q - e|;  tail q = h o r,  head q = t o conj(r)
               (|h e^{i phase} - t| = |h - t e^{-i phase}|)
      complex: f = q . e;  tail q = h o r,  head q = [Re(r conj t) | -Im(r conj t)]"""

    def __init__(self, score: str, n_ent: int, n_rel: int, dim: int, gamma: float,
                 init_scale: float, sparse: bool):
        super().__init__()
        if score not in SCORES:
            raise KGError(f"--score must be one of {SCORES}")
        if score in ("rotate", "complex") and dim % 2:
            raise KGError(f"--dim must be even for {score}")
        self.score, self.gamma, self.dim = score, float(gamma), dim
        self.p = 1 if score == "transe_l1" else 2
        rel_dim = dim // 2 if score == "rotate" else dim
        self.ent = nn.Embedding(n_ent, dim, sparse=sparse)
        self.rel = nn.Embedding(n_rel, rel_dim, sparse=sparse)
        with torch.no_grad():
            if score == "complex":
                nn.init.normal_(self.ent.weight, 0.0, 1.0).mul_(init_scale)
                nn.init.normal_(self.rel.weight, 0.0, 1.0).mul_(init_scale)
            else:
                rng = (self.gamma + 2.0) / (dim if score.startswith("transe") else dim // 2)
                nn.init.uniform_(self.ent.weight, -rng, rng)
                nn.init.uniform_(self.rel.weight, -rng, rng)
        self.phase_scale = math.pi / ((self.gamma + 2.0) / (dim // 2)) if score == "rotate" else 1.0

    # queries ------------------------------------------------------------
    def _unit(self, r: torch.Tensor):
        ph = r * self.phase_scale
        return torch.cos(ph), torch.sin(ph)

    def tail_query(self, h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        if self.score.startswith("transe"):
            return h + r
        hr, hi = _halves(h)
        if self.score == "rotate":
            rr, ri = self._unit(r)
        else:
            rr, ri = _halves(r)
        return torch.cat([hr * rr - hi * ri, hr * ri + hi * rr], dim=-1)

    def head_query(self, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if self.score.startswith("transe"):
            return t - r
        tr, ti = _halves(t)
        if self.score == "rotate":
            rr, ri = self._unit(r)  # t * conj(r)
            return torch.cat([tr * rr + ti * ri, ti * rr - tr * ri], dim=-1)
        rr, ri = _halves(r)  # score(e) = Re(e * r conj t) = e_re a - e_im b
        a = rr * tr + ri * ti
        b = ri * tr - rr * ti
        return torch.cat([a, -b], dim=-1)

    # matching -----------------------------------------------------------
    def pair(self, q: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """f(q_b, e_b): [B]."""
        if self.score == "complex":
            return (q * e).sum(-1)
        if self.score == "rotate":
            qr, qi = _halves(q)
            er, ei = _halves(e)
            return self.gamma - torch.hypot(qr - er, qi - ei).sum(-1)
        return self.gamma - (q - e).norm(p=self.p, dim=-1)

    def _match_block(self, q: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if self.score == "complex":
            return q @ c.t()
        if self.score == "rotate":
            return self.gamma - _rotate_dist(q, c)
        return self.gamma - torch.cdist(q, c, p=float(self.p))

    def match(self, q: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """f(q_b, c_j) for every b, j: [B, N]. A rotate block larger than
        CHUNK_ELEMS is cut in chunks of candidates, each checkpointed when
        autograd is on so that only [B, N] scores are kept for backward
        (complex and transe need no [B, N, D] intermediate: matmul, cdist)."""
        B, N = q.shape[0], c.shape[0]
        if self.score != "rotate" or B * N * (self.dim // 2) <= CHUNK_ELEMS:
            return self._match_block(q, c)
        step = max(1, CHUNK_ELEMS // max(1, B * (self.dim // 2)))
        grad = torch.is_grad_enabled() and (q.requires_grad or c.requires_grad)
        outs = []
        for s in range(0, N, step):
            cc = c[s:s + step]
            outs.append(checkpoint(self._match_block, q, cc, use_reentrant=False) if grad
                        else self._match_block(q, cc))
        return torch.cat(outs, dim=1)

    @torch.no_grad()
    def match_all(self, q: torch.Tensor) -> torch.Tensor:
        """f(q_b, e) against every entity, in chunks of entities: [B, E]."""
        w = self.ent.weight
        E = w.shape[0]
        out = torch.empty(q.shape[0], E, dtype=q.dtype)
        per = self.dim // 2 if self.score == "rotate" else 1
        step = E if self.score != "rotate" else max(1, CHUNK_ELEMS // max(1, q.shape[0] * per))
        for s in range(0, E, step):
            out[:, s:s + step] = self._match_block(q, w[s:s + step])
        return out

    def score_triples(self, h, r, t) -> torch.Tensor:
        """score(h, r, t) for index tensors: [B]."""
        return self.pair(self.tail_query(self.ent(h), self.rel(r)), self.ent(t))

    def n3(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """(sum_b sum_i |h_i|^3 + |r_i|^3 + |t_i|^3) / B on embedding rows."""
        B = h.shape[0]
        if self.score == "complex":
            tot = 0.0
            for x in (h, r, t):
                xr, xi = _halves(x)
                tot = tot + (xr * xr + xi * xi).pow(1.5).sum()
            return tot / B
        if self.score.startswith("transe"):
            return (h.abs().pow(3).sum() + r.abs().pow(3).sum() + t.abs().pow(3).sum()) / B
        raise KGError("rotate has no N3")


# ---------------------------------------------------------------------------
# Filtered ranking.


class _Index:
    """(key -> values) as sorted arrays; lookup returns (row, value) pairs."""

    def __init__(self, keys: np.ndarray, vals: np.ndarray):
        o = np.argsort(keys, kind="stable")
        self.k, self.v = keys[o], vals[o]

    def lookup(self, qk: np.ndarray):
        lo = np.searchsorted(self.k, qk, "left")
        cnt = np.searchsorted(self.k, qk, "right") - lo
        total = int(cnt.sum())
        rows = np.repeat(np.arange(qk.shape[0], dtype=np.int64), cnt)
        first = np.cumsum(cnt) - cnt
        pos = np.repeat(lo - first, cnt) + np.arange(total, dtype=np.int64)
        return torch.from_numpy(rows), torch.from_numpy(self.v[pos])


class Filter:
    """Every true triple of train+valid+test, by (h, r) -> tails and (r, t) -> heads."""

    def __init__(self, kg: KG):
        a = np.concatenate([kg.train, kg.valid, kg.test], axis=0)
        R = kg.relations
        self.R = R
        self.tails = _Index(a[:, 0] * R + a[:, 1], a[:, 2])
        self.heads = _Index(a[:, 2] * R + a[:, 1], a[:, 0])


def filtered_ranks(scores: torch.Tensor, target: torch.Tensor, rows, cols) -> torch.Tensor:
    """1 + #{e != target, (row, e) not filtered, score(e) >= score(target)}.
    Overwrites scores."""
    ar = torch.arange(scores.shape[0])
    tgt = scores[ar, target].clone()
    scores[rows, cols] = -math.inf
    scores[ar, target] = -math.inf
    return 1 + (scores >= tgt[:, None]).sum(1)


@torch.no_grad()
def rank_split(model: KGModel, triples: np.ndarray, filt: Filter, reciprocal: bool,
               batch: int) -> np.ndarray:
    """Ranks [T, 2]: column 0 tail queries, column 1 head queries."""
    R = filt.R
    out = np.zeros((triples.shape[0], 2), dtype=np.int64)
    for s in range(0, triples.shape[0], batch):
        tri = triples[s:s + batch]
        h, r, t = (torch.from_numpy(tri[:, i].copy()) for i in range(3))
        eh, et = model.ent(h), model.ent(t)
        sc = model.match_all(model.tail_query(eh, model.rel(r)))
        rows, cols = filt.tails.lookup(tri[:, 0] * R + tri[:, 1])
        out[s:s + batch, 0] = filtered_ranks(sc, t, rows, cols).numpy()
        if reciprocal:
            q = model.tail_query(et, model.rel(r + R))
        else:
            q = model.head_query(model.rel(r), et)
        sc = model.match_all(q)
        rows, cols = filt.heads.lookup(tri[:, 2] * R + tri[:, 1])
        out[s:s + batch, 1] = filtered_ranks(sc, h, rows, cols).numpy()
    return out


def metrics(ranks: np.ndarray) -> dict:
    r = ranks.reshape(-1).astype(np.float64)
    return {"mrr": round(float(np.mean(1.0 / r)), 6), "mr": round(float(np.mean(r)), 3),
            "hits1": round(float(np.mean(r <= 1)), 6), "hits3": round(float(np.mean(r <= 3)), 6),
            "hits10": round(float(np.mean(r <= 10)), 6), "queries": int(r.shape[0])}


# ---------------------------------------------------------------------------
# Training.


def negative_loss(pos: torch.Tensor, neg: torch.Tensor, alpha: float) -> torch.Tensor:
    """(mean_b -logsigmoid(pos_b) + mean_b sum_j w_bj -logsigmoid(-neg_bj)) / 2."""
    p = -Fn.logsigmoid(pos).mean()
    nl = -Fn.logsigmoid(-neg)
    if alpha > 0:
        w = torch.softmax(alpha * neg.detach(), dim=1)
        n = (w * nl).sum(1).mean()
    else:
        n = nl.mean(1).mean()
    return (p + n) / 2


class Trainer:
    def __init__(self, kg: KG, args):
        self.kg, self.args = kg, args
        self.R = kg.relations
        self.reciprocal = args.reciprocal
        self.train_list = training_list(kg.train, self.R, self.reciprocal)
        self.train_t = torch.from_numpy(self.train_list)
        torch.manual_seed(args.seed)
        n_rel = 2 * self.R if self.reciprocal else self.R
        self.model = KGModel(args.score, kg.entities, n_rel, args.dim, args.gamma,
                             args.init_scale, args.sparse)
        params = list(self.model.parameters())
        if args.optimizer == "adagrad":
            self.opt = torch.optim.Adagrad(params, lr=args.lr, initial_accumulator_value=0.0, eps=1e-10)
        elif args.sparse:
            self.opt = torch.optim.SparseAdam(params, lr=args.lr, eps=1e-8)
        else:
            self.opt = torch.optim.Adam(params, lr=args.lr, eps=1e-8)
        self.neg_rng = np.random.default_rng(args.seed)
        self.global_step = 0

    def epoch_batches(self, epoch: int) -> list:
        order = cpp_rng.epoch_order(np.arange(self.train_list.shape[0], dtype=np.int64),
                                    self.args.seed, epoch)
        b = self.args.batch
        return [torch.from_numpy(order[i:i + b]) for i in range(0, order.shape[0], b)]

    def step(self, idx: torch.Tensor) -> float:
        a, m = self.args, self.model
        tri = self.train_t.index_select(0, idx)
        h, r, t = tri[:, 0], tri[:, 1], tri[:, 2]
        # one lookup for heads and tails: one embedding backward instead of two
        eh, et = m.ent(torch.cat([h, t])).split(h.shape[0])
        er = m.rel(r)
        q = m.tail_query(eh, er)
        if a.training == "one_vs_all":
            loss = Fn.cross_entropy(m.match(q, m.ent.weight), t)
        else:
            neg_ids = torch.from_numpy(self.neg_rng.integers(0, self.kg.entities, size=a.negatives))
            cand = m.ent(neg_ids)
            pos = m.pair(q, et)
            if self.reciprocal or self.global_step % 2 == 0:
                neg = m.match(q, cand)
            else:
                neg = m.match(m.head_query(er, et), cand)
            loss = negative_loss(pos, neg, a.adversarial_temperature)
        if a.n3 > 0:
            loss = loss + a.n3 * m.n3(eh, er, et)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.global_step += 1
        return float(loss)

    def evaluate(self, split: str) -> dict:
        if not hasattr(self, "_filter"):
            self._filter = Filter(self.kg)
        ranks = rank_split(self.model, self.kg.split(split), self._filter, self.reciprocal,
                           self.args.eval_batch)
        return metrics(ranks)


def run(args) -> int:
    torch.set_num_threads(max(1, args.threads))
    t_load = time.perf_counter()
    kg = load_kg(args.data)
    tr = Trainer(kg, args)
    print(f"[kg-reference] {args.data}: {kg.entities} entities, {kg.relations} relations, "
          f"train/valid/test {len(kg.train)}/{len(kg.valid)}/{len(kg.test)}, "
          f"{len(tr.train_list)} training triples (reciprocal {'on' if tr.reciprocal else 'off'}), "
          f"loaded in {time.perf_counter() - t_load:.2f} s", file=sys.stderr, flush=True)
    splits = {"valid": ["valid"], "test": ["test"], "both": ["valid", "test"], "none": []}[args.eval_split]
    common = {"impl": "pytorch-reference", "score": args.score, "training": args.training,
              "threads": args.threads}

    def do_eval(epoch: int):
        for sp in splits:
            te = time.perf_counter()
            res = tr.evaluate(sp)
            es = time.perf_counter() - te
            print(f"[kg-reference] epoch {epoch} {sp}: MRR {res['mrr']:.4f}, MR {res['mr']:.1f}, "
                  f"H@1 {res['hits1']:.4f}, H@3 {res['hits3']:.4f}, H@10 {res['hits10']:.4f} "
                  f"({es:.1f} s)", file=sys.stderr, flush=True)
            print(json.dumps({**common, "epoch": epoch, "split": sp, **res,
                              "eval_seconds": round(es, 3)}), flush=True)

    evaluated = -1
    for ep in range(args.epochs):
        t0 = time.perf_counter()
        batches = tr.epoch_batches(ep)
        order_s = time.perf_counter() - t0
        if args.max_steps > 0:
            batches = batches[:args.max_steps]
        tot, n = 0.0, 0
        tr.model.train()
        t0 = time.perf_counter()
        last = t0
        for i, b in enumerate(batches):
            loss = tr.step(b)
            tot += loss * b.shape[0]
            n += b.shape[0]
            now = time.perf_counter()
            if now - last >= 30.0:
                last = now
                print(f"[kg-reference] epoch {ep + 1} step {i + 1}/{len(batches)}: loss {tot / n:.4f}, "
                      f"{n / (now - t0):.1f} triples/s", file=sys.stderr, flush=True)
        secs = time.perf_counter() - t0
        rec = {**common, "epoch": ep + 1, "steps": len(batches), "triples": n,
               "loss": round(tot / max(1, n), 6), "triples_per_s": round(n / secs, 1) if secs > 0 else None,
               "train_seconds": round(secs, 3), "order_seconds": round(order_s, 3)}
        print(f"[kg-reference] epoch {ep + 1}/{args.epochs}: loss {rec['loss']:.4f}, "
              f"{rec['triples_per_s']} triples/s, {secs:.2f} s ({len(batches)} steps)",
              file=sys.stderr, flush=True)
        print(json.dumps(rec), flush=True)
        if args.eval_every > 0 and (ep + 1) % args.eval_every == 0:
            do_eval(ep + 1)
            evaluated = ep + 1
    if evaluated != args.epochs:
        do_eval(args.epochs)
    return 0


# ---------------------------------------------------------------------------
# Self-test.


def _py_score(model: KGModel, h: int, r: int, t: int) -> float:
    """score(h, r, t) from the spec, in Python doubles."""
    E = model.ent.weight.detach().double().tolist()
    Rl = model.rel.weight.detach().double().tolist()
    return _py_score_vec(model.score, model.gamma, E[h], Rl[r], E[t])


def _py_score_vec(score: str, gamma: float, h, r, t) -> float:
    if score.startswith("transe"):
        d = [a + b - c for a, b, c in zip(h, r, t)]
        if score == "transe_l1":
            return gamma - sum(abs(x) for x in d)
        return gamma - math.sqrt(sum(x * x for x in d))
    k = len(h) // 2
    hc = [complex(h[i], h[k + i]) for i in range(k)]
    tc = [complex(t[i], t[k + i]) for i in range(k)]
    if score == "complex":
        rc = [complex(r[i], r[k + i]) for i in range(k)]
        return sum(a * b * c.conjugate() for a, b, c in zip(hc, rc, tc)).real
    rng = (gamma + 2.0) / k
    ph = [x / (rng / math.pi) for x in r]
    return gamma - sum(abs(a * complex(math.cos(p), math.sin(p)) - c) for a, p, c in zip(hc, ph, tc))


def _brute_ranks(model: KGModel, kg: KG, split: np.ndarray, reciprocal: bool):
    """Python loops over queries and entities, straight from the spec: (ranks [T, 2],
    number of queries where an unfiltered candidate ties with the target)."""
    E, R = kg.entities, kg.relations
    true = {tuple(x) for x in np.concatenate([kg.train, kg.valid, kg.test]).tolist()}
    Ew = model.ent.weight.detach().double().tolist()
    Rw = model.rel.weight.detach().double().tolist()
    sc = lambda h, r, t: _py_score_vec(model.score, model.gamma, Ew[h], Rw[r], Ew[t])  # noqa: E731
    out, ties = [], 0
    for h, r, t in split.tolist():
        tail = [sc(h, r, e) for e in range(E)]
        if reciprocal:
            head = [sc(t, r + R, e) for e in range(E)]
        else:
            head = [sc(e, r, t) for e in range(E)]
        rt = 1 + sum(1 for e in range(E) if e != t and (h, r, e) not in true and tail[e] >= tail[t])
        rh = 1 + sum(1 for e in range(E) if e != h and (e, r, t) not in true and head[e] >= head[h])
        ties += any(e != t and (h, r, e) not in true and tail[e] == tail[t] for e in range(E))
        ties += any(e != h and (e, r, t) not in true and head[e] == head[h] for e in range(E))
        out.append((rt, rh))
    return np.asarray(out, dtype=np.int64), ties


def self_test() -> int:
    global CHUNK_ELEMS
    torch.set_num_threads(1)
    ok = True

    def check(cond, what):
        nonlocal ok
        print(f"[self-test] {'ok  ' if cond else 'FAIL'} {what}", file=sys.stderr)
        ok = ok and bool(cond)

    # 1. Score functions on hand-computed numbers.
    def model_with(score, dim, gamma, ent_rows, rel_rows):
        m = KGModel(score, len(ent_rows), len(rel_rows), dim, gamma, 1e-3, False)
        with torch.no_grad():
            m.ent.weight.copy_(torch.tensor(ent_rows, dtype=torch.float32))
            m.rel.weight.copy_(torch.tensor(rel_rows, dtype=torch.float32))
        return m

    ent = [[1.0, 2.0], [1.0, 0.0]]
    rel = [[0.5, -1.0]]
    for score, want in (("transe_l1", 3.0 - 1.5), ("transe_l2", 3.0 - math.sqrt(1.25))):
        m = model_with(score, 2, 3.0, ent, rel)
        got = float(m.score_triples(torch.tensor([0]), torch.tensor([0]), torch.tensor([1])))
        check(abs(got - want) < 1e-6, f"{score}: h=[1,2] r=[.5,-1] t=[1,0] gamma 3 -> {got:.6f} (want {want:.6f})")
    # rotate, D=4 (2 complex coordinates), gamma 6: range = 8/2 = 4, raw = phase * 4 / pi.
    # h = (1+1i, 2+0i), phases (pi, pi/2), t = 0: |-(1+i)| + |2i| = sqrt2 + 2.
    m = model_with("rotate", 4, 6.0, [[1.0, 2.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]], [[4.0, 2.0]])
    got = float(m.score_triples(torch.tensor([0]), torch.tensor([0]), torch.tensor([1])))
    want = 6.0 - math.sqrt(2.0) - 2.0
    check(abs(got - want) < 1e-5, f"rotate: h=(1+i, 2) phases (pi, pi/2) t=0 -> {got:.6f} (want {want:.6f})")
    # h = 1, phase pi/2 (raw 2 with D=4... use D=2: range 8, raw 4), t = i: h e^{i pi/2} = i -> gamma.
    m = model_with("rotate", 2, 6.0, [[1.0, 0.0], [0.0, 1.0]], [[4.0]])
    got = float(m.score_triples(torch.tensor([0]), torch.tensor([0]), torch.tensor([1])))
    check(abs(got - 6.0) < 1e-5, f"rotate: h=1 phase pi/2 t=i -> {got:.6f} (want 6)")
    # complex: h = 1+2i, r = 3-1i, t = 0.5+1i: (5+5i)(0.5-1i) = 7.5 - 2.5i -> 7.5.
    m = model_with("complex", 2, 0.0, [[1.0, 2.0], [0.5, 1.0]], [[3.0, -1.0]])
    got = float(m.score_triples(torch.tensor([0]), torch.tensor([0]), torch.tensor([1])))
    check(abs(got - 7.5) < 1e-6, f"complex: h=1+2i r=3-i t=.5+i -> {got:.6f} (want 7.5)")

    # 2. Every matching path agrees with the Python score on random rows.
    g = torch.Generator().manual_seed(3)
    for score in SCORES:
        E, Rn, D = 9, 3, 8
        m = KGModel(score, E, Rn, D, 4.0, 0.5, False)
        with torch.no_grad():
            m.ent.weight.copy_(torch.randn(E, D, generator=g))
            m.rel.weight.copy_(torch.randn(*m.rel.weight.shape, generator=g))
        h, r, t = torch.tensor([0, 3, 5]), torch.tensor([0, 2, 1]), torch.tensor([1, 3, 8])
        allE = torch.arange(E)
        want_t = torch.tensor([[_py_score(m, hb, rb, e) for e in range(E)] for hb, rb in zip(h.tolist(), r.tolist())], dtype=torch.float64)
        want_h = torch.tensor([[_py_score(m, e, rb, tb) for e in range(E)] for rb, tb in zip(r.tolist(), t.tolist())], dtype=torch.float64)
        with torch.no_grad():
            qt = m.tail_query(m.ent(h), m.rel(r))
            qh = m.head_query(m.rel(r), m.ent(t))
            got = [m.match(qt, m.ent(allE)), m.match_all(qt), m.match(qh, m.ent(allE)), m.match_all(qh),
                   m.pair(qt, m.ent(t))]
        close = lambda a, b: torch.allclose(a.double(), b, atol=1e-4, rtol=1e-5)  # noqa: E731
        check(close(got[0], want_t) and close(got[1], want_t), f"{score}: tail query vs every entity")
        check(close(got[2], want_h) and close(got[3], want_h), f"{score}: head query vs every entity")
        check(close(got[4], want_t[torch.arange(3), t]), f"{score}: positive pair score")
        if score == "rotate":  # the chunked, checkpointed path
            saved, CHUNK_ELEMS = CHUNK_ELEMS, 8
            try:
                w = m.ent.weight
                a1 = m.match(m.tail_query(m.ent(h), m.rel(r)), w)
                a1.sum().backward()
                g1 = w.grad.clone()
                w.grad = None
                CHUNK_ELEMS = saved
                a2 = m.match(m.tail_query(m.ent(h), m.rel(r)), w)
                a2.sum().backward()
                check(torch.allclose(a1, a2) and torch.allclose(g1, w.grad, atol=1e-6),
                      "rotate: chunked + checkpointed match = one block (values and gradient)")
            finally:
                CHUNK_ELEMS = saved

    # 3. Filtered ranking: brute force (Python loops) = vectorised, ties included.
    rs = np.random.default_rng(7)
    E, Rn = 12, 3
    allt = set()
    while len(allt) < 60:
        allt.add((int(rs.integers(E)), int(rs.integers(Rn)), int(rs.integers(E))))
    allt = np.asarray(sorted(allt), dtype=np.int64)
    allt = allt[rs.permutation(len(allt))]
    kg = KG(E, Rn, allt[:40], allt[40:50], allt[50:])
    filt = Filter(kg)
    for score in SCORES:
        for reciprocal in (True, False):
            D = 32 if score == "rotate" else 6
            m = KGModel(score, E, 2 * Rn if reciprocal else Rn, D, 5.0, 1e-3, False)
            with torch.no_grad():
                if score == "rotate":
                    m.ent.weight.copy_(torch.from_numpy(rs.normal(size=(E, D))).float())
                    m.rel.weight.copy_(torch.from_numpy(rs.normal(size=m.rel.weight.shape)).float())
                else:  # small integers: exact in float32, so many exact ties
                    m.ent.weight.copy_(torch.from_numpy(rs.integers(-1, 2, size=(E, D))).float())
                    m.rel.weight.copy_(torch.from_numpy(rs.integers(-1, 2, size=m.rel.weight.shape)).float())
                # duplicate entity rows: exact ties for every score
                m.ent.weight[7].copy_(m.ent.weight[2])
                m.ent.weight[9].copy_(m.ent.weight[4])
                m.ent.weight[11].copy_(m.ent.weight[4])
            for name in ("valid", "test"):
                sp = kg.split(name)
                want, ties = _brute_ranks(m, kg, sp, reciprocal)
                got = rank_split(m, sp, filt, reciprocal, batch=4)
                check(np.array_equal(want, got) and ties > 0,
                      f"{score} reciprocal={reciprocal} {name}: filtered ranks = brute force "
                      f"({ties}/{want.size} queries with a tie at the target's score)")
    m = metrics(np.array([[1, 2], [4, 10]]))
    want = {"mrr": (1 + 0.5 + 0.25 + 0.1) / 4, "mr": 4.25, "hits1": 0.25, "hits3": 0.5, "hits10": 1.0}
    check(all(abs(m[k] - v) < 1e-6 for k, v in want.items()), f"metrics of ranks 1,2,4,10: {m}")

    # 4. Losses.
    pos = torch.tensor([0.5, -1.0])
    neg = torch.tensor([[0.2, -0.3, 1.0], [0.0, 2.0, -2.0]])
    ls = lambda x: math.log(1.0 / (1.0 + math.exp(-x)))  # noqa: E731
    for alpha in (0.0, 0.5):
        p = sum(-ls(x) for x in pos.tolist()) / 2
        nsum = 0.0
        for row in neg.tolist():
            w = [math.exp(alpha * x) for x in row] if alpha > 0 else [1.0] * len(row)
            z = sum(w)
            nsum += sum(wi / z * -ls(-x) for wi, x in zip(w, row))
        want = (p + nsum / 2) / 2
        got = float(negative_loss(pos, neg, alpha))
        check(abs(got - want) < 1e-6, f"negative loss alpha {alpha}: {got:.6f} (want {want:.6f})")
    negp = neg.clone().requires_grad_(True)
    negative_loss(pos, negp, 0.5).backward()
    w = torch.softmax(0.5 * neg, 1)
    want_g = w * torch.sigmoid(neg) / 2 / 2  # d/ds -logsigmoid(-s) = sigmoid(s); weights held fixed
    check(torch.allclose(negp.grad, want_g, atol=1e-6), "adversarial weights are detached")
    m = KGModel("complex", 3, 1, 4, 0.0, 1.0, False)
    hh = torch.tensor([[3.0, 0.0, 4.0, 1.0]])  # moduli 5, 1
    rr = torch.tensor([[0.0, 1.0, 0.0, 0.0]])  # 0, 1
    tt = torch.tensor([[1.0, 1.0, 1.0, 1.0]])  # sqrt2, sqrt2
    want = (125 + 1 + 0 + 1 + 2 * 2 ** 1.5) / 1
    check(abs(float(m.n3(hh, rr, tt)) - want) < 1e-4, f"N3 complex (moduli): {float(m.n3(hh, rr, tt)):.4f} (want {want:.4f})")
    m = KGModel("transe_l1", 3, 1, 2, 0.0, 1.0, False)
    got = float(m.n3(torch.tensor([[1.0, -2.0], [0.0, 1.0]]), torch.zeros(2, 2), torch.ones(2, 2)))
    check(abs(got - (1 + 8 + 1 + 4) / 2) < 1e-6, f"N3 transe (abs): {got} (want 7)")

    # 5. Loaders: names with CRLF and zero padding; integer ids with kg.json.
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "entities.dict"), "w") as f:
            f.write("0\t007\n1\t7\n2\t/m/x\n")
        with open(os.path.join(d, "relations.dict"), "w") as f:
            f.write("0\t_a\n1\t/r/b.c\n")
        for s, body in (("train", "007\t_a\t7\r\n7\t/r/b.c\t/m/x\r\n"), ("valid", "/m/x\t_a\t007\r\n"),
                        ("test", "7\t_a\t007\r\n")):
            with open(os.path.join(d, f"{s}.txt"), "w", newline="") as f:
                f.write(body)
        kg = load_kg(d)
        check(kg.entities == 3 and kg.train.tolist() == [[0, 0, 1], [1, 1, 2]] and kg.valid.tolist() == [[2, 0, 0]]
              and kg.test.tolist() == [[1, 0, 0]], "names loader (CRLF, '007' != '7')")
        check(training_list(kg.train, 2, True).tolist() == [[0, 0, 1], [1, 1, 2], [1, 2, 0], [2, 3, 1]],
              "training list: originals then reciprocals (t, r+R, h)")
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "kg.json"), "w") as f:
            json.dump({"format": "autoglm-kg-ids", "entities": 4, "relations": 2}, f)
        for s, body in (("train", "0\t1\t3\n2\t0\t1\n"), ("valid", "3\t1\t0\n"), ("test", "1\t0\t2\n")):
            with open(os.path.join(d, f"{s}.txt"), "w") as f:
                f.write(body)
        kg = load_kg(d)
        check(kg.entities == 4 and kg.relations == 2 and kg.train.tolist() == [[0, 1, 3], [2, 0, 1]],
              "kg.json loader (integer ids)")
    order = cpp_rng.epoch_order(np.arange(10), 42, 1)
    check(sorted(order.tolist()) == list(range(10)), f"epoch order is a permutation: {order.tolist()}")

    print(f"[self-test] {'passed' if ok else 'FAILED'}", file=sys.stderr)
    return 0 if ok else 1


# ---------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--self-test", action="store_true", help="run the self-checks and exit")
    ap.add_argument("--data", help="dataset directory (dicts + names, or kg.json + ids)")
    ap.add_argument("--score", choices=SCORES, default="complex")
    ap.add_argument("--dim", type=int, default=256, help="D: real numbers per entity row")
    ap.add_argument("--gamma", type=float, default=12.0, help="margin of the distance models")
    ap.add_argument("--training", choices=("one_vs_all", "negative"), default="one_vs_all")
    ap.add_argument("--negatives", type=int, default=256, help="N shared negatives per batch")
    ap.add_argument("--adversarial-temperature", type=float, default=0.0, help="alpha; 0 = uniform weights")
    ap.add_argument("--n3", type=float, default=0.0, help="N3 weight")
    ap.add_argument("--reciprocal", dest="reciprocal", action="store_true", default=None,
                    help="add (t, r+R, h) triples (default: on for one_vs_all, off for negative)")
    ap.add_argument("--no-reciprocal", dest="reciprocal", action="store_false")
    ap.add_argument("--init-scale", type=float, default=1e-3, help="complex: normal(0,1) * this")
    ap.add_argument("--optimizer", choices=("adagrad", "adam"), default="adagrad")
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-every", type=int, default=0, help="evaluate every K epochs (0: at the end only)")
    ap.add_argument("--eval-split", choices=("valid", "test", "both", "none"), default="valid")
    ap.add_argument("--eval-batch", type=int, default=256, help="queries per evaluation batch")
    ap.add_argument("--sparse", action="store_true", help="sparse embedding gradients (Adagrad / SparseAdam)")
    ap.add_argument("--max-steps", type=int, default=0, help="stop each epoch after this many steps (0: none)")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test()
    if not args.data:
        ap.error("--data is required")
    if args.reciprocal is None:
        args.reciprocal = args.training == "one_vs_all"
    if args.score == "rotate" and args.n3 > 0:
        ap.error("rotate has no N3: use --n3 0")
    if args.sparse and args.optimizer == "adam" and args.training == "one_vs_all":
        ap.error("--sparse --optimizer adam needs --training negative: one_vs_all scores against the "
                 "whole entity table, whose gradient is dense, and SparseAdam takes only sparse gradients")
    if args.batch < 1 or args.negatives < 1 or args.epochs < 0:
        ap.error("--batch and --negatives must be >= 1, --epochs >= 0")
    try:
        return run(args)
    except KGError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
