#include "proxy/session/client_session.hpp"

#include "policy/admission.hpp"
#include "policy/pac.hpp"
#include "policy/proxy_protocol.hpp"
#include "policy/request_decision.hpp"
#include "proxy/session/client_connection.hpp"
#include "proxy/session/connect.hpp"
#include "proxy/session/forward.hpp"
#include "proxy/session/head_reader.hpp"
#include "proxy/session/proxy_header.hpp"
#include "proxy/session/request_loop.hpp"
#include "tls/client_hello.hpp"

#include <algorithm>
#include <optional>

namespace trproxy::proxy {
namespace {

constexpr const char* untrusted_proxy_header_reason = "PROXY protocol header from a peer not in proxy_protocol.trusted";

net::awaitable<void> serve_pac(beast::tcp_stream& client, ClientConnection& connection, const policy::RequestHead& head,
                               std::string_view bytes, RequestLog line) {
  const auto pac_host = policy::pac_host_from(head.host.in(bytes), local_address_text(client.socket()));
  const auto body = policy::make_pac(*connection.runtime().policy, pac_host, connection.services.proxy_port);
  std::string response = "HTTP/1.1 200 OK\r\nContent-Type: " + std::string(policy::pac_content_type) +
                         "\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\nCache-Control: " + std::string(policy::pac_cache_control) + "\r\n\r\n";
  if (!head.method_head) response += body;
  expire_after(client, connection.config().limits.head_timeout);
  const auto write_ec = co_await write_text(client, response);
  line.action = policy::Action::pac;
  line.status = 200;
  line.bytes_in = head.end;
  line.bytes_out = write_ec ? 0 : response.size();
  connection.log(line);
}

// A CONNECT that ends the plain request loop: where it goes and its access-log line so far.
struct ConnectHandoff {
  policy::ConnectTarget target;
  RequestLog line;
};

// The plain-connection request loop. Returns the CONNECT that takes the connection over, if
// one does. Its own frame (head, scanner, the forward upstream) is gone before the tunnel or
// the interception runs, so a long-lived connection does not carry it. `balanced`: the
// connection came from a proxy_protocol.trusted peer (its header is already consumed).
net::awaitable<std::optional<ConnectHandoff>> serve_requests(ClientConnection& connection, beast::tcp_stream& client,
                                                             beast::flat_buffer& buffer, bool balanced) {
  auto& worker = connection.worker;
  ForwardUpstream upstream(connection);
  RequestLoop loop(connection, client, buffer, connection.accepted);
  const auto& head = loop.head();
  for (;;) {
    RequestLog line;
    if (!loop.start_next()) break;
    const auto read = co_await loop.read();
    loop.read_done();
    if (read == HeadRead::closed) break;
    if (!loop.kept_alive() && !balanced && policy::starts_like_proxy_header(view_of(buffer))) {
      const policy::Refusal refusal{400, policy::Action::deny, untrusted_proxy_header_reason};
      co_await refuse(client, connection, refusal, line);
      break;
    }
    if (read == HeadRead::timed_out || read == HeadRead::invalid) {
      const auto refusal = loop.refusal_for(read, policy::Action::deny);
      line.bytes_in = buffer.size();  // what was read of the head, counted though refused
      co_await refuse(client, connection, refusal, line);
      break;
    }
    const auto bytes = view_of(buffer);
    line.bytes_in = head.end;
    line.method = head.method.in(bytes);
    // A CONNECT's target is its authority (the host field says it): it has no path.
    if (head.form != policy::TargetForm::authority) line.target = head.target.in(bytes);
    line.host = head.form == policy::TargetForm::origin ? head.host.in(bytes) : head.authority_host.in(bytes);
    // Each request is decided with the configuration current now (DESIGN: per request).
    const auto& policy = *connection.runtime().policy;
    auto plan = policy::plan_plain_request(policy, head, bytes, policy.profile_for(connection.address));
    if (auto* refusal = std::get_if<policy::Refusal>(&plan)) {
      co_await refuse(client, connection, *refusal, line);
      break;
    }
    if (std::holds_alternative<policy::PacPlan>(plan)) {
      co_await serve_pac(client, connection, head, bytes, std::move(line));
      buffer.consume(head.end);
      if (!head.keep_alive || worker.registry().draining()) break;
      continue;
    }
    if (auto* target = std::get_if<policy::ConnectTarget>(&plan)) {
      upstream.close();
      buffer.consume(head.end);
      line.method = "CONNECT";
      line.target.clear();
      std::optional<ConnectHandoff> handoff;  // named: no temporary in the co_return (GCC 12)
      handoff.emplace(ConnectHandoff{std::move(*target), std::move(line)});
      co_return handoff;
    }
    const auto result =
        co_await upstream.forward(client, buffer, head, std::get<policy::ForwardPlan>(plan), std::move(line));
    if (!result.client_reusable || worker.registry().draining()) break;
  }
  upstream.close();
  co_return std::nullopt;
}

// A connection from a proxy_protocol.trusted load balancer: its PROXY header names the client
// that clients.allow, profiles and the logs then see. False when the connection is over
// (refused, or closed before a header came).
net::awaitable<bool> take_proxy_header(beast::tcp_stream& client, ClientConnection& connection,
                                       beast::flat_buffer& buffer) {
  const auto& limits = connection.config().limits;
  const auto deadline = connection.accepted + limits.head_timeout;
  const auto outcome = co_await read_proxy_header(client, buffer, limits.max_head_bytes, deadline);
  RequestLog line;
  switch (outcome.read) {
    case HeadRead::closed: co_return false;  // e.g. a balancer's TCP health check
    case HeadRead::timed_out: {
      const policy::Refusal refusal{408, policy::Action::deny, "PROXY protocol header not received in time"};
      co_await refuse(client, connection, refusal, line);
      co_return false;
    }
    case HeadRead::invalid: {
      const auto reason = "bad PROXY protocol header: " + std::string(outcome.header.reason);
      const policy::Refusal refusal{400, policy::Action::deny, reason};
      co_await refuse(client, connection, refusal, line);
      co_return false;
    }
    case HeadRead::complete: break;
  }
  if (outcome.header.client) {
    connection.address = *outcome.header.client;
    const tcp::endpoint named(to_asio_address(connection.address), outcome.header.client_port);
    connection.peer = endpoint_string(named);
  }
  co_return true;
}

}  // namespace

net::awaitable<void> serve_client(tcp::socket socket, Services& services, Worker& worker) {
  LoadShare share(worker, services.active_connections);
  error_code ec;
  const auto peer_endpoint = socket.remote_endpoint(ec);
  if (ec) co_return;  // already gone
  ConnectionRegistry::Registration registration(worker.registry(), socket.native_handle());
  ClientConnection connection{services, worker, *registration, endpoint_string(peer_endpoint),
                              to_ip_address(peer_endpoint.address())};
  beast::tcp_stream client(std::move(socket));
  // Room for a request head (the scanner enforces limits.max_head_bytes) or, after a CONNECT, a
  // whole ClientHello (DESIGN: read whole up to 64 KiB).
  beast::flat_buffer buffer(std::max(connection.config().limits.max_head_bytes, tls::max_client_hello_wire_bytes));
  // Behind a trusted balancer the PROXY header names the client that admit() then judges.
  const bool balanced = connection.config().proxy_protocol.trusts(connection.address);
  if (balanced && !co_await take_proxy_header(client, connection, buffer)) co_return;
  // Counted by the address admit() judges: behind a balancer, the client the header named.
  const ClientShares::Share client_share(services.client_shares, connection.address);
  const policy::ClientLoad load{static_cast<std::size_t>(share.active), client_share.open()};
  if (!co_await admit(connection, client, load)) co_return;
  client.socket().set_option(tcp::no_delay(true), ec);

  auto handoff = co_await serve_requests(connection, client, buffer, balanced);
  if (handoff) {
    co_await run_connect(connection, client, buffer, std::move(handoff->target), std::move(handoff->line));
    co_return;
  }
  client.socket().shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace trproxy::proxy
