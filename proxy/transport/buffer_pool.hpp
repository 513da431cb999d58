#pragma once
// Read buffers' storage, kept per worker (touched only on its thread): a connection that turns
// idle gives its empty buffers' storage here and takes some back when its next bytes arrive, so
// an idle keep-alive connection holds no read buffer while a busy worker allocates none in the
// steady state. A bounded number of spares is kept; the rest is freed.

#include "proxy/transport/io.hpp"

#include <cstddef>
#include <vector>

namespace trproxy::proxy {

class BufferPool {
 public:
  static constexpr std::size_t default_spare = 64;
  // Storage larger than this (a buffer that once held a very large head) is freed, not kept.
  static constexpr std::size_t largest_kept = 64 * 1024;
  explicit BufferPool(std::size_t spare = default_spare) : spare_(spare) {}

  // Takes the storage of `buffer` when it holds no bytes (a buffer with bytes keeps them); the
  // buffer keeps its max_size.
  void release(beast::flat_buffer& buffer);
  // Gives storage to `buffer` when it has none and a spare is left (otherwise its next prepare
  // allocates as usual); the buffer keeps its max_size.
  void lend(beast::flat_buffer& buffer);
  [[nodiscard]] std::size_t spare() const { return free_.size(); }

 private:
  std::size_t spare_;
  std::vector<beast::flat_buffer> free_;
};

}  // namespace trproxy::proxy
