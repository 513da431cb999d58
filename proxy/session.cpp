#include "proxy/session.hpp"

#include "config/syntax.hpp"
#include "proxy/pac.hpp"
#include "proxy/tunnel.hpp"
#include "tls/client_hello.hpp"

#include <spdlog/spdlog.h>

namespace trproxy::proxy {
namespace {

// A tunnel to an ordinary host waits this long for the client to speak first; after that it
// relays anyway (server-speaks-first protocols).
constexpr auto peek_timeout_other = 3s;

config::IpAddress to_ip_address(const net::ip::address& address) {
  config::IpAddress out;
  if (address.is_v4()) {
    out.bytes[10] = 0xff;
    out.bytes[11] = 0xff;
    const auto v4 = address.to_v4().to_bytes();
    std::copy(v4.begin(), v4.end(), out.bytes.begin() + 12);
  } else {
    const auto v6 = address.to_v6().to_bytes();
    std::copy(v6.begin(), v6.end(), out.bytes.begin());
  }
  return out;
}

bool client_allowed(const config::Config& config, const tcp::socket& socket) {
  error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) return false;
  const auto address = to_ip_address(endpoint.address());
  return std::any_of(config.clients_allow.begin(), config.clients_allow.end(),
                     [&](const config::Cidr& cidr) { return cidr.contains(address); });
}

struct ActiveConnection {
  Metrics& metrics;
  std::int64_t count;
  explicit ActiveConnection(Metrics& m) : metrics(m), count(m.active_connections.fetch_add(1) + 1) {}
  ~ActiveConnection() { metrics.active_connections.fetch_sub(1); }
  ActiveConnection(const ActiveConnection&) = delete;
  ActiveConnection& operator=(const ActiveConnection&) = delete;
};

net::awaitable<void> refuse(beast::tcp_stream& client, ClientContext& context, Action action, int status,
                            std::string_view reason, std::string_view method = {}, std::string_view host = {},
                            std::string_view target = {}) {
  context.services.metrics.refused(status);
  context.services.metrics.connection(action);
  const auto response = error_response(status, reason);
  client.expires_after(context.config().limits.head_timeout);
  co_await write_text(client, response);
  error_code ignored;
  client.socket().shutdown(tcp::socket::shutdown_send, ignored);
  context.log(action, method, host, target, status, 0, response.size(), context.started);
}

net::awaitable<void> serve_pac(beast::tcp_stream& client, const policy::RequestHead& head, ClientContext& context) {
  const auto local_host = [&] {
    error_code ec;
    const auto local = client.socket().local_endpoint(ec);
    return ec ? std::string("127.0.0.1") : local.address().to_string();
  }();
  const auto body = make_pac(context.policy(), pac_host_from(head.host, local_host), context.services.proxy_port);
  std::string response = "HTTP/1.1 200 OK\r\nContent-Type: application/x-ns-proxy-autoconfig\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\nCache-Control: max-age=300\r\nConnection: close\r\n\r\n";
  if (head.method != "HEAD") response += body;
  client.expires_after(context.config().limits.head_timeout);
  co_await write_text(client, response);
  context.services.metrics.connection(Action::pac);
  context.log(Action::pac, head.method, head.host, head.target, 200, head.end, response.size(), context.started);
}

}  // namespace

void ClientContext::log(Action action, std::string_view method, std::string_view host, std::string_view target,
                        int status, std::uint64_t bytes_in, std::uint64_t bytes_out,
                        std::chrono::steady_clock::time_point since) const {
  services.access_log.write(AccessRecord{peer, action, method, host, target, status, bytes_in, bytes_out,
                                         std::chrono::steady_clock::now() - since});
}

bool host_header_names(std::string_view host_header, std::string_view host, std::uint16_t default_port,
                       std::uint16_t connect_port) {
  const auto authority = policy::parse_authority(host_header, default_port, false);
  if (!authority) return false;
  if (authority->port != default_port && authority->port != connect_port) return false;
  return config::normalize_host(authority->host) == config::normalize_host(host);
}

