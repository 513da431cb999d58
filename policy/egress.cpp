#include "policy/egress.hpp"

#include <algorithm>
#include <array>

namespace trproxy::policy {
namespace {

bool is_loopback(const config::IpAddress& a) {
  static const auto v4 = *config::parse_cidr("127.0.0.0/8");
  static const auto v6 = *config::parse_cidr("::1/128");
  return v4.contains(a) || v6.contains(a);
}

// 0.0.0.0 and :: as a destination: the kernel connects them to loopback (a listener on
// 127.0.0.1 answers a connect to 0.0.0.0), whether or not egress.deny names them.
bool is_unspecified(const config::IpAddress& a) {
  static const auto v4 = *config::parse_ip("0.0.0.0");
  static const auto v6 = *config::parse_ip("::");
  return a == v4 || a == v6;
}

bool is_self(const SelfEndpoints& self, const config::IpAddress& address, std::uint16_t port) {
  for (const auto& [bound, bound_port] : self.bound) {
    if (bound_port == port && (bound == address || (is_unspecified(address) && is_loopback(bound)))) return true;
  }
  if (std::find(self.wildcard_ports.begin(), self.wildcard_ports.end(), port) == self.wildcard_ports.end()) {
    return false;
  }
  return is_loopback(address) || is_unspecified(address) || (self.is_local_address && self.is_local_address(address));
}

// The IPv4 address an IPv6 destination carries, where the network would deliver it to that IPv4
// address: IPv4-compatible ::a.b.c.d (deprecated, still routed by some stacks), NAT64's
// 64:ff9b::/96 and 6to4's 2002:aabb:ccdd::/48. A deny range of IPv4 then covers these too.
std::optional<config::IpAddress> embedded_ipv4(const config::IpAddress& a) {
  const auto& b = a.bytes;
  auto mapped = [](const std::uint8_t* v4) {
    config::IpAddress out;
    out.bytes[10] = out.bytes[11] = 0xff;
    std::copy(v4, v4 + 4, out.bytes.begin() + 12);
    return out;
  };
  const bool zero_96 = std::all_of(b.begin(), b.begin() + 12, [](std::uint8_t x) { return x == 0; });
  const bool zero_last = std::all_of(b.begin() + 12, b.begin() + 15, [](std::uint8_t x) { return x == 0; });
  if (zero_96 && !(zero_last && b[15] <= 1)) return mapped(b.data() + 12);  // not :: or ::1
  static constexpr std::array<std::uint8_t, 12> nat64{0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::equal(nat64.begin(), nat64.end(), b.begin())) return mapped(b.data() + 12);
  if (b[0] == 0x20 && b[1] == 0x02) return mapped(b.data() + 2);
  return std::nullopt;
}

EgressRefusal refuse(EgressRule rule, std::string reason) {
  return EgressRefusal{rule, Refusal{403, Action::deny, std::move(reason), rule}};
}

}  // namespace

const char* to_string(EgressRule rule) {
  switch (rule) {
    case EgressRule::port: return "port";
    case EgressRule::address: return "address";
    case EgressRule::self: return "self";
    case EgressRule::count: break;
  }
  return "unknown";
}

std::optional<EgressRefusal> check_egress_port(const config::EgressRules& rules, EgressKind kind, std::uint16_t port) {
  const auto& allowed = kind == EgressKind::connect ? rules.connect_ports : rules.forward_ports;
  if (std::any_of(allowed.begin(), allowed.end(), [&](const config::PortRange& r) { return r.contains(port); })) {
    return std::nullopt;
  }
  return refuse(EgressRule::port, std::string(kind == EgressKind::connect ? "CONNECT" : "plain HTTP") + " to port " +
                                      std::to_string(port) + " is not allowed (egress." +
                                      (kind == EgressKind::connect ? "connect_ports" : "forward_ports") + ")");
}

std::optional<EgressRefusal> check_egress_address(const config::EgressRules& rules, const SelfEndpoints& self,
                                                  const config::IpAddress& address, std::uint16_t port,
                                                  bool operator_chosen) {
  if (is_self(self, address, port)) {
    return refuse(EgressRule::self, "destination is this proxy's own listener");
  }
  if (operator_chosen) return std::nullopt;
  const auto embedded = embedded_ipv4(address);
  for (const auto& cidr : rules.deny) {
    if (cidr.contains(address)) {
      return refuse(EgressRule::address, "destination address is in egress.deny (" + cidr.text + ")");
    }
    if (embedded && cidr.contains(*embedded)) {
      return refuse(EgressRule::address,
                    "destination address embeds an IPv4 address in egress.deny (" + cidr.text + ")");
    }
  }
  return std::nullopt;
}

}  // namespace trproxy::policy
