// The MPI backend's point-to-point operations: send (header and payload as two
// Isends completed by the communication thread's polling), recv, batchP2P.

#include <ATen/Functions.h>
#include <c10/core/ScalarType.h>

#include "comm/mpi/check.h"
#include "comm/mpi/communicator.h"
#include "comm/mpi/wire.h"
#include "core/error.h"

namespace autoglm::comm::mpi {

using autoglm::detail::concat;
using namespace wire;

void MpiCommunicator::pollSends(bool block) {
  std::vector<PendingSend> pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending.swap(sends_);
  }
  if (pending.empty()) return;
  std::vector<PendingSend> left;
  for (auto& s : pending) {
    int done = 0;
    try {
      if (block) {
        AUTOGLM_CHECK_MPI(MPI_Waitall(static_cast<int>(s.reqs.size()), s.reqs.data(), MPI_STATUSES_IGNORE));
        done = 1;
      } else {
        AUTOGLM_CHECK_MPI(MPI_Testall(static_cast<int>(s.reqs.size()), s.reqs.data(), &done, MPI_STATUSES_IGNORE));
      }
    } catch (...) {
      observeComplete(*s.work, false);
      s.work->fail(std::current_exception());
      continue;
    }
    if (done) {
      observeComplete(*s.work, true);
      s.work->finish({});
    } else {
      left.push_back(std::move(s));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& s : left) sends_.push_back(std::move(s));
}

std::shared_ptr<Work> MpiCommunicator::send(const at::Tensor& tensor, int dst, const SendOptions& opts) {
  comm::detail::checkTensor(tensor, c10::DeviceType::CPU, *this, "send");
  comm::detail::checkPeer(dst, *this, "send");
  comm::detail::checkTag(opts.tag, kMaxTag, *this, "send");
  PendingSend s;
  s.work = std::make_shared<Work>(info(OpType::kSend, &tensor, opts.timeout, nextSeq(), -1, dst));
  s.keep_alive = {tensor};
  s.reqs.assign(2, MPI_REQUEST_NULL);
  s.header.reset(new int64_t[kHeaderLen]);
  writeHeader(tensor, s.header.get(), "send");
  const int bytes = toInt(tensor.nbytes(), "send bytes");
  AUTOGLM_CHECK_MPI(MPI_Isend(s.header.get(), kHeaderLen, MPI_INT64_T, dst, kTagBase + 2 * opts.tag,
                              comm_, &s.reqs[0]));
  AUTOGLM_CHECK_MPI(MPI_Isend(tensor.data_ptr(), bytes, MPI_BYTE, dst, kTagBase + 2 * opts.tag + 1,
                              comm_, &s.reqs[1]));
  auto work = s.work;
  addPending(std::move(s));
  return work;
}

std::shared_ptr<Work> MpiCommunicator::recv(int src, const RecvOptions& opts) {
  comm::detail::checkPeer(src, *this, "recv");
  comm::detail::checkTag(opts.tag, kMaxTag, *this, "recv");
  const int tag = opts.tag;
  WorkInfo wi = info(OpType::kRecv, nullptr, opts.timeout, nextSeq(), -1, src);
  const uint64_t seq = wi.seq;
  return enqueue(std::move(wi), [this, src, tag, seq]() {
    int64_t h[kHeaderLen];
    AUTOGLM_CHECK_MPI(MPI_Recv(h, kHeaderLen, MPI_INT64_T, src, kTagBase + 2 * tag, comm_, MPI_STATUS_IGNORE));
    if (h[0] != kMagic || h[2] < 0 || h[2] > kMaxDims ||
        !isSupportedDtype(static_cast<c10::ScalarType>(h[1]))) {
      throw CommError(comm::detail::opPrefix(*this, "recv", seq) +
                      concat("from rank ", src, " tag ", tag, ": malformed header (not sent by Communicator::send?)"));
    }
    at::Tensor t = at::empty(headerShape(h), at::TensorOptions().dtype(static_cast<c10::ScalarType>(h[1])));
    AUTOGLM_CHECK_MPI(MPI_Recv(t.data_ptr(), toInt(t.nbytes(), "recv bytes"), MPI_BYTE, src,
                               kTagBase + 2 * tag + 1, comm_, MPI_STATUS_IGNORE));
    return std::vector<at::Tensor>{t};
  });
}

std::shared_ptr<Work> MpiCommunicator::batchP2P(const std::vector<P2POp>& ops, const P2POptions& opts) {
  checkUsable("batchP2P");
  for (const auto& op : ops) {
    comm::detail::checkTensor(op.tensor, c10::DeviceType::CPU, *this, "batchP2P");
    comm::detail::checkPeer(op.peer, *this, "batchP2P");
  }
  int64_t send_bytes = 0;
  for (const auto& op : ops) send_bytes += op.kind == P2POp::Kind::kSend ? static_cast<int64_t>(op.tensor.nbytes()) : 0;
  PendingSend s;
  s.work = std::make_shared<Work>(info(OpType::kBatchP2P, nullptr, opts.timeout, nextSeq(), send_bytes));
  s.reqs.assign(ops.size(), MPI_REQUEST_NULL);
  for (size_t i = 0; i < ops.size(); ++i) {
    const P2POp& op = ops[i];
    s.keep_alive.push_back(op.tensor);
    const int bytes = toInt(op.tensor.nbytes(), "batchP2P bytes");
    if (op.kind == P2POp::Kind::kSend) {
      AUTOGLM_CHECK_MPI(MPI_Isend(op.tensor.data_ptr(), bytes, MPI_BYTE, op.peer, kTagBatch, comm_, &s.reqs[i]));
    } else {
      AUTOGLM_CHECK_MPI(MPI_Irecv(op.tensor.data_ptr(), bytes, MPI_BYTE, op.peer, kTagBatch, comm_, &s.reqs[i]));
    }
  }
  auto work = s.work;
  addPending(std::move(s));
  return work;
}

void MpiCommunicator::addPending(PendingSend s) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    sends_.push_back(std::move(s));
    new_send_ = true;
  }
  cv_.notify_all();
}

}  // namespace autoglm::comm::mpi
