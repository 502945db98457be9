"""Reader for the Open-AutoGLM binary graph cache (core/graph_store.{h,cc}).

Layout (little-endian, every section 8-byte aligned):
  header, 128 bytes:
    magic "AGLMGRPH" | u32 version (1 or 2) | u32 header_size (=128) | u64 fingerprint
    u64 num_graphs G | u64 num_nodes N | u64 num_edges E | u64 vocab_bytes
    u64 label_bytes | u64 payload_bytes | u32 payload_crc | u32 header_crc
    (CRC-32 of the header with header_crc = 0) | 48 reserved bytes
  payload:
    node_offsets[G+1] i64, edge_offsets[G+1] i64, labels[G] i64, splits[G] u8
    (0 = train, 1 = test), tokens[N] i64, src[E] i32, dst[E] i32 (local node
    ids, edges of each graph sorted by (dst, src)), weight[E] f32, (version 2:
    node_type[N] u8, edge_type[E] u8), vocabulary tokens and label names
    ('\\n'-terminated).

The C++ side checksums with boost::crc_32_type, which is the standard CRC-32
(zlib.crc32). Every check mirrors GraphStore::open, so a file the C++ side
rejects is rejected here too.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

MAGIC = b"AGLMGRPH"
VERSIONS = (1, 2)  # 2 added node_type and edge_type (core/graph/graph_types.h)
HEADER_SIZE = 128
_HEADER = struct.Struct("<8sIIQQQQQQQII48s")
assert _HEADER.size == HEADER_SIZE


class CacheError(RuntimeError):
    pass


def _align8(n: int) -> int:
    return (n + 7) & ~7


def _layout(version: int, g: int, n: int, e: int, vocab_bytes: int, label_bytes: int) -> dict:
    sizes = [
        ("node_offsets", (g + 1) * 8),
        ("edge_offsets", (g + 1) * 8),
        ("labels", g * 8),
        ("splits", g),
        ("tokens", n * 8),
        ("src", e * 4),
        ("dst", e * 4),
        ("weight", e * 4),
        *([("node_type", n), ("edge_type", e)] if version >= 2 else []),
        ("vocab", vocab_bytes),
        ("names", label_bytes),
    ]
    off = HEADER_SIZE
    out = {}
    for name, size in sizes:
        out[name] = off
        off += _align8(size)
    out["end"] = off
    return out


def _split_lines(b: bytes) -> list[str]:
    # Same as splitLines in graph_store.cc: every entry ends with '\n'; any
    # unterminated tail is dropped.
    parts = b.split(b"\n")
    return [p.decode("utf-8", errors="surrogateescape") for p in parts[:-1]]


@dataclass
class GraphCache:
    path: str
    fingerprint: int
    node_offsets: np.ndarray  # [G+1] int64
    edge_offsets: np.ndarray  # [G+1] int64
    labels: np.ndarray        # [G] int64
    splits: np.ndarray        # [G] uint8, 0 = train, 1 = test
    tokens: np.ndarray        # [N] int64
    src: np.ndarray           # [E] int32, local ids
    dst: np.ndarray           # [E] int32, local ids
    weight: np.ndarray        # [E] float32
    vocab_tokens: list
    label_names: list

    @property
    def num_graphs(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_nodes_per_graph(self) -> np.ndarray:
        return np.diff(self.node_offsets)

    @property
    def num_edges_per_graph(self) -> np.ndarray:
        return np.diff(self.edge_offsets)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab_tokens)

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def indices_of(self, split: int) -> np.ndarray:
        return np.nonzero(self.splits == split)[0].astype(np.int64)


def open_cache(path: str, verify_crc: bool = True) -> GraphCache:
    """Maps the file read-only and returns numpy views of every section."""
    try:
        buf = np.memmap(path, dtype=np.uint8, mode="r")
    except (OSError, ValueError) as exc:  # ValueError: empty file
        raise CacheError(f"{path}: cannot open graph cache: {exc}") from exc
    size = int(buf.shape[0])
    if size < HEADER_SIZE:
        raise CacheError(f"{path}: corrupt graph cache: file is {size} bytes, shorter than its header")
    raw = bytes(buf[:HEADER_SIZE])
    (magic, version, header_size, fingerprint, g, n, e, vocab_bytes, label_bytes,
     payload_bytes, payload_crc, header_crc, _reserved) = _HEADER.unpack(raw)
    if magic != MAGIC:
        raise CacheError(f"{path}: not an Open-AutoGLM graph cache (bad magic)")
    if version not in VERSIONS:
        raise CacheError(f"{path}: graph cache format version {version}, this reader reads versions "
                         f"{', '.join(map(str, VERSIONS))}")
    zeroed = raw[:_HEADER.size - 52] + b"\0\0\0\0" + raw[_HEADER.size - 48:]
    if zlib.crc32(zeroed) != header_crc:
        raise CacheError(f"{path}: corrupt graph cache: header checksum mismatch")
    lay = _layout(version, g, n, e, vocab_bytes, label_bytes)
    if lay["end"] != size or payload_bytes != lay["end"] - HEADER_SIZE:
        raise CacheError(f"{path}: corrupt graph cache: size {size} bytes, header implies {lay['end']} (truncated?)")
    if verify_crc:
        crc = 0
        chunk = 64 << 20
        for off in range(HEADER_SIZE, size, chunk):
            crc = zlib.crc32(buf[off:min(off + chunk, size)], crc)
        if crc != payload_crc:
            raise CacheError(f"{path}: corrupt graph cache: payload checksum mismatch")

    def view(name: str, dtype: str, count: int) -> np.ndarray:
        off = lay[name]
        return np.frombuffer(buf, dtype=np.dtype(dtype), count=count, offset=off)

    return GraphCache(
        path=path,
        fingerprint=fingerprint,
        node_offsets=view("node_offsets", "<i8", g + 1),
        edge_offsets=view("edge_offsets", "<i8", g + 1),
        labels=view("labels", "<i8", g),
        splits=view("splits", "u1", g),
        tokens=view("tokens", "<i8", n),
        src=view("src", "<i4", e),
        dst=view("dst", "<i4", e),
        weight=view("weight", "<f4", e),
        vocab_tokens=_split_lines(bytes(buf[lay["vocab"]:lay["vocab"] + vocab_bytes])),
        label_names=_split_lines(bytes(buf[lay["names"]:lay["names"] + label_bytes])),
    )


def validate(c: GraphCache) -> None:
    """Structural checks equivalent to the ones collate() makes per batch."""
    g = c.num_graphs
    if c.node_offsets[0] != 0 or c.node_offsets[-1] != c.tokens.shape[0]:
        raise CacheError(f"{c.path}: node offsets do not cover the token array")
    if c.edge_offsets[0] != 0 or c.edge_offsets[-1] != c.src.shape[0]:
        raise CacheError(f"{c.path}: edge offsets do not cover the edge arrays")
    if np.any(np.diff(c.node_offsets) < 0) or np.any(np.diff(c.edge_offsets) < 0):
        raise CacheError(f"{c.path}: offsets are not non-decreasing")
    ne = np.diff(c.edge_offsets)
    nn = np.diff(c.node_offsets)
    eg = np.repeat(np.arange(g), ne)
    nn_e = nn[eg]
    if np.any((c.src < 0) | (c.src >= nn_e) | (c.dst < 0) | (c.dst >= nn_e)):
        raise CacheError(f"{c.path}: an edge points outside its graph")
    # sorted by dst within each graph
    same = eg[1:] == eg[:-1]
    if np.any(same & (c.dst[1:] < c.dst[:-1])):
        raise CacheError(f"{c.path}: edges are not sorted by dst within a graph")
    if np.any((c.tokens < 0) | (c.tokens >= c.vocab_size)):
        raise CacheError(f"{c.path}: token id outside the vocabulary ({c.vocab_size})")
    if np.any((c.labels < 0) | (c.labels >= c.num_classes)):
        raise CacheError(f"{c.path}: label outside [0, {c.num_classes})")


if __name__ == "__main__":
    import sys

    cache = open_cache(sys.argv[1])
    validate(cache)
    nn = cache.num_nodes_per_graph
    print(f"{cache.path}: fingerprint {cache.fingerprint:016x}, graphs {cache.num_graphs} "
          f"(train {int((cache.splits == 0).sum())}, test {int((cache.splits == 1).sum())}), "
          f"nodes {cache.tokens.shape[0]} (mean {nn.mean():.1f}, max {nn.max()}), "
          f"edges {cache.src.shape[0]}, vocab {cache.vocab_size}, classes {cache.num_classes}: "
          f"{' '.join(cache.label_names)}")
