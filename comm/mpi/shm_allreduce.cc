#include "comm/mpi/shm_allreduce.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>
#include <thread>

#include "comm/mpi/check.h"
#include "core/log.h"
#include "comm/reduce_kernels.h"

namespace autoglm::comm::mpi {
namespace {

constexpr size_t kLine = 64;
constexpr size_t kPage = 4096;
constexpr int kNameLen = 64;
constexpr int kSpinPauses = 256;
constexpr int64_t kOversubscribedDirectFactor = 4;

size_t roundUp(size_t v, size_t to) { return (v + to - 1) / to * to; }

// memcpy with non-temporal stores into the segment: the line goes to memory
// without first being pulled from the peer's cache (that read-for-ownership is
// what limits copying through lines a peer core read last). `dst` 16-byte aligned. Callers
// publish with a release store after it (x86: an sfence orders the stream).
void streamCopy(uint8_t* dst, const uint8_t* src, size_t bytes) {
#if defined(__SSE2__)
  size_t i = 0;
  for (; i + 64 <= bytes; i += 64) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 32));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i + 48), d);
  }
  std::memcpy(dst + i, src + i, bytes - i);
  _mm_sfence();
#else
  std::memcpy(dst, src, bytes);
#endif
}

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until `counter` >= `seq`: `pauses` CPU pauses (the peer is usually a
// fraction of a microsecond behind), then yields between checks so that a rank
// sharing this core can run. Looks at the clock only while yielding, every
// 256 checks; past `deadline` throws Timeout for `peer`.
void waitFor(const std::atomic<uint64_t>& counter, uint64_t seq, int pauses,
             std::chrono::steady_clock::time_point deadline, int peer) {
  for (int spins = 0; counter.load(std::memory_order_acquire) < seq; ++spins) {
    if (spins < pauses) {
      cpuRelax();
      continue;
    }
    std::this_thread::yield();
    if ((spins & 255) == 0) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        const double late = std::chrono::duration<double, std::milli>(now - deadline).count();
        throw ShmAllreduce::Timeout{peer, late};
      }
    }
  }
}

