#pragma once
// What every request loop shares, the plain listener's and an intercepted connection's: the
// next head's deadlines, the idle mark that the drain and a reload read, and the read itself.
// The caller then asks policy/ what the head becomes.

#include "policy/request_decision.hpp"
#include "proxy/session/client_connection.hpp"
#include "proxy/session/head_reader.hpp"

#include <optional>

namespace trproxy::proxy {

template <class Stream>
class RequestLoop {
 public:
  // `opened`: accept, or the end of the client's TLS handshake (the first head's deadline runs
  // from it). `spares`: the worker's buffers, to hold no read buffer while idle.
  RequestLoop(ClientConnection& connection, Stream& client, beast::flat_buffer& buffer, Clock::time_point opened,
              BufferPool* spares = nullptr)
      : connection_(connection), client_(client), buffer_(buffer), opened_(opened), spares_(spares) {}

  // Before the next head: its deadlines, and the idle mark the drain reads. False when the
  // connection was idle as a drain began: it ends quietly.
  bool start_next() {
    const auto& runtime = connection_.worker.runtime();
    const auto& limits = runtime->config().limits;
    // apps.custom names are stripped like the built-in ones; the snapshot that holds them is kept
    // for the read (only when there are any: no reference count on the common path).
    const auto* custom = runtime->policy->apps().custom_fields();
    custom_names_holder_ = custom == nullptr ? nullptr : runtime;
    scanner_.emplace(policy::ScanLimits{limits.max_head_bytes, limits.max_header_fields, custom});
    deadline_ = next_head_deadline(limits, first_, opened_);
    kept_alive_ = !first_;
    first_ = false;
    // Idle = a kept-alive connection waiting for its next request. A new connection (or a fresh
    // TLS session) is about to send its first one, possibly already buffered where the drain
    // cannot see it: it gets the grace period instead.
    auto& tracked = connection_.tracked;
    tracked.idle = kept_alive_ && buffer_.size() == 0;
    if (tracked.idle && connection_.worker.registry().draining()) return false;
    // Waiting with nothing buffered: the read buffer's storage goes back to the worker until the
    // next bytes arrive.
    if (spares_ != nullptr) spares_->release(buffer_);
    return true;
  }

  // Reads the head into the buffer. Not a coroutine of its own: the loop awaits
  // read_request_head's directly (a coroutine frame per request costs ~1 us here).
  net::awaitable<HeadRead> read() {
    return read_request_head(client_, buffer_, *scanner_, head_, deadline_, started_, spares_);
  }

  // After the read: the connection is busy, not idle.
  void read_done() { connection_.tracked.idle = false; }

  // The answer to a head that timed out or was invalid (408, 400 or 431).
  [[nodiscard]] policy::Refusal refusal_for(HeadRead read, policy::Action action) const {
    const auto error = read == HeadRead::invalid ? std::optional(scanner_->error()) : std::nullopt;
    return policy::broken_head_refusal(error, action);
  }

  [[nodiscard]] policy::RequestHead& head() { return head_; }
  // The head just read came on a kept-alive connection (not the connection's first).
  [[nodiscard]] bool kept_alive() const { return kept_alive_; }

 private:
  ClientConnection& connection_;
  Stream& client_;
  beast::flat_buffer& buffer_;
  Clock::time_point opened_;
  BufferPool* spares_;
  std::optional<policy::RequestScanner> scanner_;
  RuntimePtr custom_names_holder_;
  HeadDeadline deadline_{};
  bool started_ = false;
  policy::RequestHead head_;
  bool first_ = true;
  bool kept_alive_ = false;
};

}  // namespace trproxy::proxy
