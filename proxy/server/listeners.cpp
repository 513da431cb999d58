#include "proxy/server/listeners.hpp"

#include "proxy/server/acceptor.hpp"
#include "proxy/transport/local_address.hpp"

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

tcp::acceptor open_for(net::io_context& control, const config::Endpoint& endpoint, const char* key) {
  try {
    return open_acceptor(control, endpoint);
  } catch (const boost::system::system_error& error) {
    // The key that names the listener and the OS error, not Boost's source location.
    throw std::runtime_error("cannot listen on " + endpoint.to_string() + " (" + key + "): " + error.code().message());
  }
}

}  // namespace

Listeners open_listeners(net::io_context& control, const config::Config& config) {
  Listeners out;
  for (const auto& endpoint : config.listen) {
    out.proxy.push_back(open_for(control, endpoint, "listen"));
    add_self(out.self, out.proxy.back().local_endpoint());
  }
  if (config.admin.listen) {
    out.admin.emplace(open_for(control, *config.admin.listen, "admin.listen"));
    add_self(out.self, out.admin->local_endpoint());
  }
  out.self.is_local_address = is_local_address;
  return out;
}

}  // namespace trproxy::proxy
