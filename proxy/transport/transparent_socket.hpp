#pragma once
// The socket options of transparent interception (DESIGN.md, "Transparent mode"): where a
// redirected flow was going, IP_TRANSPARENT listeners for tproxy, SO_MARK on upstream sockets
// for the packet filter's loop guard, and whether a flow is one of this process's own
// connections sent back to it. Linux only, like the packet filter rules they serve.

#include "proxy/transport/io.hpp"

#include <cstdint>
#include <optional>

namespace trproxy::proxy {

// SO_ORIGINAL_DST (IPv4, also for an IPv4-mapped peer on an IPv6 socket) or IP6T_SO_ORIGINAL_DST:
// the destination before nftables' redirect/dnat; nullopt when the kernel has none (the flow was
// not redirected, or conntrack does not know it).
std::optional<tcp::endpoint> redirected_destination(tcp::socket& socket);

// IP_TRANSPARENT / IPV6_TRANSPARENT on an open, unbound acceptor: it may then accept flows to
// any address (tproxy). Fails with EPERM without CAP_NET_ADMIN.
error_code set_transparent(tcp::acceptor& acceptor, bool v6);

// SO_MARK on an open socket (0: nothing to do). Fails with EPERM without CAP_NET_ADMIN.
error_code set_mark(tcp::socket& socket, std::uint32_t mark);

// True when a socket of this process is bound to `local`: a flow from it to the proxy's own
// transparent listener is one of the proxy's upstream connections caught by a rule that should
// have skipped it. Reads /proc/self/fd; asked only for a flow whose peer is a local address.
bool is_own_connection(const tcp::endpoint& local);

}  // namespace trproxy::proxy
