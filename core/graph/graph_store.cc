#include "core/graph/graph_store.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/file_io.h"
#include "core/hash.h"

namespace autoglm::core::graph {
namespace {

constexpr char kMagic[8] = {'A', 'G', 'L', 'M', 'G', 'R', 'P', 'H'};

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t header_size;
  uint64_t fingerprint;
  uint64_t num_graphs;
  uint64_t num_nodes;
  uint64_t num_edges;
  uint64_t vocab_bytes;
  uint64_t label_bytes;
  uint64_t payload_bytes;
  uint32_t payload_crc;
  uint32_t header_crc;  // CRC of the header with this field zero
  uint8_t reserved[48];
};
static_assert(sizeof(Header) == 128, "header must stay 128 bytes");

constexpr uint64_t align8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

struct Sections {
  uint64_t node_offsets, edge_offsets, labels, splits, tokens, src, dst, weight, node_type, edge_type,
      vocab, names, end;
};

Sections layout(uint64_t g, uint64_t n, uint64_t e, uint64_t vocab_bytes, uint64_t label_bytes) {
  Sections s{};
  uint64_t off = sizeof(Header);
  s.node_offsets = off; off += align8((g + 1) * 8);
  s.edge_offsets = off; off += align8((g + 1) * 8);
  s.labels = off; off += align8(g * 8);
  s.splits = off; off += align8(g);
  s.tokens = off; off += align8(n * 8);
  s.src = off; off += align8(e * 4);
  s.dst = off; off += align8(e * 4);
  s.weight = off; off += align8(e * 4);
  s.node_type = off; off += align8(n);
  s.edge_type = off; off += align8(e);
  s.vocab = off; off += align8(vocab_bytes);
  s.names = off; off += align8(label_bytes);
  s.end = off;
  return s;
}

// A graph's types into the file; an untyped graph leaves the zeros (words, co-occurrence).
void copyTypes(const Graph& gr, uint64_t i, uint8_t* node_type, uint8_t* edge_type) {
  if (!gr.node_type.empty()) {
    AUTOGLM_CHECK(gr.node_type.size() == gr.tokens.size(), "graph ", i, ": ", gr.node_type.size(),
                  " node types for ", gr.tokens.size(), " nodes");
    std::memcpy(node_type, gr.node_type.data(), gr.node_type.size());
  }
  if (!gr.edge_type.empty()) {
    AUTOGLM_CHECK(gr.edge_type.size() == gr.src.size(), "graph ", i, ": ", gr.edge_type.size(),
                  " edge types for ", gr.src.size(), " edges");
    std::memcpy(edge_type, gr.edge_type.data(), gr.edge_type.size());
  }
}

uint32_t headerCrc(Header h) {
  h.header_crc = 0;
  return crc32(&h, sizeof(h));
}

}  // namespace

void GraphStore::write(const std::string& path, const Contents& c) {
  const uint64_t g = c.graphs.size();
  uint64_t n = 0, e = 0;
  for (const auto& gr : c.graphs) {
    n += static_cast<uint64_t>(gr.numNodes());
    e += static_cast<uint64_t>(gr.numEdges());
  }
  AUTOGLM_CHECK(c.splits.size() == g, "splits (", c.splits.size(), ") != graphs (", g, ")");
  const std::string vocab = joinLines(c.vocab_tokens);
  const std::string names = joinLines(c.label_names);
  const Sections s = layout(g, n, e, vocab.size(), names.size());
  std::vector<char> buf(s.end, 0);
  auto at = [&](uint64_t off) { return buf.data() + off; };
  auto* node_off = reinterpret_cast<int64_t*>(at(s.node_offsets));
  auto* edge_off = reinterpret_cast<int64_t*>(at(s.edge_offsets));
  auto* labels = reinterpret_cast<int64_t*>(at(s.labels));
  auto* splits = reinterpret_cast<uint8_t*>(at(s.splits));
  auto* tokens = reinterpret_cast<int64_t*>(at(s.tokens));
  auto* src = reinterpret_cast<int32_t*>(at(s.src));
  auto* dst = reinterpret_cast<int32_t*>(at(s.dst));
  auto* weight = reinterpret_cast<float*>(at(s.weight));
  auto* node_type = reinterpret_cast<uint8_t*>(at(s.node_type));  // zero-filled: untyped graphs
  auto* edge_type = reinterpret_cast<uint8_t*>(at(s.edge_type));
  int64_t no = 0, eo = 0;
  for (uint64_t i = 0; i < g; ++i) {
    const Graph& gr = c.graphs[i];
    node_off[i] = no;
    edge_off[i] = eo;
    labels[i] = gr.label;
    splits[i] = static_cast<uint8_t>(c.splits[i]);
    std::memcpy(tokens + no, gr.tokens.data(), gr.tokens.size() * 8);
    std::memcpy(src + eo, gr.src.data(), gr.src.size() * 4);
    std::memcpy(dst + eo, gr.dst.data(), gr.dst.size() * 4);
    std::memcpy(weight + eo, gr.weight.data(), gr.weight.size() * 4);
    copyTypes(gr, i, node_type + no, edge_type + eo);
    no += gr.numNodes();
    eo += gr.numEdges();
  }
  node_off[g] = no;
  edge_off[g] = eo;
  std::memcpy(at(s.vocab), vocab.data(), vocab.size());
  std::memcpy(at(s.names), names.data(), names.size());

  Header h{};
  std::memcpy(h.magic, kMagic, 8);
  h.version = kVersion;
  h.header_size = sizeof(Header);
  h.fingerprint = c.fingerprint;
  h.num_graphs = g;
  h.num_nodes = n;
  h.num_edges = e;
  h.vocab_bytes = vocab.size();
  h.label_bytes = names.size();
  h.payload_bytes = s.end - sizeof(Header);
  h.payload_crc = crc32(buf.data() + sizeof(Header), h.payload_bytes);
  h.header_crc = headerCrc(h);
  std::memcpy(buf.data(), &h, sizeof(h));

  const std::filesystem::path target(path);
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path());
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw DataError(tmp + ": cannot open for writing: " + std::strerror(errno));
    out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    out.flush();
    if (!out) {
      std::filesystem::remove(tmp);
      throw DataError(tmp + ": write failed (disk full?)");
    }
  }
  std::filesystem::rename(tmp, path);
}

