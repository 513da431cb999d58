#pragma once
// Opening the proxy and admin listeners at start, each bind error naming its key and the OS
// error, and recording what "self" is for the egress rules.

#include "config/config.hpp"
#include "policy/egress.hpp"
#include "proxy/transport/io.hpp"

#include <optional>
#include <vector>

namespace trproxy::proxy {

struct Listeners {
  std::vector<tcp::acceptor> proxy;        // `listen`, in order
  std::vector<tcp::acceptor> transparent;  // `transparent.listen`, in order
  std::optional<tcp::acceptor> admin;
  policy::SelfEndpoints self;  // their ports and addresses, and the kernel's "is it mine"
};

// upstream.mark must be settable (CAP_NET_ADMIN), at start and on every reload: a mark that cannot
// be set would fail every upstream connection, or let the packet filter send the proxy's own
// connections back to it. Throws std::runtime_error naming the key and the capability.
void require_mark_settable(net::io_context& control, std::uint32_t mark);

// Throws std::runtime_error "cannot listen on ADDR (KEY): OS error"; a tproxy listener or an
// upstream.mark without CAP_NET_ADMIN names the capability.
Listeners open_listeners(net::io_context& control, const config::Config& config);

}  // namespace trproxy::proxy
