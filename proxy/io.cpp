#include "proxy/io.hpp"

#include "config/syntax.hpp"

namespace trproxy::proxy {

std::string_view status_text(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 421: return "Misdirected Request";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error";
  }
}

std::string error_response(int status, std::string_view reason) {
  std::string body = std::to_string(status) + " " + std::string(status_text(status)) + ": " + std::string(reason) + "\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(status_text(status)) +
         "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n" + body;
}

net::awaitable<std::pair<error_code, tcp::resolver::results_type>> resolve_upstream(const config::Config& config,
                                                                                 std::string_view host,
                                                                                 std::uint16_t port) {
  auto executor = co_await net::this_coro::executor;
  tcp::resolver resolver(executor);
  const auto& overrides = config.upstream.resolve;
  if (const auto it = overrides.find(config::normalize_host(host)); it != overrides.end()) {
    auto [ec, results] = co_await resolver.async_resolve(it->second.host, std::to_string(it->second.port),
                                                         tcp::resolver::numeric_host | tcp::resolver::numeric_service,
                                                         use_tuple);
    co_return std::pair{ec, results};
  }
  auto [ec, results] = co_await resolver.async_resolve(std::string(host), std::to_string(port),
                                                       tcp::resolver::numeric_service, use_tuple);
  co_return std::pair{ec, results};
}

net::awaitable<error_code> connect_upstream(beast::tcp_stream& stream, const config::Config& config,
                                            std::string_view host, std::uint16_t port) {
  stream.expires_after(config.upstream.connect_timeout);
  auto [resolve_ec, endpoints] = co_await resolve_upstream(config, host, port);
  if (resolve_ec) co_return resolve_ec;
  auto [ec, endpoint] = co_await stream.async_connect(endpoints, use_tuple);
  if (!ec) stream.socket().set_option(tcp::no_delay(true), ec);
  co_return ec;
}

std::string peer_string(const tcp::socket& socket) {
  error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  const auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6()).to_string() + ":" + std::to_string(endpoint.port());
  }
  return address.is_v6() ? "[" + address.to_string() + "]:" + std::to_string(endpoint.port())
                         : address.to_string() + ":" + std::to_string(endpoint.port());
}

}  // namespace trproxy::proxy
