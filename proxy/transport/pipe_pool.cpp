#include "proxy/transport/pipe_pool.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace trproxy::proxy {

void Pipe::reset() {
  if (read_ >= 0) ::close(read_);
  if (write_ >= 0) ::close(write_);
  read_ = write_ = -1;
}

Pipe PipePool::take() {
  if (!free_.empty()) {
    Pipe pipe = std::move(free_.back());
    free_.pop_back();
    return pipe;
  }
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return {};
  return {fds[0], fds[1]};
}

void PipePool::give(Pipe pipe) {
  if (pipe.valid() && free_.size() < spare_) free_.push_back(std::move(pipe));
}

}  // namespace trproxy::proxy