net::awaitable<void> serve_client(tcp::socket socket, Services& services) {
  ClientContext context{services, services.runtime.get(), peer_string(socket)};
  const auto& config = context.config();
  ActiveConnection active(services.metrics);
  beast::tcp_stream client(std::move(socket));
  if (!client_allowed(config, client.socket())) {
    co_await refuse(client, context, Action::deny, 403, "client address not allowed");
    co_return;
  }
  if (static_cast<std::size_t>(active.count) > config.limits.max_connections) {
    co_await refuse(client, context, Action::deny, 503, "too many connections");
    co_return;
  }
  error_code ignored;
  client.socket().set_option(tcp::no_delay(true), ignored);

  beast::flat_buffer buffer(config.limits.max_head_bytes);
  policy::RequestScanner scanner(policy::ScanLimits{config.limits.max_head_bytes, config.limits.max_header_fields});
  policy::RequestHead head;
  const auto read = co_await read_request_head(client, buffer, scanner, head, config.limits, true);
  if (read == HeadRead::closed) co_return;
  if (read == HeadRead::invalid) {
    co_await refuse(client, context, Action::deny, policy::http_status(scanner.error()), policy::describe(scanner.error()));
    co_return;
  }
  switch (head.form) {
    case policy::TargetForm::authority:
      co_await handle_connect(std::move(client), std::move(buffer), head, context);
      co_return;
    case policy::TargetForm::absolute:
      co_await run_forward(std::move(client), std::move(buffer), head, context);
      co_return;
    case policy::TargetForm::origin: {
      const auto path = loggable_path(head.target);
      if ((head.method == "GET" || head.method == "HEAD") && (path == "/proxy.pac" || path == "/wpad.dat")) {
        co_await serve_pac(client, head, context);
      } else {
        co_await refuse(client, context, Action::deny, 400,
                        "this is a proxy: send CONNECT or an absolute-form request", head.method, head.host,
                        head.target);
      }
      co_return;
    }
    case policy::TargetForm::asterisk:
      co_await refuse(client, context, Action::deny, 400, "OPTIONS * is not proxied", head.method, head.host);
      co_return;
  }
}

