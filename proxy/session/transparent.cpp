#include "proxy/session/transparent.hpp"

#include "policy/transparent.hpp"
#include "proxy/session/client_connection.hpp"
#include "proxy/session/connect.hpp"
#include "proxy/transport/transparent_socket.hpp"
#include "tls/client_hello.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace trproxy::proxy {
namespace {

std::optional<policy::OriginalDestination> original_destination(tcp::socket& socket, config::TransparentMethod method) {
  std::optional<tcp::endpoint> destination;
  if (method == config::TransparentMethod::redirect) {
    destination = redirected_destination(socket);
  } else {
    error_code ec;
    destination = socket.local_endpoint(ec);  // tproxy: the flow kept its destination
    if (ec) destination.reset();
  }
  if (!destination) return std::nullopt;
  return policy::OriginalDestination{to_ip_address(destination->address()), destination->port()};
}

// The loop rules, and (for a flow from this machine) whether it is one of the proxy's own
// upstream connections that a rule without the mark exemption sent back.
policy::TransparentLoop loop_of(const std::optional<policy::OriginalDestination>& destination, const Services& services,
                                const tcp::endpoint& peer) {
  const auto loop = policy::check_transparent_destination(destination, services.self);
  if (loop != policy::TransparentLoop::none) return loop;
  const auto& self = services.self;
  if (self.is_local_address && self.is_local_address(to_ip_address(peer.address())) && is_own_connection(peer)) {
    return policy::TransparentLoop::own_connection;
  }
  return loop;
}

}  // namespace

net::awaitable<void> serve_transparent(tcp::socket socket, Services& services, Worker& worker) {
  LoadShare share(worker, services.active_connections);
  error_code ec;
  const auto peer_endpoint = socket.remote_endpoint(ec);
  if (ec) co_return;  // already gone
  ConnectionRegistry::Registration registration(worker.registry(), socket.native_handle());
  ClientConnection connection{services, worker, *registration, endpoint_string(peer_endpoint),
                              to_ip_address(peer_endpoint.address())};
  connection.transparent = true;
  const auto method = connection.config().transparent.method;
  const auto destination = original_destination(socket, method);
  beast::tcp_stream client(std::move(socket));
  beast::flat_buffer buffer(std::max(connection.config().limits.max_head_bytes, tls::max_client_hello_wire_bytes));

  RequestLog line;
  if (destination) line.host = config::to_string(destination->address);
  // Never connected to: the proxy itself, or a flow it cannot place (DESIGN: no loops).
  if (const auto loop = loop_of(destination, services, peer_endpoint); loop != policy::TransparentLoop::none) {
    services.metrics.transparent_loops.add();
    spdlog::warn("{} transparent flow to {}: {}; closed (transparent loop)", connection.peer,
                 line.host.empty() ? std::string("an unknown destination") : line.host, policy::to_string(loop));
    const policy::Refusal refusal{0, policy::Action::tunnel,
                                  std::string("transparent loop: ") + policy::to_string(loop)};
    co_await refuse(client, connection, refusal, line);
    co_return;
  }
  const ClientShares::Share client_share(services.client_shares, connection.address);
  const policy::ClientLoad load{static_cast<std::size_t>(share.active), client_share.open()};
  if (!co_await admit(connection, client, load)) co_return;
  client.socket().set_option(tcp::no_delay(true), ec);

  auto plan = policy::plan_transparent(*connection.runtime().policy, *destination);
  if (const auto* refusal = std::get_if<policy::Refusal>(&plan)) {
    co_await refuse(client, connection, *refusal, line);
    co_return;
  }
  co_await run_connect(connection, client, buffer, std::get<policy::ConnectTarget>(std::move(plan)), std::move(line));
}

}  // namespace trproxy::proxy