GraphStore GraphStore::open(const std::string& path) {
  GraphStore st;
  st.path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw DataError(path + ": cannot open graph cache: " + std::strerror(errno));
  struct stat sb {};
  if (::fstat(fd, &sb) != 0) {
    ::close(fd);
    throw DataError(path + ": cannot stat graph cache");
  }
  const auto file_size = static_cast<uint64_t>(sb.st_size);
  if (file_size < sizeof(Header)) {
    ::close(fd);
    throw DataError(path + ": corrupt graph cache: file is " + std::to_string(file_size) +
                    " bytes, shorter than its header");
  }
  void* m = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) throw DataError(path + ": mmap failed: " + std::strerror(errno));
  st.map_ = m;
  st.map_size_ = file_size;

  Header h{};
  std::memcpy(&h, m, sizeof(h));
  if (std::memcmp(h.magic, kMagic, 8) != 0) {
    throw DataError(path + ": not an Open-AutoGLM graph cache (bad magic)");
  }
  if (h.version != kVersion) {
    throw DataError(path + ": graph cache format version " + std::to_string(h.version) +
                    ", this build reads version " + std::to_string(kVersion) +
                    "; rebuild it: delete the file or run 'autoglm prepare CONFIG --force'");
  }
  if (h.header_crc != headerCrc(h)) {
    throw DataError(path + ": corrupt graph cache: header checksum mismatch");
  }
  const Sections s = layout(h.num_graphs, h.num_nodes, h.num_edges, h.vocab_bytes, h.label_bytes);
  if (s.end != file_size || h.payload_bytes != s.end - sizeof(Header)) {
    throw DataError(path + ": corrupt graph cache: size " + std::to_string(file_size) +
                    " bytes, header implies " + std::to_string(s.end) + " (truncated?)");
  }
  const char* base = static_cast<const char*>(m);
  if (crc32(base + sizeof(Header), h.payload_bytes) != h.payload_crc) {
    throw DataError(path + ": corrupt graph cache: payload checksum mismatch; delete it or run "
                    "'autoglm prepare' again");
  }
  st.num_graphs_ = static_cast<int64_t>(h.num_graphs);
  st.fingerprint_ = h.fingerprint;
  st.node_offsets_ = reinterpret_cast<const int64_t*>(base + s.node_offsets);
  st.edge_offsets_ = reinterpret_cast<const int64_t*>(base + s.edge_offsets);
  st.labels_ = reinterpret_cast<const int64_t*>(base + s.labels);
  st.splits_ = reinterpret_cast<const uint8_t*>(base + s.splits);
  st.tokens_ = reinterpret_cast<const int64_t*>(base + s.tokens);
  st.src_ = reinterpret_cast<const int32_t*>(base + s.src);
  st.dst_ = reinterpret_cast<const int32_t*>(base + s.dst);
  st.weight_ = reinterpret_cast<const float*>(base + s.weight);
  st.node_type_ = reinterpret_cast<const uint8_t*>(base + s.node_type);
  st.edge_type_ = reinterpret_cast<const uint8_t*>(base + s.edge_type);
  st.vocab_tokens_ = splitLines(std::string_view(base + s.vocab, h.vocab_bytes));
  st.label_names_ = splitLines(std::string_view(base + s.names, h.label_bytes));
  return st;
}

GraphView GraphStore::graph(int64_t i) const {
  AUTOGLM_CHECK(i >= 0 && i < num_graphs_, "graph index ", i, " out of range [0, ", num_graphs_, ")");
  const int64_t n0 = node_offsets_[i], e0 = edge_offsets_[i];
  return GraphView{tokens_ + n0,      src_ + e0,
                   dst_ + e0,         weight_ + e0,
                   node_type_ + n0,   edge_type_ + e0,
                   node_offsets_[i + 1] - n0, edge_offsets_[i + 1] - e0,
                   labels_[i]};
}

GraphStore::GraphStore(GraphStore&& o) noexcept { *this = std::move(o); }

GraphStore& GraphStore::operator=(GraphStore&& o) noexcept {
  if (this != &o) {
    release();
    path_ = std::move(o.path_);
    map_ = o.map_;
    map_size_ = o.map_size_;
    num_graphs_ = o.num_graphs_;
    fingerprint_ = o.fingerprint_;
    node_offsets_ = o.node_offsets_;
    edge_offsets_ = o.edge_offsets_;
    labels_ = o.labels_;
    splits_ = o.splits_;
    tokens_ = o.tokens_;
    src_ = o.src_;
    dst_ = o.dst_;
    weight_ = o.weight_;
    node_type_ = o.node_type_;
    edge_type_ = o.edge_type_;
    vocab_tokens_ = std::move(o.vocab_tokens_);
    label_names_ = std::move(o.label_names_);
    o.map_ = nullptr;
    o.map_size_ = 0;
  }
  return *this;
}

GraphStore::~GraphStore() { release(); }

void GraphStore::release() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
  map_ = nullptr;
}

}  // namespace autoglm::core::graph
