#pragma once
// One client connection as the sessions see it: who the client is, the worker it is pinned to,
// its registry entry, and the one way every outcome is logged, counted and (for refusals)
// answered.

#include "policy/action.hpp"
#include "policy/admission.hpp"
#include "policy/http_head.hpp"
#include "proxy/observe/access_record.hpp"
#include "proxy/session/respond.hpp"
#include "proxy/transport/io.hpp"
#include "proxy/worker/registry.hpp"
#include "proxy/worker/services.hpp"
#include "proxy/worker/worker.hpp"

#include <string>
#include <type_traits>

namespace trproxy::proxy {

// The connection's share of its worker's load (counted by the acceptor when it handed the
// socket over, so back-to-back accepts see it) and of the active connections, until it ends.
struct LoadShare {
  std::atomic<std::size_t>& load;
  std::atomic<std::int64_t>& all_active;
  std::int64_t active;
  LoadShare(Worker& worker, std::atomic<std::int64_t>& active_connections)
      : load(worker.load()), all_active(active_connections), active(all_active.fetch_add(1) + 1) {}
  ~LoadShare() {
    load.fetch_sub(1, std::memory_order_relaxed);
    all_active.fetch_sub(1);
  }
  LoadShare(const LoadShare&) = delete;
  LoadShare& operator=(const LoadShare&) = delete;
};

struct ClientConnection {
  Services& services;
  Worker& worker;
  ConnectionRegistry::Entry& tracked;
  std::string peer;  // "ip:port"
  config::IpAddress address;
  Clock::time_point accepted = Clock::now();
  // A flow from a transparent listener (DESIGN.md, "Transparent mode"): the client never asked
  // for a proxy, so nothing is answered before its TLS (a refusal just closes), and its lines
  // say entry=transparent.
  bool transparent = false;

  // The configuration current now on this worker (DESIGN: policy applies per request).
  [[nodiscard]] const Runtime& runtime() const { return *worker.runtime(); }
  [[nodiscard]] const config::Config& config() const { return runtime().config(); }

  // Writes the access-log line (in the current log.format) and counts it: requests and bytes by
  // action, and the connection by the action of its first line.
  void log(const RequestLog& line);
  bool logged = false;  // a line was written for this connection
};

// After an error response on a plain connection: send FIN, then read and drop what the client
// is still sending for a moment (bounded), so closing with unread bytes does not turn into a
// TCP reset that could destroy the response before the client reads it (nginx's lingering close).
net::awaitable<void> lingering_close(beast::tcp_stream& stream);

// The refusal for a head the scanner rejected (400 or 431 with the scanner's one-line reason).
policy::Refusal head_refusal(policy::HeadError error, policy::Action action);

// The one error responder: writes `refusal` (a status of 0 writes nothing: the connection is
// just closed), counts it (and the egress rule behind it) and writes the access-log line with its reason.
// Both arguments are named objects of the caller, never temporaries: GCC 12 destroys some
// temporaries of a co_await expression twice.
template <class Stream>
net::awaitable<void> refuse(Stream& stream, ClientConnection& connection, const policy::Refusal& refusal,
                            RequestLog& line) {
  auto& metrics = connection.services.metrics;
  line.action = refusal.action;
  line.status = refusal.status;
  line.reason = refusal.reason;
  if (refusal.egress_rule) metrics.egress_refusal(*refusal.egress_rule);
  // A transparent client speaks TLS (or another protocol) from its first byte: no HTTP answer.
  const bool answer = refusal.status != 0 && !(connection.transparent && std::is_same_v<Stream, beast::tcp_stream>);
  if (!answer) line.status = 0;
  if (answer) {
    metrics.refused(refusal.status);
    const auto response = error_response(refusal.status, refusal.reason);
    expire_after(stream, connection.config().limits.head_timeout);
    if (!co_await write_text(stream, response)) line.bytes_out += response.size();
  }
  connection.log(line);
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    if (answer) co_await lingering_close(stream);
  }
}

// The allow-list, the connection limit and the client's share of it; false when refused.
net::awaitable<bool> admit(ClientConnection& connection, beast::tcp_stream& client, policy::ClientLoad load);

}  // namespace trproxy::proxy