net::awaitable<void> handle_connect(beast::tcp_stream client, beast::flat_buffer buffer,
                                    const policy::RequestHead& head, ClientContext& context) {
  const auto& config = context.config();
  const std::string connect_host(head.target_authority.host);
  const auto port = head.target_authority.port;
  const auto connect_class = context.policy().hosts().classify(connect_host);
  if (connect_class == policy::HostClass::invalid) {
    co_await refuse(client, context, Action::deny, 400, "host is not a plain ASCII host name", "CONNECT", "-");
    co_return;
  }
  if (connect_class == policy::HostClass::blocked) {
    co_await refuse(client, context, Action::block, 403, "destination blocked by policy", "CONNECT", connect_host);
    co_return;
  }
  if (head.framing != policy::BodyFraming::none) {
    co_await refuse(client, context, Action::deny, 400, "CONNECT with a body", "CONNECT", connect_host);
    co_return;
  }
  buffer.consume(head.end);

  // For an ordinary destination, connect first so that a failure can still be a 502/504.
  std::optional<beast::tcp_stream> upstream;
  if (!policy::is_intercepted(connect_class)) {
    upstream.emplace(client.get_executor());
    if (const auto ec = co_await connect_upstream(*upstream, config, connect_host, port)) {
      const bool timeout = ec == beast::error::timeout;
      context.services.metrics.upstream_failure(timeout ? UpstreamFailure::timeout : UpstreamFailure::connect);
      co_await refuse(client, context, Action::tunnel, timeout ? 504 : 502,
                      timeout ? "upstream connect timed out" : "cannot connect to upstream", "CONNECT", connect_host);
      co_return;
    }
  }
  client.expires_after(config.limits.head_timeout);
  if (co_await write_text(client, "HTTP/1.1 200 Connection established\r\n\r\n")) co_return;

  // Peek at the ClientHello (without consuming it) for the server name.
  const bool sign_in_connect = policy::is_intercepted(connect_class);
  tls::HelloResult hello{tls::HelloStatus::need_more, {}};
  client.expires_after(sign_in_connect ? std::chrono::milliseconds(config.limits.head_timeout)
                                       : std::chrono::milliseconds(peek_timeout_other));
  for (;;) {
    hello = tls::peek_client_hello(detail::view_of(buffer));
    if (hello.status != tls::HelloStatus::need_more) break;
    if (buffer.size() >= tls::max_client_hello_bytes || detail::read_room(buffer) == 0) {
      hello.status = tls::HelloStatus::malformed;
      break;
    }
    auto [ec, n] = co_await client.async_read_some(buffer.prepare(detail::read_room(buffer)), use_tuple);
    buffer.commit(n);
    if (ec && n == 0) {
      if (ec == beast::error::timeout && !sign_in_connect) break;  // silent client: relay as is
      context.log(sign_in_connect ? Action::intercept : Action::tunnel, "CONNECT", connect_host, {}, 200, 0, 0,
                  context.started);
      co_return;
    }
  }
  const auto sni_class =
      hello.status == tls::HelloStatus::sni ? context.policy().hosts().classify(hello.host) : policy::HostClass::other;

  if (policy::is_intercepted(connect_class) || policy::is_intercepted(sni_class)) {
    // Fail closed: a sign-in host is intercepted or nothing happens at all.
    if (hello.status != tls::HelloStatus::sni && hello.status != tls::HelloStatus::no_sni) {
      spdlog::info("{} CONNECT {}: client did not start TLS ({}); closing (fail closed)", context.peer, connect_host,
                   tls::to_string(hello.status));
      context.services.metrics.connection(Action::intercept);
      context.log(Action::intercept, "CONNECT", connect_host, {}, 200, 0, 0, context.started);
      co_return;
    }
    std::string host = config::normalize_host(policy::is_intercepted(sni_class) ? hello.host : connect_host);
    auto host_class = policy::is_intercepted(sni_class) ? sni_class : connect_class;
    if (policy::is_intercepted(sni_class) && policy::is_intercepted(connect_class) &&
        config::normalize_host(connect_host) != host) {
      spdlog::info("{} CONNECT {} with SNI {}: two different sign-in hosts; closing", context.peer, connect_host,
                   hello.host);
      context.log(Action::intercept, "CONNECT", connect_host, {}, 200, 0, 0, context.started);
      co_return;
    }
    upstream.reset();
    const std::uint16_t upstream_port = policy::is_intercepted(connect_class) ? port : 443;
    co_await run_intercept(std::move(client), std::move(buffer), std::move(host), host_class, upstream_port, context);
    co_return;
  }
  if (sni_class == policy::HostClass::blocked) {
    context.services.metrics.connection(Action::block);
    context.log(Action::block, "CONNECT", hello.host, {}, 403, 0, 0, context.started);
    co_return;
  }

  // Blind tunnel: replay what the client already sent, then relay both ways.
  context.services.metrics.connection(Action::tunnel);
  std::uint64_t early = buffer.size();
  if (early > 0) {
    upstream->expires_after(config.limits.idle_timeout);
    auto [ec, n] = co_await net::async_write(*upstream, buffer.data(), use_tuple);
    if (ec) co_return;
    buffer.consume(n);
  }
  const auto totals = co_await relay_tunnel(client, *upstream, config.limits.tunnel_idle_timeout);
  context.log(Action::tunnel, "CONNECT", connect_host, {}, 200, early + totals.client_to_upstream,
              totals.upstream_to_client, context.started);
}

}  // namespace trproxy::proxy
