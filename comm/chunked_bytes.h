#pragma once
// Byte strings of any size between the ranks of a communicator, in chunks:
// every count on the wire is one chunk (at most ChunkOptions::chunk_bytes, an
// int for MPI), every size and offset 64-bit, so a transfer past 2 GiB neither
// overflows an int nor needs one buffer of the whole on the wire. Used where
// one rank writes what others hold (a checkpoint's rank states) or reads what
// others need (a resume without a shared file system).
//
// Each call is collective over `comm` and blocks until done; a group of one
// returns at once without communicating. Built on send/recv and broadcast, so
// it works on any backend that has them.

#include <cstdint>
#include <string>
#include <vector>

#include "comm/communicator.h"

namespace autoglm::comm {

struct ChunkOptions {
  int64_t chunk_bytes = int64_t{64} << 20;  // 64 MiB; a test seam (small values cross chunk boundaries)
  int tag = 17;                             // of the point-to-point messages (gather, scatter)
  Millis timeout = kDefaultTimeout;
};

// One chunk of a transfer of `total` bytes.
struct ChunkSpan {
  int64_t offset = 0;
  int64_t bytes = 0;
};
// How many chunks of at most chunk_bytes a transfer of `total` bytes takes,
// and where chunk i lies. Pure arithmetic in 64 bits (total may exceed 2^31).
int64_t chunkCount(int64_t total, int64_t chunk_bytes);
ChunkSpan chunkAt(int64_t total, int64_t chunk_bytes, int64_t i);

// Every rank's bytes on `root` only (rank order); other ranks get an empty vector.
std::vector<std::string> gatherBytes(Communicator& comm, const std::string& mine, int root,
                                     const ChunkOptions& opts = {});
// Rank r gets on_root[r] (on_root.size() == comm.size() on the root; ignored elsewhere).
std::string scatterBytes(Communicator& comm, const std::vector<std::string>& on_root, int root,
                         const ChunkOptions& opts = {});
// The root's bytes on every rank.
std::string broadcastBytes(Communicator& comm, const std::string& on_root, int root, const ChunkOptions& opts = {});

}  // namespace autoglm::comm
