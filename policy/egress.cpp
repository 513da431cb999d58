#include "policy/egress.hpp"

#include <algorithm>

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
  return is_loopback(address) || is_unspecified(address) ||
         std::find(self.local_addresses.begin(), self.local_addresses.end(), address) != self.local_addresses.end();
}

EgressRefusal refuse(EgressRule rule, std::string reason) {
  return EgressRefusal{rule, Refusal{403, Action::deny, std::move(reason)}};
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

std::optional<EgressRefusal> check_egress_port(const config::EgressRules& rules, EgressKind kind,
                                               std::uint16_t port) {
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
  for (const auto& cidr : rules.deny) {
    if (cidr.contains(address)) {
      return refuse(EgressRule::address, "destination address is in egress.deny (" + cidr.text + ")");
    }
  }
  return std::nullopt;
}

}  // namespace trproxy::policy
