#include "proxy/session/client_connection.hpp"

#include <array>

namespace trproxy::proxy {

void ClientConnection::log(const RequestLog& line) {
  services.metrics.request(line.action, line.bytes_in, line.bytes_out, !logged);
  logged = true;
  services.access_log.write(line, peer, config().log.format);
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
