#include "proxy/upstream/dialer.hpp"

#include "policy/authority.hpp"
#include "policy/parent_proxy.hpp"
#include "policy/upstream_decision.hpp"
#include "proxy/transport/deadline.hpp"
#include "proxy/transport/transparent_socket.hpp"

#include <spdlog/spdlog.h>

#include <variant>

namespace trproxy::proxy {
namespace {

enum class DialStage : std::uint8_t { resolving, connecting };

struct Candidates {
  std::vector<tcp::endpoint> endpoints;
  bool operator_chosen = false;  // upstream.resolve: exempt from egress.deny
};

DialFailure failed(int status, std::string reason) {
  return DialFailure{policy::Refusal{status, policy::Action::deny, std::move(reason)}};
}

// What the 502/504 bodies call the peer being dialled: "upstream login.microsoftonline.com:443"
// or "parent proxy gw.corp.example:8080", so a reader knows which hop failed.
std::string peer_label(std::string_view kind, DialTarget target) {
  return std::string(kind) + " " + policy::format_authority(target.host, target.port);
}

// Asio's messages start with a capital ("Connection refused"); the reasons read as one sentence.
std::string lower_first(std::string text) {
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] - 'A' + 'a');
  return text;
}

// Where a dial may go: the route's address (an upstream.resolve entry or an IP literal), or DNS
// (the worker's resolver: cached, A and AAAA together, never queued behind another lookup).
net::awaitable<std::variant<DialFailure, Candidates>> candidates_for(const config::Config& config, Metrics& metrics,
                                                                     DnsResolver& resolver, DialTarget target,
                                                                     const std::string& label,
                                                                     Clock::time_point deadline) {
  const auto route = policy::upstream_route(config, target.host, target.port);
  if (route.address) {
    co_return Candidates{{tcp::endpoint(to_asio_address(*route.address), route.port)}, route.operator_chosen};
  }
  const auto answer = co_await resolver.resolve(target.host, deadline);
  metrics.dns_lookups.add(static_cast<std::size_t>(answer.error));
  if (answer.error != DnsError::none) {
    co_return failed(answer.error == DnsError::timeout ? 504 : 502, label + ": " + std::string(describe(answer.error)));
  }
  Candidates out;
  for (const auto& address : answer.addresses) out.endpoints.emplace_back(to_asio_address(address), target.port);
  co_return out;
}

// `mark`: upstream.mark, set before the SYN leaves so the packet filter's loop guard sees it.
net::awaitable<error_code> connect_socket(tcp::socket& socket, tcp::endpoint endpoint, std::uint32_t mark) {
  if (mark != 0) {
    error_code ec;
    socket.open(endpoint.protocol(), ec);
    if (!ec) ec = set_mark(socket, mark);
    if (ec) co_return ec;
  }
  auto [ec] = co_await socket.async_connect(endpoint, use_tuple);
  co_return ec;
}

// Resolves, applies the address rules, and connects to the first allowed address that answers.
// `operator_chosen`: the target itself is the operator's choice (the parent proxy), exempt from
// egress.deny like an upstream.resolve address.
net::awaitable<std::optional<DialFailure>> resolve_and_connect(beast::tcp_stream& stream, const config::Config& config,
                                                               const DialParts& parts, DialTarget target,
                                                               const std::string& label, bool operator_chosen,
                                                               Clock::time_point deadline, DialStage& stage) {
  auto found = co_await candidates_for(config, parts.metrics, parts.resolver, target, label, deadline);
  if (auto* failure = std::get_if<DialFailure>(&found)) {
    parts.metrics.upstream_failure(failure->refusal.status == 504 ? UpstreamFailure::timeout
                                                                  : UpstreamFailure::connect);
    co_return std::move(*failure);
  }
  const auto& candidates = std::get<Candidates>(found);
  stage = DialStage::connecting;
  std::optional<policy::EgressRefusal> refused;
  error_code last_error;
  tcp::endpoint last_tried;
  std::size_t left = candidates.endpoints.size();
  for (const auto& endpoint : candidates.endpoints) {
    --left;
    if (auto refusal = policy::check_egress_address(config.egress, parts.self, to_ip_address(endpoint.address()),
                                                    endpoint.port(), candidates.operator_chosen || operator_chosen)) {
      if (!refused) refused = std::move(refusal);
      continue;
    }
    error_code ignored;
    stream.socket().close(ignored);
    // Each address gets its share of the time left, so one that never answers leaves time
    // for the next (the last one gets all that remains).
    const auto now = Clock::now();
    const auto attempt_deadline = left == 0 ? deadline : now + (deadline - now) / static_cast<int>(left + 1);
    auto attempt = co_await within(attempt_deadline, connect_socket(stream.socket(), endpoint, config.upstream.mark));
    const auto ec = attempt ? *attempt : error_code(net::error::timed_out);
    if (!ec) {
      stream.socket().set_option(tcp::no_delay(true), ignored);
      co_return std::nullopt;
    }
    last_error = ec;
    last_tried = endpoint;
  }
  if (refused && !last_error) {
    co_return DialFailure{std::move(refused->refusal)};
  }
  if (last_error == net::error::timed_out) {
    parts.metrics.upstream_failure(UpstreamFailure::timeout);
    co_return failed(504, label + " (" + endpoint_string(last_tried) + "): connect timed out");
  }
  parts.metrics.upstream_failure(UpstreamFailure::connect);
  if (!last_error) co_return failed(502, label + ": no address to connect to");
  co_return failed(502, label + " (" + endpoint_string(last_tried) + "): " + lower_first(last_error.message()));
}

