#pragma once
// Shared vocabulary of the proxy engine: Asio/Beast aliases, the process-wide services a
// connection uses, and small I/O helpers. Every network co_await uses as_tuple: failures are
// values on the data plane, never exceptions.

#include "proxy/access_log.hpp"
#include "proxy/metrics.hpp"
#include "proxy/runtime.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace trproxy::proxy {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

inline constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

using TlsStream = net::ssl::stream<beast::tcp_stream>;

// Process-wide state every connection may touch. Outlives all connections.
struct Services {
  RuntimeHolder& runtime;
  Metrics& metrics;
  AccessLog& access_log;
  std::atomic<bool>& draining;
  std::uint16_t proxy_port;  // the first proxy listener's port, for PAC files
};

// A short plain-text error response that closes the connection.
std::string error_response(int status, std::string_view reason);
std::string_view status_text(int status);

// Where to connect for host:port: the upstream.resolve override, or DNS.
net::awaitable<std::pair<error_code, tcp::resolver::results_type>> resolve_upstream(const config::Config& config,
                                                                                 std::string_view host,
                                                                                 std::uint16_t port);

// Connects with the configured timeout. A timeout yields beast::error::timeout.
net::awaitable<error_code> connect_upstream(beast::tcp_stream& stream, const config::Config& config,
                                            std::string_view host, std::uint16_t port);

// "ip:port" of a socket's peer, for logs.
std::string peer_string(const tcp::socket& socket);

template <class Stream>
net::awaitable<error_code> write_text(Stream& stream, std::string_view text) {
  auto [ec, n] = co_await net::async_write(stream, net::buffer(text.data(), text.size()), use_tuple);
  co_return ec;
}

inline void set_timeout(beast::tcp_stream& stream, std::chrono::milliseconds timeout) { stream.expires_after(timeout); }
inline void set_timeout(TlsStream& stream, std::chrono::milliseconds timeout) {
  beast::get_lowest_layer(stream).expires_after(timeout);
}

}  // namespace trproxy::proxy
