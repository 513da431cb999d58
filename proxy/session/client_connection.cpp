#include "proxy/session/client_connection.hpp"

#include "policy/transparent.hpp"

#include <array>

namespace trproxy::proxy {

void ClientConnection::log(const RequestLog& line) {
  services.metrics.request(line.action, line.bytes_in, line.bytes_out, !logged);
  if (transparent && !logged) {
    services.metrics.transparent_flow(
        policy::transparent_action(line.action, line.status, !line.reason.empty(), line.bytes_out));
  }
  logged = true;
  services.access_log.write(line, peer, config().log.format, transparent ? Entry::transparent : Entry::proxy);
}

// The allow-list, the connection limit and the client's share of it; false when refused.
net::awaitable<bool> admit(ClientConnection& connection, beast::tcp_stream& client, policy::ClientLoad load) {
  const auto refused = policy::admit_client(connection.config(), connection.address, load);
  if (!refused) co_return true;
  connection.services.metrics.connection_refused(*refused);
  const auto refusal = policy::admission_refusal(*refused);
  RequestLog line;
  co_await refuse(client, connection, refusal, line);
  co_return false;
}

net::awaitable<void> lingering_close(beast::tcp_stream& stream) {
  constexpr auto linger_time = std::chrono::milliseconds(500);
  constexpr std::size_t linger_bytes = 64 * 1024;
  error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  std::array<char, 4096> sink;
  std::size_t dropped = 0;
  stream.expires_after(linger_time);
  while (dropped < linger_bytes) {
    auto [read_ec, n] = co_await stream.async_read_some(net::buffer(sink), use_tuple);
    dropped += n;
    if (read_ec) break;
  }
}

policy::Refusal head_refusal(policy::HeadError error, policy::Action action) {
  return policy::Refusal{policy::http_status(error), action, std::string(policy::describe(error))};
}

}  // namespace trproxy::proxy
