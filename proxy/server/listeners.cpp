#include "proxy/server/listeners.hpp"

#include "proxy/server/acceptor.hpp"
#include "proxy/transport/local_address.hpp"
#include "proxy/transport/transparent_socket.hpp"

#include <stdexcept>

namespace trproxy::proxy {
namespace {

void add_self(policy::SelfEndpoints& self, const tcp::endpoint& bound) {
  if (bound.address().is_unspecified()) {
    self.wildcard_ports.push_back(bound.port());
  } else {
    self.bound.emplace_back(to_ip_address(bound.address()), bound.port());
  }
}

tcp::acceptor open_for(net::io_context& control, const config::Endpoint& endpoint, const char* key,
                       bool transparent = false) {
  try {
    return open_acceptor(control, endpoint, transparent);
  } catch (const boost::system::system_error& error) {
    // The key that names the listener and the OS error, not Boost's source location.
    const bool capability = transparent && error.code() == boost::system::errc::operation_not_permitted;
    throw std::runtime_error("cannot listen on " + endpoint.to_string() + " (" + key + "): " + error.code().message() +
                             (capability ? " (transparent.method tproxy needs CAP_NET_ADMIN)" : ""));
  }
}

}  // namespace

void require_mark_settable(net::io_context& control, std::uint32_t mark) {
  if (mark == 0) return;
  tcp::socket probe(control);
  error_code ec;
  probe.open(tcp::v4(), ec);
  if (!ec) ec = set_mark(probe, mark);
  if (ec) {
    throw std::runtime_error("upstream.mark: cannot set SO_MARK " + std::to_string(mark) + ": " + ec.message() +
                             (ec == boost::system::errc::operation_not_permitted ? " (needs CAP_NET_ADMIN)" : ""));
  }
}

Listeners open_listeners(net::io_context& control, const config::Config& config) {
  Listeners out;
  for (const auto& endpoint : config.listen) {
    out.proxy.push_back(open_for(control, endpoint, "listen"));
    add_self(out.self, out.proxy.back().local_endpoint());
  }
  const bool tproxy = config.transparent.method == config::TransparentMethod::tproxy;
  for (const auto& endpoint : config.transparent.listen) {
    out.transparent.push_back(open_for(control, endpoint, "transparent.listen", tproxy));
    add_self(out.self, out.transparent.back().local_endpoint());
  }
  require_mark_settable(control, config.upstream.mark);
  if (config.admin.listen) {
    out.admin.emplace(open_for(control, *config.admin.listen, "admin.listen"));
    add_self(out.self, out.admin->local_endpoint());
  }
  out.self.is_local_address = is_local_address;
  return out;
}

}  // namespace trproxy::proxy