// Cores that the ranks of `comm` (all on this host) may run on, together.
int sharedCores(MPI_Comm comm) {
  cpu_set_t mine, all;
  CPU_ZERO(&mine);
  CPU_ZERO(&all);
  if (sched_getaffinity(0, sizeof(mine), &mine) != 0) {
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  static_assert(sizeof(cpu_set_t) % sizeof(unsigned long) == 0, "cpu_set_t layout");
  AUTOGLM_CHECK_MPI(MPI_Allreduce(&mine, &all, static_cast<int>(sizeof(cpu_set_t) / sizeof(unsigned long)),
                                  MPI_UNSIGNED_LONG, MPI_BOR, comm));
  return std::max(1, CPU_COUNT(&all));
}

std::string segmentName() {
  static std::atomic<uint64_t> counter{0};
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  char name[kNameLen];
  std::snprintf(name, sizeof(name), "/autoglm-shm-%d-%llu-%llx", static_cast<int>(getpid()),
                static_cast<unsigned long long>(counter.fetch_add(1)), static_cast<unsigned long long>(now));
  return name;
}

void* mapSegment(const char* name, size_t bytes, bool create) {
  const int fd = create ? shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600) : shm_open(name, O_RDWR, 0600);
  if (fd < 0) return nullptr;
  // Reserve the pages now: a /dev/shm too small for the segment (Docker's
  // default is 64 MiB) fails here, and every rank falls back to MPI, instead of
  // a SIGBUS at the first touch of a page that cannot be backed.
  if (create && (ftruncate(fd, static_cast<off_t>(bytes)) != 0 ||
                 posix_fallocate(fd, 0, static_cast<off_t>(bytes)) != 0)) {
    close(fd);
    shm_unlink(name);
    return nullptr;
  }
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

// One rank's counters, each on its own cache line: the line a rank writes is
// read by all others, never written by them.
struct ShmAllreduce::Flags {
  alignas(kLine) std::atomic<uint64_t> arrived{0};
  alignas(kLine) std::atomic<uint64_t> reduced{0};
};

std::unique_ptr<ShmAllreduce> ShmAllreduce::create(MPI_Comm comm, int64_t chunk_bytes, int64_t direct_max_bytes) {
  int rank = 0, size = 1;
  AUTOGLM_CHECK_MPI(MPI_Comm_rank(comm, &rank));
  AUTOGLM_CHECK_MPI(MPI_Comm_size(comm, &size));
  if (size < 2) return nullptr;
  // All ranks on this host? Each rank sees its host's count, so all agree.
  MPI_Comm local = MPI_COMM_NULL;
  AUTOGLM_CHECK_MPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local));
  int local_size = 0;
  MPI_Comm_size(local, &local_size);
  MPI_Comm_free(&local);
  if (local_size != size) return nullptr;
  // More ranks than cores: a waiting rank holds a core some peer needs, so it
  // yields at once instead of spinning first (Open MPI's yield_when_idle).
  const bool oversubscribed = size > sharedCores(comm);
  const int pauses = oversubscribed ? 0 : kSpinPauses;
  // There every synchronisation costs a context switch, so the one-synchronisation
  // direct path pays off up to larger messages (benchmarks/collective/README.md).
  if (oversubscribed) direct_max_bytes *= kOversubscribedDirectFactor;

  const size_t chunk = roundUp(static_cast<size_t>(std::max<int64_t>(chunk_bytes, direct_max_bytes)), kPage);
  const size_t flags_bytes = roundUp(sizeof(Flags) * static_cast<size_t>(size), kPage);
  const size_t bytes = flags_bytes + 2 * chunk * static_cast<size_t>(size + 1);

  char name[kNameLen] = {0};
  void* base = nullptr;
  if (rank == 0) {
    const std::string n = segmentName();
    base = mapSegment(n.c_str(), bytes, /*create=*/true);
    if (base != nullptr) {
      for (int r = 0; r < size; ++r) new (static_cast<uint8_t*>(base) + r * sizeof(Flags)) Flags();
      std::snprintf(name, sizeof(name), "%s", n.c_str());
    }
  }
  AUTOGLM_CHECK_MPI(MPI_Bcast(name, kNameLen, MPI_CHAR, 0, comm));
  if (rank != 0 && name[0] != '\0') base = mapSegment(name, bytes, /*create=*/false);
  int ok = base != nullptr ? 1 : 0, all_ok = 0;
  AUTOGLM_CHECK_MPI(MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm));
  // Everyone has mapped it (or given up): the name is no longer needed, and the
  // memory goes away with the last mapping even if a process dies.
  if (rank == 0 && name[0] != '\0') shm_unlink(name);
  if (!all_ok) {
    if (base != nullptr) munmap(base, bytes);
    if (rank == 0) {
      core::log::warn("shared-memory all-reduce unavailable: a segment of {} bytes could not be reserved in /dev/shm "
                      "on some rank; this communicator uses MPI", bytes);
    }
    return nullptr;
  }
  return std::unique_ptr<ShmAllreduce>(
      new ShmAllreduce(base, bytes, rank, size, static_cast<int64_t>(chunk), direct_max_bytes, pauses));
}

ShmAllreduce::ShmAllreduce(void* base, size_t bytes, int rank, int size, int64_t chunk_bytes,
                           int64_t direct_max_bytes, int pauses)
    : base_(base),
      bytes_(bytes),
      rank_(rank),
      size_(size),
      chunk_bytes_(chunk_bytes),
      direct_max_bytes_(direct_max_bytes),
      pauses_(pauses),
      flags_bytes_(roundUp(sizeof(Flags) * static_cast<size_t>(size), kPage)),
      buffer_bytes_(static_cast<size_t>(chunk_bytes) * static_cast<size_t>(size + 1)) {}

ShmAllreduce::~ShmAllreduce() {
  if (base_ != nullptr) munmap(base_, bytes_);
}

ShmAllreduce::Flags& ShmAllreduce::flags(int rank) const {
  return *reinterpret_cast<Flags*>(static_cast<uint8_t*>(base_) + rank * sizeof(Flags));
}

uint8_t* ShmAllreduce::slot(uint64_t seq, int index) const {
  return static_cast<uint8_t*>(base_) + flags_bytes_ + (seq % 2) * buffer_bytes_ +
         static_cast<size_t>(index) * static_cast<size_t>(chunk_bytes_);
}

