#include "policy/transparent.hpp"

#include <algorithm>

namespace trproxy::policy {

const char* to_string(TransparentLoop loop) {
  switch (loop) {
    case TransparentLoop::none: return "none";
    case TransparentLoop::unreadable: return "original destination cannot be read";
    case TransparentLoop::own_listener: return "original destination is one of the proxy's listeners";
    case TransparentLoop::local_address: return "original destination is an address of this machine";
    case TransparentLoop::own_connection: return "the flow is one of the proxy's own upstream connections";
  }
  return "loop";
}

TransparentLoop check_transparent_destination(const std::optional<OriginalDestination>& destination,
                                              const SelfEndpoints& self) {
  if (!destination) return TransparentLoop::unreadable;
  // Named members, not a structured binding: Clang 14 cannot capture those in the lambda below.
  const auto& address = destination->address;
  const auto port = destination->port;
  const bool listener =
      std::find(self.wildcard_ports.begin(), self.wildcard_ports.end(), port) != self.wildcard_ports.end() ||
      std::any_of(self.bound.begin(), self.bound.end(),
                  [&](const auto& bound) { return bound.first == address && bound.second == port; });
  if (listener && (self.is_local_address ? self.is_local_address(address) : true)) {
    return TransparentLoop::own_listener;
  }
  if (self.is_local_address && self.is_local_address(address)) return TransparentLoop::local_address;
  return TransparentLoop::none;
}

ConnectPlan plan_transparent(const Policy& policy, const OriginalDestination& destination) {
  if (auto refused = check_egress_port(policy.config().egress, EgressKind::connect, destination.port)) {
    return std::move(refused->refusal);
  }
  return ConnectTarget{config::to_string(destination.address), destination.port, HostClass::other};
}

const char* to_string(TransparentAction action) {
  switch (action) {
    case TransparentAction::intercept: return "intercept";
    case TransparentAction::tunnel: return "tunnel";
    case TransparentAction::block: return "block";
    case TransparentAction::deny: return "deny";
    case TransparentAction::close: return "close";
    case TransparentAction::count: break;
  }
  return "close";
}

TransparentAction transparent_action(Action action, int status, bool has_reason, std::uint64_t bytes_out) {
  if (action == Action::block) return TransparentAction::block;
  if (action == Action::deny) return TransparentAction::deny;
  if (has_reason && status == 0 && bytes_out == 0) return TransparentAction::close;
  return action == Action::intercept ? TransparentAction::intercept : TransparentAction::tunnel;
}

}  // namespace trproxy::policy
