#include "comm/chunked_bytes.h"

#include <ATen/Functions.h>

#include <cstring>

#include "core/error.h"

namespace autoglm::comm {
namespace {

at::Tensor byteTensor(int64_t n) { return at::empty({n}, at::TensorOptions().dtype(at::kByte)); }

void checkChunk(const ChunkOptions& o, const Communicator& comm, const char* what) {
  if (o.chunk_bytes <= 0 || o.chunk_bytes > int64_t{1} << 30) {
    throw CommError(detail::opPrefix(comm, what) + autoglm::detail::concat("chunk_bytes=", o.chunk_bytes,
                                                                             " must be in [1, 2^30]"));
  }
}

int64_t recvSize(Communicator& comm, int src, const ChunkOptions& o) {
  auto w = comm.recv(src, {o.tag, o.timeout});
  w->wait();
  return w->result()[0].item<int64_t>();
}

void sendSize(Communicator& comm, int64_t n, int dst, const ChunkOptions& o) {
  at::Tensor t = at::full({1}, n, at::TensorOptions().dtype(at::kLong));
  comm.send(t, dst, {o.tag, o.timeout})->wait();
}

// `bytes` to `dst`: its size, then its chunks in order.
void sendBytes(Communicator& comm, const std::string& bytes, int dst, const ChunkOptions& o) {
  const auto total = static_cast<int64_t>(bytes.size());
  sendSize(comm, total, dst, o);
  for (int64_t i = 0, n = chunkCount(total, o.chunk_bytes); i < n; ++i) {
    const ChunkSpan c = chunkAt(total, o.chunk_bytes, i);
    at::Tensor t = byteTensor(c.bytes);
    std::memcpy(t.data_ptr<uint8_t>(), bytes.data() + c.offset, static_cast<size_t>(c.bytes));
    comm.send(t, dst, {o.tag, o.timeout})->wait();
  }
}

std::string recvBytes(Communicator& comm, int src, const ChunkOptions& o) {
  const int64_t total = recvSize(comm, src, o);
  std::string out(static_cast<size_t>(total), '\0');
  for (int64_t i = 0, n = chunkCount(total, o.chunk_bytes); i < n; ++i) {
    const ChunkSpan c = chunkAt(total, o.chunk_bytes, i);
    auto w = comm.recv(src, {o.tag, o.timeout});
    w->wait();
    const at::Tensor& t = w->result()[0];
    if (t.numel() != c.bytes) {
      throw CommError(detail::opPrefix(comm, "recv") + autoglm::detail::concat(
                          "chunk ", i, " of ", n, " from rank ", src, " holds ", t.numel(), " bytes, expected ",
                          c.bytes, " (offset ", c.offset, " of ", total, ")"));
    }
    std::memcpy(out.data() + c.offset, t.data_ptr<uint8_t>(), static_cast<size_t>(c.bytes));
  }
  return out;
}

}  // namespace

int64_t chunkCount(int64_t total, int64_t chunk_bytes) {
  return total <= 0 ? 0 : (total - 1) / chunk_bytes + 1;
}

ChunkSpan chunkAt(int64_t total, int64_t chunk_bytes, int64_t i) {
  const int64_t offset = i * chunk_bytes;
  return {offset, std::min(chunk_bytes, total - offset)};
}

std::vector<std::string> gatherBytes(Communicator& comm, const std::string& mine, int root, const ChunkOptions& o) {
  if (comm.size() == 1) return {mine};
  checkChunk(o, comm, "gatherBytes");
  if (comm.rank() != root) {
    sendBytes(comm, mine, root, o);
    return {};
  }
  std::vector<std::string> all(static_cast<size_t>(comm.size()));
  for (int r = 0; r < comm.size(); ++r) all[static_cast<size_t>(r)] = r == root ? mine : recvBytes(comm, r, o);
  return all;
}

std::string scatterBytes(Communicator& comm, const std::vector<std::string>& on_root, int root,
                         const ChunkOptions& o) {
  if (comm.size() == 1) return on_root.at(0);
  checkChunk(o, comm, "scatterBytes");
  if (comm.rank() != root) return recvBytes(comm, root, o);
  if (on_root.size() != static_cast<size_t>(comm.size())) {
    throw CommError(detail::opPrefix(comm, "scatterBytes") +
                    autoglm::detail::concat(on_root.size(), " strings for ", comm.size(), " ranks"));
  }
  for (int r = 0; r < comm.size(); ++r) {
    if (r != root) sendBytes(comm, on_root[static_cast<size_t>(r)], r, o);
  }
  return on_root[static_cast<size_t>(root)];
}

std::string broadcastBytes(Communicator& comm, const std::string& on_root, int root, const ChunkOptions& o) {
  if (comm.size() == 1) return on_root;
  checkChunk(o, comm, "broadcastBytes");
  const bool me = comm.rank() == root;
  at::Tensor size = at::full({1}, me ? static_cast<int64_t>(on_root.size()) : 0, at::TensorOptions().dtype(at::kLong));
  comm.broadcast(size, {root, o.timeout})->wait();
  const int64_t total = size.item<int64_t>();
  std::string out = me ? on_root : std::string(static_cast<size_t>(total), '\0');
  for (int64_t i = 0, n = chunkCount(total, o.chunk_bytes); i < n; ++i) {
    const ChunkSpan c = chunkAt(total, o.chunk_bytes, i);
    at::Tensor t = byteTensor(c.bytes);
    if (me) std::memcpy(t.data_ptr<uint8_t>(), on_root.data() + c.offset, static_cast<size_t>(c.bytes));
    comm.broadcast(t, {root, o.timeout})->wait();
    if (!me) std::memcpy(out.data() + c.offset, t.data_ptr<uint8_t>(), static_cast<size_t>(c.bytes));
  }
  return out;
}

}  // namespace autoglm::comm
