#pragma once
// The proxy listeners' accept loops and the hand-off of each accepted socket to a worker.
//
// Why hand-off and not one SO_REUSEPORT listener per worker: the kernel spreads SO_REUSEPORT
// connections by a hash of the 4-tuple, blind to how busy each worker is, so a few long-lived
// heavy clients (a NAT or a load balancer in front, the egress norm) can land on one worker
// while another idles, and closing one worker's listener on drain drops the connections queued
// in its backlog. Accepting in one place and handing each socket to the worker with the fewest
// open connections (ties broken round-robin) spreads by actual load; the socket is created on
// the worker's io_context directly (async_accept with the worker's executor), so the hand-off
// costs no extra system call. bench/README.md records the spread measured here.

#include "proxy/observe/access_record.hpp"
#include "proxy/transport/io.hpp"
#include "proxy/worker/services.hpp"
#include "proxy/worker/worker.hpp"

#include <memory>
#include <vector>

namespace trproxy::proxy {

using Workers = std::vector<std::unique_ptr<Worker>>;

// `transparent`: IP_TRANSPARENT before bind (a tproxy listener).
tcp::acceptor open_acceptor(net::io_context& io, const config::Endpoint& endpoint, bool transparent = false);

// Accepts until the acceptor is closed; `entry` picks the session its connections start (the
// proxy's request loop, or a transparent flow). Persistent errors (EMFILE, ENFILE, ENOBUFS, ENOMEM)
// pause it instead of spinning (accept_pause.hpp), each pause counted in `pauses`.
net::awaitable<void> accept_loop(tcp::acceptor& acceptor, Workers& workers, Counter& pauses,
                                 Entry entry = Entry::proxy);

}  // namespace trproxy::proxy
