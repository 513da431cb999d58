#include "proxy/transport/buffer_pool.hpp"

#include <utility>

namespace trproxy::proxy {

void BufferPool::release(beast::flat_buffer& buffer) {
  if (buffer.size() != 0 || buffer.capacity() == 0) return;
  const auto limit = buffer.max_size();
  if (free_.size() < spare_ && buffer.capacity() <= largest_kept) {
    free_.emplace_back(std::move(buffer));  // the storage moves; `buffer` is left with none
  } else {
    buffer.shrink_to_fit();  // holds nothing: frees the storage
  }
  buffer.max_size(limit);
}

void BufferPool::lend(beast::flat_buffer& buffer) {
  if (buffer.capacity() != 0 || free_.empty()) return;
  const auto limit = buffer.max_size();
  buffer = std::move(free_.back());  // empty: release() keeps only buffers that hold nothing
  free_.pop_back();
  buffer.max_size(limit);
}

}  // namespace trproxy::proxy
