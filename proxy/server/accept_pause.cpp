#include "proxy/server/accept_pause.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <utility>

namespace trproxy::proxy {

bool is_resource_exhaustion(const error_code& ec) {
  return ec == net::error::no_descriptors || ec == net::error::no_buffer_space || ec == net::error::no_memory ||
         ec.value() == ENFILE;
}

AcceptPause::AcceptPause(const net::any_io_executor& executor, std::string listener, Counter& pauses)
    : timer_(executor), listener_(std::move(listener)), pauses_(pauses) {}

net::awaitable<void> AcceptPause::after_error(const error_code& ec) {
  if (!is_resource_exhaustion(ec)) co_return;  // transient (a client gone before accept): go on
  if (episode_pauses_++ == 0) {
    episode_started_ = std::chrono::steady_clock::now();
    spdlog::warn("accept on {}: {}; pausing accepts {} ms at a time until it clears", listener_, ec.message(),
                 accept_pause_length.count());
  }
  pauses_.add();
  timer_.expires_after(accept_pause_length);
  co_await timer_.async_wait(use_tuple);
}

void AcceptPause::accepted() {
  if (episode_pauses_ == 0) return;
  const auto lasted =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - episode_started_);
  spdlog::info("accept on {}: accepting again after {} pauses ({} ms)", listener_, episode_pauses_, lasted.count());
  episode_pauses_ = 0;
}

}  // namespace trproxy::proxy
