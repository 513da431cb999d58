#pragma once
// Plain-HTTP absolute-form requests: the upstream connection a client's forwards reuse while
// they go to the same host and port, and one forward exchange on it.

#include "policy/request_decision.hpp"
#include "proxy/session/client_connection.hpp"
#include "proxy/session/exchange.hpp"

#include <optional>
#include <string>

namespace trproxy::proxy {

class ForwardUpstream {
 public:
  explicit ForwardUpstream(ClientConnection& connection);

  // Dials (or reuses) the plan's upstream, sends the rewritten head and relays the exchange;
  // writes the access-log line. Refusals (egress, upstream failures) are answered here.
  net::awaitable<ExchangeResult> forward(beast::tcp_stream& client, beast::flat_buffer& buffer,
                                         const policy::RequestHead& head, const policy::ForwardPlan& plan,
                                         RequestLog line);
  void close();

 private:
  ClientConnection& connection_;
  std::optional<beast::tcp_stream> stream_;
  std::string key_;  // "host:port" the open connection serves
  beast::flat_buffer buffer_;
};

}  // namespace trproxy::proxy
