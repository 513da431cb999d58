#pragma once
// Kernel pipes for splice(2) tunnels, kept per worker (touched only on its thread): a tunnel
// direction takes one when bytes arrive and gives it back once it has drained, so an idle tunnel
// holds no pipe. A few empty pipes are kept for reuse (two syscalls saved per burst); the rest
// are closed.

#include <cstddef>
#include <utility>
#include <vector>

namespace trproxy::proxy {

// Both ends of one pipe; closes them when destroyed. Empty (fds -1) when pipe2 failed.
class Pipe {
 public:
  Pipe() = default;
  Pipe(int read_end, int write_end) : read_(read_end), write_(write_end) {}
  ~Pipe() { reset(); }
  Pipe(Pipe&& other) noexcept : read_(std::exchange(other.read_, -1)), write_(std::exchange(other.write_, -1)) {}
  Pipe& operator=(Pipe&& other) noexcept {
    if (this != &other) {
      reset();
      read_ = std::exchange(other.read_, -1);
      write_ = std::exchange(other.write_, -1);
    }
    return *this;
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  [[nodiscard]] bool valid() const { return read_ >= 0; }
  [[nodiscard]] int read_end() const { return read_; }
  [[nodiscard]] int write_end() const { return write_; }
  void reset();

 private:
  int read_ = -1;
  int write_ = -1;
};

class PipePool {
 public:
  static constexpr std::size_t default_spare = 16;
  explicit PipePool(std::size_t spare = default_spare) : spare_(spare) {}

  // A pipe from the pool or a new one (non-blocking, close-on-exec); invalid when the process is
  // out of descriptors.
  Pipe take();
  // Returns a pipe that holds no bytes (a pipe with bytes left in it must be dropped instead).
  void give(Pipe pipe);
  [[nodiscard]] std::size_t spare() const { return free_.size(); }

 private:
  std::size_t spare_;
  std::vector<Pipe> free_;
};

}  // namespace trproxy::proxy
