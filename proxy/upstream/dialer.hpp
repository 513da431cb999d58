#pragma once
// Connecting upstream on a client's behalf: the upstream.resolve override or DNS (the worker's
// c-ares resolver), the egress address rules for every candidate address, and a TCP connect to
// each in turn until one answers, all under one upstream.connect_timeout; with upstream.proxy, a
// CONNECT through the parent proxy instead. For sign-in hosts, a verified TLS handshake on top
// (through the parent's tunnel too).

#include "policy/action.hpp"
#include "policy/egress.hpp"
#include "policy/sign_in_guard.hpp"
#include "proxy/observe/metrics.hpp"
#include "proxy/transport/io.hpp"
#include "proxy/transport/tls_socket_stream.hpp"
#include "proxy/upstream/resolver.hpp"
#include "tls/contexts.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace trproxy::proxy {

struct DialFailure {
  policy::Refusal refusal;  // 403 (egress), 502 or 504
};

struct DialTarget {
  std::string_view host;  // normalised
  std::uint16_t port = 0;
};

// What dialling uses of its worker, handed over once: the dialer knows no worker, session or
// runtime. The configuration and upstream TLS state come with each call (the caller's snapshot).
struct DialParts {
  DnsResolver& resolver;
  Metrics& metrics;
  const policy::SelfEndpoints& self;  // the egress "self" rule
  tls::UpstreamSessions& sessions;    // resumption of upstream TLS
};

class Dialer {
 public:
  explicit Dialer(DialParts parts) : parts_(parts) {}

  // Connects `stream` (not yet open) to the target. On success returns nullopt and the stream
  // is connected (TCP_NODELAY set); the address connected to is its remote endpoint.
  net::awaitable<std::optional<DialFailure>> dial(beast::tcp_stream& stream, const config::Config& config,
                                                  DialTarget target);

  // Where a tunnel reaches, for the sign-in address guard: the connected peer; through a parent
  // proxy the target's own address where trproxy knows it (an IP literal or an upstream.resolve
  // entry), else, while the guard is on, the resolver's answer for the name (the parent resolves
  // it itself, to any of the same addresses), or `unknown` when that lookup fails.
  net::awaitable<policy::GuardDestination> guard_destination(const beast::tcp_stream& stream,
                                                             const config::Config& config, DialTarget target);

  // Dials and TLS-verifies the real sign-in upstream for `host`. On success `upstream` holds
  // the verified stream.
  net::awaitable<std::optional<DialFailure>> dial_tls(std::unique_ptr<TlsSocketStream>& upstream,
                                                      const config::Config& config,
                                                      const tls::UpstreamTls& upstream_tls, DialTarget target);

 private:
  DialParts parts_;
};

}  // namespace trproxy::proxy