void ShmAllreduce::arrive(uint64_t seq) { flags(rank_).arrived.store(seq, std::memory_order_release); }

void ShmAllreduce::markReduced(uint64_t seq) { flags(rank_).reduced.store(seq, std::memory_order_release); }

void ShmAllreduce::waitArrived(uint64_t seq) const {
  for (int r = 0; r < size_; ++r) {
    if (r != rank_) waitFor(flags(r).arrived, seq, pauses_, deadline_, r);
  }
}

void ShmAllreduce::waitReduced(uint64_t seq) const {
  for (int r = 0; r < size_; ++r) {
    if (r != rank_) waitFor(flags(r).reduced, seq, pauses_, deadline_, r);
  }
}

void ShmAllreduce::allreduce(void* buf, int64_t count, c10::ScalarType dtype, ReduceOp op,
                             std::chrono::steady_clock::time_point deadline) {
  deadline_ = deadline;
  const auto esize = static_cast<int64_t>(c10::elementSize(dtype));
  if (count == 0) return;
  auto* p = static_cast<uint8_t*>(buf);
  if (count * esize <= direct_max_bytes_) {
    direct(p, count, dtype, op);
    return;
  }
  const int64_t per_chunk = chunk_bytes_ / esize;
  for (int64_t off = 0; off < count; off += per_chunk) {
    chunk(p + off * esize, std::min(per_chunk, count - off), dtype, op);
  }
}

void ShmAllreduce::direct(uint8_t* buf, int64_t count, c10::ScalarType dtype, ReduceOp op) {
  const uint64_t seq = ++seq_;
  const size_t bytes = static_cast<size_t>(count) * c10::elementSize(dtype);
  std::memcpy(slot(seq, rank_), buf, bytes);
  arrive(seq);
  waitArrived(seq);
  reduceTwo(buf, slot(seq, 0), slot(seq, 1), count, dtype, op);
  for (int r = 2; r < size_; ++r) reduceInto(buf, slot(seq, r), count, dtype, op);
}

void ShmAllreduce::chunk(uint8_t* buf, int64_t count, c10::ScalarType dtype, ReduceOp op) {
  const uint64_t seq = ++seq_;
  const auto esize = static_cast<int64_t>(c10::elementSize(dtype));
  // Rank r reduces elements [lo(r), lo(r + 1)); parts start on cache lines.
  const int64_t line = static_cast<int64_t>(kLine) / esize;
  const int64_t part = (count + size_ - 1) / size_ + line - 1;
  const int64_t per = part - part % line;
  auto lo = [&](int r) { return std::min<int64_t>(count, per * r); };
  auto bytesOf = [&](int r) { return static_cast<size_t>((lo(r + 1) - lo(r)) * esize); };
  uint8_t* in = slot(seq, rank_);
  uint8_t* out = slot(seq, size_);

  for (int r = 0; r < size_; ++r) {
    if (r != rank_) streamCopy(in + lo(r) * esize, buf + lo(r) * esize, bytesOf(r));
  }
  arrive(seq);
  waitArrived(seq);

  const int64_t begin = lo(rank_), n = lo(rank_ + 1) - begin;
  if (n > 0) {
    // Inputs in rank order; this rank's own part is still in its tensor. Ranks
    // 0 and 1 accumulate in place in their tensor; others in a private buffer,
    // since their own input is read only later.
    uint8_t* mine = buf + begin * esize;
    auto src = [&](int r) -> const uint8_t* { return r == rank_ ? mine : slot(seq, r) + begin * esize; };
    uint8_t* acc = mine;
    if (rank_ >= 2) {
      scratch_.resize(static_cast<size_t>(n * esize));
      acc = scratch_.data();
    }
    reduceTwo(acc, src(0), src(1), n, dtype, op);
    for (int r = 2; r < size_; ++r) reduceInto(acc, src(r), n, dtype, op);
    if (acc != mine) std::memcpy(mine, acc, static_cast<size_t>(n * esize));
    streamCopy(out + begin * esize, mine, static_cast<size_t>(n * esize));
  }
  markReduced(seq);
  waitReduced(seq);

  for (int r = 0; r < size_; ++r) {
    if (r != rank_) std::memcpy(buf + lo(r) * esize, out + lo(r) * esize, bytesOf(r));
  }
}

}  // namespace autoglm::comm::mpi
