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

// Throws std::runtime_error "cannot listen on ADDR (KEY): OS error"; a tproxy listener or an
// upstream.mark without CAP_NET_ADMIN names the capability.
Listeners open_listeners(net::io_context& control, const config::Config& config);

}  // namespace trproxy::proxy
