#pragma once
// A client connection on the proxy listener, from accept to close.

#include "policy/http_head.hpp"
#include "proxy/exchange.hpp"
#include "proxy/io.hpp"

#include <string>

namespace trproxy::proxy {

// Everything a connection's handlers share: who the client is and which snapshot it uses.
struct ClientContext {
  Services& services;
  RuntimePtr runtime;
  std::string peer;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  [[nodiscard]] const config::Config& config() const { return runtime->config(); }
  [[nodiscard]] const policy::Policy& policy() const { return *runtime->policy; }
  void log(Action action, std::string_view method, std::string_view host, std::string_view target, int status,
           std::uint64_t bytes_in, std::uint64_t bytes_out,
           std::chrono::steady_clock::time_point since) const;
};

net::awaitable<void> serve_client(tcp::socket socket, Services& services);

enum class HeadRead { complete, closed, invalid };

// Reads one request head into `buffer` (bounded by its max_size). `first` applies the head
// timeout even before the first byte (a silent new client), otherwise the idle timeout.
template <class Stream>
net::awaitable<HeadRead> read_request_head(Stream& stream, beast::flat_buffer& buffer, policy::RequestScanner& scanner,
                                           policy::RequestHead& head, const config::Limits& limits, bool first) {
  scanner.reset();
  for (;;) {
    if (buffer.size() > 0) {
      const auto status = scanner.scan(detail::view_of(buffer), head);
      if (status == policy::ScanStatus::complete) co_return HeadRead::complete;
      if (status == policy::ScanStatus::error) co_return HeadRead::invalid;
    }
    set_timeout(stream, (first || buffer.size() > 0) ? limits.head_timeout : limits.idle_timeout);
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(detail::read_room(buffer)), use_tuple);
    buffer.commit(n);
    if (ec && n == 0) co_return HeadRead::closed;
  }
}

// The CONNECT flow: classify, answer 200, peek the ClientHello, then intercept or tunnel.
net::awaitable<void> handle_connect(beast::tcp_stream client, beast::flat_buffer buffer,
                                    const policy::RequestHead& head, ClientContext& context);

// TLS-terminates a sign-in host and runs the request loop on it.
net::awaitable<void> run_intercept(beast::tcp_stream client, beast::flat_buffer buffer, std::string host,
                                   policy::HostClass host_class, std::uint16_t port, ClientContext& context);

// Plain-HTTP absolute-form requests, for as long as the client keeps the connection.
net::awaitable<void> run_forward(beast::tcp_stream client, beast::flat_buffer buffer, policy::RequestHead head,
                                 ClientContext& context);

// Whether a Host header value names `host` (case-insensitive, trailing dot and a default or
// the connection's port ignored).
bool host_header_names(std::string_view host_header, std::string_view host, std::uint16_t default_port,
                       std::uint16_t connect_port);

}  // namespace trproxy::proxy
