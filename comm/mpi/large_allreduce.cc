#include "comm/mpi/large_allreduce.h"

#include <c10/core/ScalarType.h>

#include <algorithm>

#include "comm/mpi/check.h"
#include "comm/mpi/datatype.h"
#include "comm/mpi/request.h"
#include "comm/reduce_kernels.h"

namespace autoglm::comm::mpi {

void chunkedAllreduce(void* buf, int64_t count, c10::ScalarType dtype, MPI_Datatype type, MPI_Op op,
                      MPI_Comm comm, int64_t chunk_bytes) {
  const int64_t esize = static_cast<int64_t>(c10::elementSize(dtype));
  const int64_t chunk = std::max<int64_t>(1, chunk_bytes / esize);
  auto* p = static_cast<uint8_t*>(buf);
  for (int64_t off = 0; off < count; off += chunk) {
    const int n = static_cast<int>(std::min(chunk, count - off));
    AUTOGLM_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, p + off * esize, n, type, op, comm));
  }
}

void ringAllreduce(void* buf, int64_t count, c10::ScalarType dtype, ReduceOp op, MPI_Comm comm,
                   int64_t chunk_bytes, std::vector<uint8_t>& scratch) {
  int rank = 0, size = 1;
  AUTOGLM_CHECK_MPI(MPI_Comm_rank(comm, &rank));
  AUTOGLM_CHECK_MPI(MPI_Comm_size(comm, &size));
  if (size == 1 || count == 0) return;
  const MPI_Datatype type = mpiDatatype(dtype);
  const int64_t esize = static_cast<int64_t>(c10::elementSize(dtype));
  const int64_t chunk = std::max<int64_t>(1, chunk_bytes / esize);
  auto* base = static_cast<uint8_t*>(buf);
  const int64_t seg = (count + size - 1) / size;
  auto lo = [&](int s) { return std::min<int64_t>(count, static_cast<int64_t>(s) * seg); };
  auto mod = [size](int x) { return ((x % size) + size) % size; };
  const int next = mod(rank + 1), prev = mod(rank - 1);
  constexpr int kTagReduce = 1, kTagGather = 2;
  scratch.resize(static_cast<size_t>(2 * chunk * esize));
  uint8_t* tmp[2] = {scratch.data(), scratch.data() + chunk * esize};

  // Reduce-scatter: after step s, segment mod(rank - s - 1) holds s + 2 contributions.
  for (int step = 0; step < size - 1; ++step) {
    const int send_seg = mod(rank - step), recv_seg = mod(rank - step - 1);
    const int64_t s_lo = lo(send_seg), s_n = lo(send_seg + 1) - s_lo;
    const int64_t r_lo = lo(recv_seg), r_n = lo(recv_seg + 1) - r_lo;
    const int64_t s_chunks = (s_n + chunk - 1) / chunk, r_chunks = (r_n + chunk - 1) / chunk;
    const int64_t n_chunks = std::max(s_chunks, r_chunks);
    MPI_Request rreq[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    auto post_recv = [&](int64_t k) {
      if (k >= r_chunks) return;
      const int n = static_cast<int>(std::min(chunk, r_n - k * chunk));
      AUTOGLM_CHECK_MPI(MPI_Irecv(tmp[k % 2], n, type, prev, kTagReduce, comm, &rreq[k % 2]));
    };
    post_recv(0);
    for (int64_t k = 0; k < n_chunks; ++k) {
      post_recv(k + 1);
      MPI_Request sreq = MPI_REQUEST_NULL;
      if (k < s_chunks) {
        const int n = static_cast<int>(std::min(chunk, s_n - k * chunk));
        AUTOGLM_CHECK_MPI(MPI_Isend(base + (s_lo + k * chunk) * esize, n, type, next, kTagReduce, comm, &sreq));
      }
      if (k < r_chunks) {
        waitPolitely(rreq[k % 2]);
        const int64_t n = std::min(chunk, r_n - k * chunk);
        reduceInto(base + (r_lo + k * chunk) * esize, tmp[k % 2], n, dtype, op);
      }
      if (sreq != MPI_REQUEST_NULL) waitPolitely(sreq);
    }
  }
  // Allgather: rank owns the fully reduced segment mod(rank + 1).
  for (int step = 0; step < size - 1; ++step) {
    const int send_seg = mod(rank + 1 - step), recv_seg = mod(rank - step);
    const int64_t s_lo = lo(send_seg), s_n = lo(send_seg + 1) - s_lo;
    const int64_t r_lo = lo(recv_seg), r_n = lo(recv_seg + 1) - r_lo;
    for (int64_t off = 0; off < std::max(s_n, r_n); off += chunk) {
      const int sn = static_cast<int>(std::max<int64_t>(0, std::min(chunk, s_n - off)));
      const int rn = static_cast<int>(std::max<int64_t>(0, std::min(chunk, r_n - off)));
      AUTOGLM_CHECK_MPI(MPI_Sendrecv(base + (s_lo + off) * esize, sn, type, next, kTagGather,
                                     base + (r_lo + off) * esize, rn, type, prev, kTagGather, comm,
                                     MPI_STATUS_IGNORE));
    }
  }
}

}  // namespace autoglm::comm::mpi
