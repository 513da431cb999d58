#pragma once
// Shared vocabulary of the proxy engine: Asio/Beast aliases and small I/O helpers. Every
// network co_await uses as_tuple: failures are values on the data plane, never exceptions.

#include "config/cidr.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace trproxy::proxy {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

inline constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// "ip:port" of an endpoint, IPv4-mapped addresses shown as IPv4, IPv6 bracketed.
std::string endpoint_string(const tcp::endpoint& endpoint);
// The address a connection arrived on ("10.0.0.5"), or 127.0.0.1 when the socket cannot say.
std::string local_address_text(const tcp::socket& socket);
config::IpAddress to_ip_address(const net::ip::address& address);
net::ip::address to_asio_address(const config::IpAddress& address);

template <class Stream>
net::awaitable<error_code> write_text(Stream& stream, std::string_view text) {
  auto [ec, n] = co_await net::async_write(stream, net::buffer(text.data(), text.size()), use_tuple);
  co_return ec;
}

// Beast's close-on-expiry timer where the stream has one (tcp_stream, TLS over it); a no-op for
// in-memory test streams.
template <class Stream>
void expire_after(Stream& stream, std::chrono::milliseconds timeout) {
  if constexpr (requires { beast::get_lowest_layer(stream).expires_after(timeout); }) {
    beast::get_lowest_layer(stream).expires_after(timeout);
  }
}

template <class Stream>
void expire_never(Stream& stream) {
  if constexpr (requires { beast::get_lowest_layer(stream).expires_never(); }) {
    beast::get_lowest_layer(stream).expires_never();
  }
}

// Bytes a flat_buffer holds, and room to read into without passing its bound (0: bound reached).
inline constexpr std::size_t io_chunk = 16 * 1024;
inline std::string_view view_of(const beast::flat_buffer& buffer) {
  const auto data = buffer.data();
  return {static_cast<const char*>(data.data()), data.size()};
}
inline std::size_t read_room(const beast::flat_buffer& buffer) {
  return std::min(io_chunk, buffer.max_size() - buffer.size());
}

}  // namespace trproxy::proxy
