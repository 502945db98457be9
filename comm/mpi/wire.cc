#include "comm/mpi/wire.h"

#include <climits>

#include "core/error.h"

namespace autoglm::comm::mpi::wire {

using autoglm::detail::concat;

void writeHeader(const at::Tensor& t, int64_t* h, const char* what) {
  if (t.dim() > kMaxDims) {
    throw CommError(concat(what, ": tensor has ", t.dim(), " dimensions, at most ", kMaxDims,
                           " are supported"));
  }
  h[0] = kMagic;
  h[1] = static_cast<int64_t>(t.scalar_type());
  h[2] = t.dim();
  for (int i = 0; i < kMaxDims; ++i) h[3 + i] = i < t.dim() ? t.size(i) : 0;
}

std::vector<int64_t> headerShape(const int64_t* h) {
  return std::vector<int64_t>(h + 3, h + 3 + h[2]);
}

int toInt(int64_t v, const std::string& what) {
  if (v > INT_MAX) {
    throw CommError(concat(what, ": ", v, " exceeds the MPI count limit ", INT_MAX,
                           "; split the tensor"));
  }
  return static_cast<int>(v);
}

}  // namespace autoglm::comm::mpi::wire
