#!/usr/bin/env python3
"""PyTorch reference server of the Open-AutoGLM text classifier.

The same HTTP API as `autoglm serve`, the same model and the same trained
weights, written the plain way: Python's standard-library HTTP server, one
forward pass per request (no batching across requests), torch.no_grad.

  POST /v1/classify  {"texts": ["...", ...]}  ->  200
      {"results": [{"label": "earn", "probability": 0.97,
                    "probabilities": {"earn": 0.97, ...},
                    "exit_block": 2, "cached": false}, ...]}
      (every GAT block is computed, exit heads of a model.early_exit checkpoint
      are not used: exit_block is model.layers; nothing is cached)
      400 for a body that is not {"texts": [strings]} or a text without tokens,
      413 for a body over --max-body-bytes, 404 for another path.
  GET /healthz  ->  200 {"status": "ok"}

Prints `serving on http://HOST:PORT` on stdout once it listens (--port 0: any
free port) and exits 0 on SIGTERM or SIGINT.

What it reads from the checkpoint directory (or run directory: its best
checkpoint, else the one LATEST names), as trainer/checkpoint/checkpoint.h writes it,
after checking each file's size and CRC-32 against MANIFEST.json:
  config.yaml   tokenizer:, graph: and model: sections (defaults: the C++ ones)
  vocab.txt     token of id i on line i; labels.txt: class names
  layout.json   per parameter: its global shape and the slice each shard file holds
  shard-tpXX-ppYY.pt  the trained parameters. torch::serialize::OutputArchive
      writes a TorchScript archive, which torch.jit.load opens; each parameter
      is assembled from its slices, so checkpoints of any (dp, tp, pp) layout load.
Weights are the trained ones; there is no random-weight fallback.

Text to graph, as the C++ side (core/text/tokenizer.cc, core/text/vocab.cc,
core/graph/graph_builder.cc): a token is a maximal run of ASCII letters,
digits, apostrophes and bytes >= 0x80 of the UTF-8 text, ASCII lower-cased,
apostrophes stripped at its edges; unknown tokens map to <unk> (id 1). Nodes:
the distinct tokens of the first graph.max_doc_len in order of first
occurrence, then the <doc> context node; edges between positions closer than
graph.window (both directions), context node to and from every word, self
loops; sorted by (dst, src). Edge weights are not computed: GAT does not use
them. The model is gat_reference.py's GraphClassifier (eval mode). On the R8
corpus the graphs equal those of the C++ graph cache node for node and edge
for edge.

  --check TEXTFILE  classifies the lines of TEXTFILE and prints
      `label<TAB>probability` per line (`ERROR<TAB>empty document` for a line
      without tokens), as `autoglm predict --checkpoint DIR < TEXTFILE` does.

Run it with an interpreter that has torch and numpy (Debian: /usr/bin/python3
with python3-torch, python3-numpy, python3-yaml).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import warnings
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import torch
import torch.nn.functional as Fn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gat_reference import MODEL_DEFAULTS, Batch, GraphClassifier  # noqa: E402

warnings.filterwarnings("ignore", message="scatter_reduce\\(\\) is in beta")

UNK, DOC = 1, 2  # core/text/vocab.h reserved ids (<pad> = 0)
TOKENIZER_DEFAULTS = {"lowercase": True, "min_token_length": 1}  # core/text/tokenizer.h
GRAPH_DEFAULTS = {"builder": "cooccurrence", "window": 3, "max_doc_len": 512,  # core/graph/graph_builder.h
                  "context_node": True, "self_loops": True}
# model: keys that only matter for training or for the C++ kernels, and
# early_exit: its exit heads ("exitK.*") are not loaded; every block is
# computed, as autoglm does at infer.exit_threshold=1 (the default).
MODEL_KEYS_NOT_IN_FORWARD = {"embed_init", "attention", "early_exit"}


class CheckpointError(RuntimeError):
    pass


class InputError(ValueError):
    """A request the server answers with 400."""


# ---------------------------------------------------------------------------
# Checkpoint.


def resolve_checkpoint(path: str) -> str:
    """trainer/checkpoint.cc openCheckpoint(prefer_best=True)."""
    if not os.path.isdir(path):
        raise CheckpointError(f"{path}: checkpoint not found")
    if os.path.exists(os.path.join(path, "MANIFEST.json")):
        return path
    ck = os.path.join(path, "checkpoints") if os.path.isdir(os.path.join(path, "checkpoints")) else path
    if os.path.exists(os.path.join(ck, "best", "MANIFEST.json")):
        return os.path.join(ck, "best")
    latest = os.path.join(ck, "LATEST")
    if os.path.exists(latest):
        with open(latest, "r", encoding="utf-8") as f:
            name = f.read().strip()
        if name:
            return os.path.join(ck, name)
    raise CheckpointError(f"{path}: no checkpoint here (no MANIFEST.json, LATEST or best/)")


class Checkpoint:
    def __init__(self, path: str):
        self.dir = resolve_checkpoint(path)
        try:
            with open(os.path.join(self.dir, "MANIFEST.json"), "r", encoding="utf-8") as f:
                self.manifest = json.load(f)
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"{self.dir}/MANIFEST.json: unreadable manifest: {exc}") from exc
        if self.manifest.get("format") != "autoglm-checkpoint-3":
            raise CheckpointError(f"{self.dir}/MANIFEST.json: format '{self.manifest.get('format')}', "
                                  "this reader knows autoglm-checkpoint-3")

    def read(self, name: str) -> bytes:
        """A file's bytes, checked against the manifest."""
        p = os.path.join(self.dir, name)
        try:
            with open(p, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise CheckpointError(f"{p}: cannot read: {exc}") from exc
        meta = self.manifest.get("files", {}).get(name)
        if meta is None:
            raise CheckpointError(f"{p}: not listed in MANIFEST.json")
        if len(data) != meta["bytes"] or zlib.crc32(data) != meta["crc32"]:
            raise CheckpointError(f"{p}: checksum mismatch, checkpoint is corrupt")
        return data

    def lines(self, name: str) -> list[bytes]:
        """core/file_io.cc splitLines: '\\n'-separated, no empty last line."""
        data = self.read(name)
        out = data.split(b"\n")
        if out and out[-1] == b"":
            out.pop()
        return out

    def config(self) -> dict:
        import yaml

        try:
            root = yaml.safe_load(self.read("config.yaml").decode("utf-8")) or {}
        except yaml.YAMLError as exc:
            raise CheckpointError(f"{self.dir}/config.yaml: unreadable: {exc}") from exc
        return root

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every parameter, whole: trainer/checkpoint/sharded_checkpoint.cc assemble()."""
        where = f"{self.dir}/layout.json"
        try:
            layout = json.loads(self.read("layout.json"))
            entries = layout["tensors"]
        except (ValueError, KeyError) as exc:
            raise CheckpointError(f"{where}: {exc}") from exc
        archives: dict[str, dict[str, torch.Tensor]] = {}

        def archive(file: str) -> dict[str, torch.Tensor]:
            if file not in archives:
                self.read(file)  # manifest check
                try:
                    module = torch.jit.load(os.path.join(self.dir, file), map_location="cpu")
                except RuntimeError as exc:
                    raise CheckpointError(f"{self.dir}/{file}: unreadable shard: {exc}") from exc
                archives[file] = {k: v.detach() for k, v in module.state_dict().items()}
            return archives[file]

        out = {}
        for name, pieces in entries.items():
            shape = pieces[0]["shape"]
            full, covered, dim = None, 0, -1
            for piece in pieces:
                arch = archive(piece["file"])
                if piece["key"] not in arch:
                    raise CheckpointError(f"{self.dir}/{piece['file']}: no tensor '{piece['key']}' "
                                          f"(layout.json names it for {name})")
                t = arch[piece["key"]]
                dim = int(piece["dim"])
                if dim < 0:
                    full = t
                    break
                if full is None:
                    full = torch.empty(shape, dtype=t.dtype)
                full.narrow(dim, int(piece["offset"]), t.shape[dim]).copy_(t)
                covered += t.shape[dim]
            if dim >= 0 and covered != shape[dim]:
                raise CheckpointError(f"{where}: the slices of {name} cover {covered} of its {shape[dim]} "
                                      f"entries along dimension {dim}")
            out[name] = full
        return out


def python_name(cpp: str) -> str | None:
    """Parameter name in the C++ model (graph_classifier.h: "<part>.<name>")
    -> its name in gat_reference.GraphClassifier; None for a part it lacks."""
    m = re.fullmatch(r"block(\d+)\.(.+)", cpp)
    if m:
        return f"blocks.{m.group(1)}.{m.group(2)}"
    if cpp.startswith("embed.") or cpp.startswith("readout."):
        return cpp
    if cpp.startswith("head."):
        return cpp[len("head."):]
    return None


# ---------------------------------------------------------------------------
# Text -> graph.

_TOKEN = re.compile(rb"[A-Za-z0-9'\x80-\xff]+")


class TextToGraph:
    def __init__(self, tokenizer_cfg: dict, graph_cfg: dict, vocab: list[bytes]):
        self.lowercase = bool(tokenizer_cfg["lowercase"])
        self.min_len = int(tokenizer_cfg["min_token_length"])
        if graph_cfg["builder"] != "cooccurrence":
            raise CheckpointError(f"graph.builder '{graph_cfg['builder']}': only cooccurrence is implemented here")
        self.window = int(graph_cfg["window"])
        self.max_doc_len = int(graph_cfg["max_doc_len"])
        self.context_node = bool(graph_cfg["context_node"])
        self.self_loops = bool(graph_cfg["self_loops"])
        self.index = {t: i for i, t in enumerate(vocab)}

    def tokenize(self, text: bytes) -> list[bytes]:
        """core/text/tokenizer.cc."""
        out = []
        for m in _TOKEN.finditer(text):
            t = m.group()
            if self.lowercase:
                t = t.lower()  # ASCII only, as the C++ side
            t = t.strip(b"'")
            if t and len(t) >= self.min_len:
                out.append(t)
        return out

    def graph(self, text: bytes):
        """(tokens, src, dst) int64 arrays of core/graph/graph_builder.cc; raises
        InputError for a text without tokens."""
        toks = self.tokenize(text)
        if not toks:
            raise InputError("empty document (no tokens)")
        ids = np.fromiter((self.index.get(t, UNK) for t in toks[: self.max_doc_len]), dtype=np.int64)
        uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")  # distinct tokens by first occurrence
        rank = np.empty_like(order)
        rank[order] = np.arange(order.shape[0])
        pos_node = rank[inverse]
        words = uniq[order]
        nw = words.shape[0]
        n = nw + (1 if self.context_node else 0)
        keys = []  # dst * n + src
        for d in range(1, min(self.window, ids.shape[0])):
            a, b = pos_node[:-d], pos_node[d:]
            keep = a != b
            a, b = a[keep], b[keep]
            keys += [a * n + b, b * n + a]
        parts = [np.unique(np.concatenate(keys))] if keys else []
        v = np.arange(nw, dtype=np.int64)
        if self.context_node:
            doc = nw
            parts += [v * n + doc, doc * n + v]
        if self.self_loops:
            allv = np.arange(n, dtype=np.int64)
            parts.append(allv * n + allv)
        key = np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
        tokens = np.concatenate([words, [DOC]]) if self.context_node else words
        return tokens.astype(np.int64), key % n, key // n


def collate(graphs) -> Batch:
    """core/graph/graph_batch.cc collate, for the fields the model uses."""
    b = Batch()
    sizes = np.array([g[0].shape[0] for g in graphs], dtype=np.int64)
    gptr = np.zeros(len(graphs) + 1, dtype=np.int64)
    np.cumsum(sizes, out=gptr[1:])
    b.tokens = torch.from_numpy(np.concatenate([g[0] for g in graphs]))
    b.src = torch.from_numpy(np.concatenate([g[1] + off for g, off in zip(graphs, gptr)]))
    b.dst = torch.from_numpy(np.concatenate([g[2] + off for g, off in zip(graphs, gptr)]))
    b.weight = None  # GAT does not use edge weights
    b.node_graph = torch.from_numpy(np.repeat(np.arange(len(graphs), dtype=np.int64), sizes))
    b.graph_ptr = torch.from_numpy(gptr)
    b.labels = None
    b.num_graphs, b.num_nodes, b.num_edges = len(graphs), int(gptr[-1]), int(b.src.shape[0])
    return b


# ---------------------------------------------------------------------------
# Model.


class Reference:
    def __init__(self, checkpoint: str):
        ck = Checkpoint(checkpoint)
        self.dir = ck.dir
        root = ck.config()
        self.labels = [s.decode("utf-8", "replace") for s in ck.lines("labels.txt")]
        vocab = ck.lines("vocab.txt")
        if vocab[:3] != [b"<pad>", b"<unk>", b"<doc>"]:
            raise CheckpointError(f"{self.dir}/vocab.txt: not a vocabulary file (reserved tokens missing)")
        tok_cfg = dict(TOKENIZER_DEFAULTS, **(root.get("tokenizer") or {}))
        graph_cfg = dict(GRAPH_DEFAULTS, **(root.get("graph") or {}))
        self.text = TextToGraph(tok_cfg, graph_cfg, vocab)

        model_y = root.get("model") or {}
        unknown = sorted(k for k in model_y if k not in MODEL_DEFAULTS and k not in MODEL_KEYS_NOT_IN_FORWARD)
        if unknown:
            print(f"[reference] {self.dir}/config.yaml: model keys {unknown} are not modelled here",
                  file=sys.stderr)
        if model_y.get("early_exit"):
            print("[reference] model.early_exit: the exit heads are not used; every block is computed "
                  "(autoglm's infer.exit_threshold=1)", file=sys.stderr)
        cfg = dict(MODEL_DEFAULTS)
        cfg.update({k: v for k, v in model_y.items() if k in MODEL_DEFAULTS})
        self.blocks = int(cfg["layers"])
        self.model = GraphClassifier(cfg, len(vocab), len(self.labels))
        self.model.eval()
        self._load(ck)

    def _load(self, ck: Checkpoint) -> None:
        tensors = ck.tensors()
        own = self.model.state_dict()
        mapped, ignored = {}, []
        for cpp, t in tensors.items():
            py = python_name(cpp)
            if py is None or py not in own:
                ignored.append(cpp)
                continue
            if tuple(t.shape) != tuple(own[py].shape):
                raise CheckpointError(f"{self.dir}/layout.json: {cpp} has shape {list(t.shape)}, the reference "
                                      f"model's {py} is {list(own[py].shape)}")
            mapped[py] = t
        missing = sorted(set(own) - set(mapped))
        if missing:
            raise CheckpointError(f"{self.dir}/layout.json: no tensor for {missing}; the model settings of "
                                  "config.yaml do not match the checkpoint")
        if ignored:
            print(f"[reference] ignoring checkpoint tensors this model does not have: {sorted(ignored)}",
                  file=sys.stderr)
        self.model.load_state_dict(mapped, strict=True)
        self.num_params = sum(int(t.numel()) for t in mapped.values())

    def probabilities(self, texts: list[bytes]) -> torch.Tensor:
        """[len(texts), classes]; raises InputError naming the first text without tokens."""
        graphs = []
        for i, t in enumerate(texts):
            try:
                graphs.append(self.text.graph(t))
            except InputError as exc:
                raise InputError(f"texts[{i}]: {exc}") from None
        with torch.no_grad():
            return Fn.softmax(self.model(collate(graphs)), dim=1)

    def classify(self, texts: list[bytes]) -> list[dict]:
        probs = self.probabilities(texts)
        best_p, best = probs.max(1)
        rows = probs.tolist()
        return [{"label": self.labels[int(c)], "probability": float(p),
                 "probabilities": dict(zip(self.labels, row)),
                 "exit_block": self.blocks, "cached": False}
                for c, p, row in zip(best.tolist(), best_p.tolist(), rows)]


# ---------------------------------------------------------------------------
# HTTP.


def parse_request(body: bytes, max_texts: int) -> list[bytes]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"body is not JSON: {exc}") from None
    texts = doc.get("texts") if isinstance(doc, dict) else None
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise InputError('body must be {"texts": [one or more strings]}')
    if len(texts) > max_texts:
        raise InputError(f"{len(texts)} texts in one request, at most {max_texts}")
    return [t.encode("utf-8", "replace") for t in texts]


def make_handler(ref: Reference, max_body_bytes: int, max_texts: int):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"      # keep-alive
        disable_nagle_algorithm = True     # headers and body are two writes
        server_version = "autoglm-serve-reference"

        def log_message(self, fmt, *args):  # no line per request
            pass

        def _send(self, status: int, obj: dict) -> None:
            body = json.dumps(obj, separators=(",", ":")).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/healthz":
                self._send(200, {"status": "ok"})
            else:
                self._send(404, {"error": f"no such path {self.path}"})

        def do_POST(self):
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                self.close_connection = True
                self._send(411, {"error": "Content-Length required"})
                return
            n = int(length)
            if n > max_body_bytes:
                self.close_connection = True  # the body is not read
                self._send(413, {"error": f"body of {n} bytes, at most {max_body_bytes}"})
                return
            body = self.rfile.read(n)
            if self.path != "/v1/classify":
                self._send(404, {"error": f"no such path {self.path}"})
                return
            try:
                results = ref.classify(parse_request(body, max_texts))
            except InputError as exc:
                self._send(400, {"error": str(exc)})
                return
            self._send(200, {"results": results})

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # listen backlog: 64 clients connect at once


def serve(ref: Reference, host: str, port: int, max_body_bytes: int, max_texts: int) -> int:
    server = Server((host, port), make_handler(ref, max_body_bytes, max_texts))

    def stop(signum, frame):  # shutdown() waits for serve_forever: from another thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    bound_host, bound_port = server.server_address[:2]
    print(f"serving on http://{bound_host}:{bound_port}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    print("[reference] stopped", file=sys.stderr, flush=True)
    return 0


def check(ref: Reference, path: str) -> int:
    """Prints what `autoglm predict` prints for the lines of `path`."""
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out, failed, pending = sys.stdout, 0, []

    def flush():
        if pending:
            probs = ref.probabilities(pending)
            p, c = probs.max(1)
            for ci, pi in zip(c.tolist(), p.tolist()):
                out.write(f"{ref.labels[ci]}\t{pi:.4f}\n")
            pending.clear()

    for line in lines:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not ref.text.tokenize(line):
            flush()
            out.write("ERROR\tempty document\n")
            failed += 1
            continue
        pending.append(line)
        if len(pending) >= 64:
            flush()
    flush()
    out.flush()
    return 1 if failed else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, help="checkpoint directory, or a run directory")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080, help="0: any free port")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--max-body-bytes", type=int, default=1 << 20)
    ap.add_argument("--max-texts", type=int, default=256, help="texts per request")
    ap.add_argument("--check", metavar="TEXTFILE", help="print label<TAB>probability per line and exit")
    args = ap.parse_args(argv)

    torch.set_num_threads(max(1, args.threads))
    try:
        ref = Reference(args.checkpoint)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"[reference] {ref.dir}: trained weights loaded ({ref.num_params} parameters, {len(ref.labels)} "
          f"classes, {ref.blocks} GAT blocks), torch {torch.__version__}, {torch.get_num_threads()} threads",
          file=sys.stderr, flush=True)
    if args.check:
        return check(ref, args.check)
    return serve(ref, args.host, args.port, args.max_body_bytes, args.max_texts)


if __name__ == "__main__":
    sys.exit(main())
