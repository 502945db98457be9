#pragma once
// What travels on the wire besides payloads, shared by the MPI backend's
// sources: the shape header of point-to-point messages and allgatherv, the MPI
// tags, and the int range of MPI counts.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace autoglm::comm::mpi::wire {

constexpr int64_t kMagic = 0x4175746f474c4d31;  // "AutoGLM1"
constexpr int kMaxDims = 8;
constexpr int kHeaderLen = 3 + kMaxDims;
// User tag t uses MPI tags kTagBase + 2t (header) and kTagBase + 2t + 1 (payload),
// clear of the tags the large all-reduce uses (1, 2).
constexpr int kTagBase = 16;
// batchP2P: payloads only, matched in order between each pair.
constexpr int kTagBatch = 3;

// [magic, dtype, dim, sizes...]; throws CommError for more than kMaxDims dimensions.
void writeHeader(const at::Tensor& t, int64_t* h, const char* what);
std::vector<int64_t> headerShape(const int64_t* h);
// `v` as an MPI count; throws CommError naming `what` beyond INT_MAX.
int toInt(int64_t v, const std::string& what);

}  // namespace autoglm::comm::mpi::wire
