#pragma once
// Whether an address belongs to this machine at this moment, asked of the kernel: binding a
// socket to it succeeds only for a local address (EADDRNOTAVAIL otherwise). A list read at start
// goes stale as addresses are added (DHCP, a virtual IP moved to this node); the question costs
// a socket, a bind and a close, and the egress "self" rule asks it only for a dial to one of the
// proxy's own listener ports.

#include "config/cidr.hpp"

namespace trproxy::proxy {

bool is_local_address(const config::IpAddress& address);

}  // namespace trproxy::proxy