// Through upstream.proxy: TCP to the parent (exempt from egress.deny), then CONNECT to the
// target. The parent resolves host names; an IP literal target still meets the address rules
// here, and an upstream.resolve entry is what the parent is asked for (exempt, as without one).
net::awaitable<std::optional<DialFailure>> connect_through_parent(beast::tcp_stream& stream,
                                                                  const config::Config& config, const DialParts& parts,
                                                                  DialTarget target, const config::Endpoint& parent,
                                                                  Clock::time_point deadline, DialStage& stage) {
  const auto route = policy::upstream_route(config, target.host, target.port);
  const auto& connect_host = route.host;
  const auto connect_port = route.port;
  if (route.address && !route.operator_chosen) {
    if (auto refusal = policy::check_egress_address(config.egress, parts.self, *route.address, route.port, false)) {
      co_return DialFailure{std::move(refusal->refusal)};
    }
  }
  const DialTarget parent_target{parent.host, parent.port};
  const auto parent_text = peer_label("parent proxy", parent_target);
  if (auto failure =
          co_await resolve_and_connect(stream, config, parts, parent_target, parent_text, true, deadline, stage)) {
    co_return failure;
  }
  const auto request = policy::parent_connect_request(connect_host, connect_port);
  if (auto ec = co_await write_text(stream, request)) {
    parts.metrics.upstream_failure(UpstreamFailure::connect);
    co_return failed(502, parent_text + ": " + lower_first(ec.message()));
  }
  // Only the reply head is consumed: peek, and read exactly up to its blank line, so bytes the
  // target sends first (server-speaks-first protocols) stay in the socket for the tunnel.
  std::string head;
  std::array<char, 4096> peeked{};
  for (;;) {
    auto [ec, n] =
        co_await stream.socket().async_receive(net::buffer(peeked), net::socket_base::message_peek, use_tuple);
    if (ec || n == 0) {
      parts.metrics.upstream_failure(UpstreamFailure::connect);
      co_return failed(502, parent_text + " closed the connection before answering CONNECT");
    }
    const auto seen = head + std::string(peeked.data(), n);
    const auto reply = policy::parse_parent_reply(seen);
    // Take the peeked bytes that belong to the head: all of them while it is incomplete.
    const auto take = reply.status == policy::ParentReplyStatus::complete ? reply.length - head.size() : n;
    std::string taken(take, '\0');
    auto [read_ec, read_n] = co_await net::async_read(stream.socket(), net::buffer(taken), use_tuple);
    if (read_ec) {
      parts.metrics.upstream_failure(UpstreamFailure::connect);
      co_return failed(502, parent_text + " closed the connection before answering CONNECT");
    }
    head += taken;
    if (reply.status == policy::ParentReplyStatus::need_more) continue;
    if (reply.status == policy::ParentReplyStatus::complete && reply.established()) co_return std::nullopt;
    parts.metrics.upstream_failure(UpstreamFailure::connect);
    spdlog::warn("{}: CONNECT {}: {}", parent_text, policy::format_authority(connect_host, connect_port),
                 reply.status == policy::ParentReplyStatus::complete ? reply.status_text : "unreadable answer");
    co_return failed(502, policy::parent_refusal_reason(reply));
  }
}

}  // namespace

