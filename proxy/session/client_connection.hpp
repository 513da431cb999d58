#pragma once
// One client connection as the sessions see it: who the client is, the worker it is pinned to,
// its registry entry, and the one way every outcome is logged, counted and (for refusals)
// answered.

#include "policy/action.hpp"
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

struct ClientConnection {
  Services& services;
  Worker& worker;
  ConnectionRegistry::Entry& tracked;
  std::string peer;  // "ip:port"
  config::IpAddress address;
  Clock::time_point accepted = Clock::now();

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
  if (refusal.status != 0) {
    metrics.refused(refusal.status);
    const auto response = error_response(refusal.status, refusal.reason);
    expire_after(stream, connection.config().limits.head_timeout);
    if (!co_await write_text(stream, response)) line.bytes_out += response.size();
  }
  connection.log(line);
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    if (refusal.status != 0) co_await lingering_close(stream);
  }
}

}  // namespace trproxy::proxy
