#pragma once
// What a listener does after a failed accept. Errors that last until a resource frees up
// (EMFILE, ENFILE, ENOBUFS, ENOMEM) fail again at once while the connection waits in the
// backlog, so retrying at once spins a core: the admin listener did, at 100% of one, under a
// lowered descriptor limit (bench/soak.py's "descriptor limit" fault found it). The listener
// pauses instead, logs the first pause of an episode and its end (not every pause: a
// sustained shortage would write ten lines a second), and counts each pause for /metrics.

#include "proxy/observe/metrics.hpp"
#include "proxy/transport/io.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace trproxy::proxy {

inline constexpr auto accept_pause_length = std::chrono::milliseconds(100);

// An accept error that only a freed resource ends, so retrying at once would spin.
bool is_resource_exhaustion(const error_code& ec);

class AcceptPause {
 public:
  // `listener` names it in the log ("proxy 127.0.0.1:3128", "admin ..."); `pauses` counts.
  AcceptPause(const net::any_io_executor& executor, std::string listener, Counter& pauses);

  // After a failed accept: waits out one pause if the error is exhaustion, else returns at once.
  net::awaitable<void> after_error(const error_code& ec);
  // After a successful accept: ends a pause episode, logging how long it lasted.
  void accepted();

 private:
  net::steady_timer timer_;
  std::string listener_;
  Counter& pauses_;
  std::uint64_t episode_pauses_ = 0;
  std::chrono::steady_clock::time_point episode_started_;
};

}  // namespace trproxy::proxy