net::awaitable<std::optional<DialFailure>> Dialer::dial(beast::tcp_stream& stream, const config::Config& config,
                                                        DialTarget target) {
  const auto& parts = parts_;
  const auto deadline = Clock::now() + config.upstream.connect_timeout;
  const auto label = peer_label("upstream", target);
  const auto& parent = config.upstream.proxy;
  DialStage stage = DialStage::resolving;
  std::optional<std::optional<DialFailure>> outcome;
  if (parent) {
    outcome =
        co_await within(deadline, connect_through_parent(stream, config, parts, target, *parent, deadline, stage));
  } else {
    outcome =
        co_await within(deadline, resolve_and_connect(stream, config, parts, target, label, false, deadline, stage));
  }
  if (outcome) co_return std::move(*outcome);
  parts.metrics.upstream_failure(UpstreamFailure::timeout);
  error_code ignored;
  stream.socket().close(ignored);
  const auto hop = parent ? peer_label("parent proxy", {parent->host, parent->port}) : label;
  if (stage == DialStage::resolving) co_return failed(504, hop + ": " + std::string(describe(DnsError::timeout)));
  co_return failed(504, (parent ? hop + " CONNECT to " : "") + label + ": connect timed out");
}

net::awaitable<policy::GuardDestination> Dialer::guard_destination(const beast::tcp_stream& stream,
                                                                   const config::Config& config, DialTarget target) {
  policy::GuardDestination out;
  if (!config.upstream.proxy) {
    error_code ec;
    const auto remote = stream.socket().remote_endpoint(ec);
    if (!ec) out.addresses.push_back(to_ip_address(remote.address()));
    co_return out;
  }
  if (const auto route = policy::upstream_route(config, target.host, target.port); route.address) {
    out.addresses.push_back(*route.address);
    co_return out;
  }
  if (config.sign_in_guard.addresses.empty()) co_return out;  // the guard is off: no lookup
  const auto answer = co_await parts_.resolver.resolve(target.host, Clock::now() + config.upstream.connect_timeout);
  parts_.metrics.dns_lookups.add(static_cast<std::size_t>(answer.error));
  out.addresses = answer.addresses;
  out.unknown = answer.error != DnsError::none || answer.addresses.empty();
  co_return out;
}

net::awaitable<std::optional<DialFailure>> Dialer::dial_tls(std::unique_ptr<TlsSocketStream>& upstream,
                                                            const config::Config& config,
                                                            const tls::UpstreamTls& upstream_tls, DialTarget target) {
  auto& metrics = parts_.metrics;
  beast::tcp_stream tcp_stream(co_await net::this_coro::executor);
  if (auto failure = co_await dial(tcp_stream, config, target)) co_return failure;
  upstream = std::make_unique<TlsSocketStream>(std::move(tcp_stream),
                                               upstream_tls.new_session(std::string(target.host), parts_.sessions));
  expire_after(*upstream, config.upstream.connect_timeout);
  auto [ec, unused] = co_await upstream->async_handshake(net::ssl::stream_base::client, use_tuple);
  if (!ec) {
    metrics.upstream_tls_handshakes.add();
    if (SSL_session_reused(upstream->native_handle())) metrics.upstream_tls_resumptions.add();
    co_return std::nullopt;
  }
  const auto verify = tls::UpstreamTls::verify_failure(upstream->native_handle());
  upstream.reset();
  const auto label = peer_label("upstream", target);
  if (!verify.empty()) {
    metrics.upstream_failure(UpstreamFailure::tls_verify);
    spdlog::warn("{}: certificate verification failed: {}", label, verify);
    co_return failed(502, label + ": certificate verification failed: " + verify);
  }
  const bool timeout = ec == beast::error::timeout;
  metrics.upstream_failure(timeout ? UpstreamFailure::timeout : UpstreamFailure::tls_other);
  spdlog::warn("{}: TLS handshake failed: {}", label, ec.message());
  co_return failed(timeout ? 504 : 502, label + (timeout ? ": TLS handshake timed out"
                                                         : ": TLS handshake failed: " + lower_first(ec.message())));
}

}  // namespace trproxy::proxy
