#include "policy/explain.hpp"

#include "config/syntax.hpp"
#include "policy/admission.hpp"
#include "policy/authority.hpp"
#include "policy/connect_decision.hpp"
#include "policy/egress.hpp"
#include "policy/http_head.hpp"
#include "policy/request_decision.hpp"
#include "policy/sign_in_guard.hpp"
#include "policy/transparent.hpp"

#include <algorithm>
#include <sstream>

namespace trproxy::policy {
namespace {

struct Target {
  bool connect = true;  // https:// or host[:port]: a CONNECT; http://: a plain forward
  std::string authority;
  std::string path = "/";
};

std::optional<Target> parse_target(std::string_view text) {
  Target target;
  std::string_view rest = text;
  if (rest.rfind("https://", 0) == 0) {
    rest.remove_prefix(8);
  } else if (rest.rfind("http://", 0) == 0) {
    rest.remove_prefix(7);
    target.connect = false;
  } else if (rest.find('/') != std::string_view::npos) {
    return std::nullopt;
  }
  const auto slash = rest.find_first_of("/?#");
  target.authority = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos && rest[slash] == '/') target.path = std::string(rest.substr(slash));
  const auto authority = parse_authority(target.authority, target.connect ? 443 : 80, false);
  if (!authority || target.authority.empty()) return std::nullopt;
  // Always carry an explicit port: a CONNECT needs one.
  const auto host = authority->ip_literal_v6 ? "[" + std::string(authority->host) + "]" : std::string(authority->host);
  target.authority = host + ":" + std::to_string(authority->port);
  return target;
}

std::string request_for(const Target& target) {
  if (target.connect) return "CONNECT " + target.authority + " HTTP/1.1\r\nHost: " + target.authority + "\r\n\r\n";
  return "GET http://" + target.authority + target.path + " HTTP/1.1\r\nHost: " + target.authority + "\r\n\r\n";
}

// The rule behind a refusal, for `action: block (...)` / `action: deny (...)`.
std::string rule_of(const Policy& policy, const Refusal& refusal, std::string_view host, std::uint16_t port,
                    bool connect) {
  const auto& c = policy.config();
  if (refusal.action == Action::block) {
    const auto it = std::find_if(c.block.begin(), c.block.end(), [&](const std::string& pattern) {
      return config::host_matches_pattern(host, pattern);
    });
    return "block: " + (it == c.block.end() ? std::string(host) : *it);
  }
  if (check_egress_port(c.egress, connect ? EgressKind::connect : EgressKind::forward, port)) {
    return connect ? "egress.connect_ports" : "egress.forward_ports";
  }
  return refusal.reason;
}

void print_headers(std::ostringstream& out, std::string_view block) {
  if (block.empty()) {
    out << "headers: none inserted (client copies of the tenant-restriction headers are still stripped)\n";
    return;
  }
  std::size_t pos = 0;
  while (pos < block.size()) {
    const auto end = block.find("\r\n", pos);
    out << "header: " << block.substr(pos, end - pos) << '\n';
    pos = end + 2;
  }
}

// What a sign-in request of this profile carries: the inserted lines verbatim, or nothing in
// report mode.
void print_profile_headers(std::ostringstream& out, const ProfileRules& profile, HostMatch host) {
  if (profile.reports()) {
    out << "headers: none inserted (report mode: the request head is forwarded unchanged, nothing stripped)\n";
    return;
  }
  print_headers(out, profile.inserted_block(host.host_class, host.app));
}

// The address rules, for an IP literal decided now, for a name deferred to its addresses.
bool explain_addresses(std::ostringstream& out, const Policy& policy, std::string_view host, std::uint16_t port,
                       bool connect, HostClass host_class) {
  const auto& c = policy.config();
  const auto literal = config::parse_ip(host);
  const bool operator_chosen = c.upstream.resolve.count(config::normalize_host(host)) > 0;
  if (!literal) {
    out << "addresses: not resolved offline; "
        << (operator_chosen ? "upstream.resolve names the address (exempt from egress.deny)"
                            : "each resolved address is checked against egress.deny (" +
                                  std::to_string(c.egress.deny.size()) + " ranges)")
        << (connect && !is_intercepted(host_class) && host_class != HostClass::excluded
                ? " and the sign-in address guard (" + std::to_string(c.sign_in_guard.addresses.size()) + " ranges)"
                : "")
        << '\n';
    return true;
  }
  if (auto refused = check_egress_address(c.egress, SelfEndpoints{}, *literal, port, operator_chosen)) {
    out << "action: deny (egress.deny: " << refused->refusal.reason << ")\n";
    return false;
  }
  if (connect && !is_intercepted(host_class)) {
    // A client naming an address sends no server name of its own.
    const auto guard = check_sign_in_guard(policy, *literal, HelloFacts{HelloKind::no_sni, {}});
    if (guard.outcome == GuardOutcome::refused) {
      out << "action: deny (sign_in_guard: " << guard.reason << ")\n";
      return false;
    }
    if (guard.outcome == GuardOutcome::logged) out << "sign_in_guard: logged (action: log)\n";
  }
  return true;
}

}  // namespace

std::variant<std::string, ExplainError> explain(const Policy& policy, const std::optional<config::IpAddress>& client,
                                                std::string_view text) {
  const auto target = parse_target(text);
  if (!target) return ExplainError{"cannot read the target (write https://host/path, http://host/path or host[:port])"};
  const auto bytes = request_for(*target);
  RequestScanner scanner;
  RequestHead head;
  if (scanner.scan(bytes, head) != ScanStatus::complete) {
    return ExplainError{std::string("cannot read the target: ") + std::string(describe(scanner.error()))};
  }
  const auto authority = head.target_authority(bytes);
  const auto& profile = policy.profile_for(client);
  const auto host = policy.match(authority.host, profile);
  const auto host_class = host.host_class;
  std::ostringstream out;
  out << "target: " << text << '\n';
  out << "class: " << to_string(host_class) << '\n';
  if (host_class == HostClass::app) out << "app: " << policy.apps()[host.app].name << '\n';
  out << "profile: " << profile.name << '\n';
  if (is_intercepted(host_class)) out << "enforcement: " << config::to_string(profile.enforcement) << '\n';
  const auto& c = policy.config();
  if (client && !client_allowed(c, *client)) {
    out << "action: deny (clients.allow)\n";
    return out.str();
  }
  auto plan = plan_plain_request(policy, head, bytes, profile);
  if (const auto* refusal = std::get_if<Refusal>(&plan)) {
    out << "action: " << to_string(refusal->action) << " ("
        << rule_of(policy, *refusal, authority.host, authority.port, target->connect) << ")\n";
    return out.str();
  }
  if (const auto* forward = std::get_if<ForwardPlan>(&plan)) {
    if (!explain_addresses(out, policy, authority.host, authority.port, false, host_class)) return out.str();
    out << "action: forward\n";
    if (forward->profile != nullptr) print_profile_headers(out, *forward->profile, host);
    return out.str();
  }
  const auto& connect = std::get<ConnectTarget>(plan);
  // What a client that asked for this URL sends: SNI = the host, unless it is an address.
  const bool literal = config::parse_ip(authority.host).has_value();
  const HelloFacts hello{literal ? HelloKind::no_sni : HelloKind::sni, literal ? std::string_view{} : authority.host};
  const auto after = decide_after_hello(policy, connect, hello, profile);
  if (const auto* intercept = std::get_if<InterceptPlan>(&after)) {
    out << "action: intercept\n";
    print_profile_headers(out, profile, {intercept->host_class, intercept->app});
    return out.str();
  }
  if (const auto* refusal = std::get_if<Refusal>(&after)) {
    out << "action: " << to_string(refusal->action) << " (" << refusal->reason << ")\n";
    return out.str();
  }
  if (!explain_addresses(out, policy, authority.host, authority.port, true, host_class)) return out.str();
  out << "action: tunnel\n";
  return out.str();
}

namespace {

// The configured listeners as the loop rule sees them (offline: no kernel to ask about addresses).
SelfEndpoints configured_listeners(const config::Config& c) {
  SelfEndpoints self;
  std::vector<config::Endpoint> all = c.listen;
  all.insert(all.end(), c.transparent.listen.begin(), c.transparent.listen.end());
  if (c.admin.listen) all.push_back(*c.admin.listen);
  for (const auto& endpoint : all) {
    const auto address = config::parse_ip(endpoint.host);
    if (!address) continue;
    const bool wildcard = endpoint.host == "0.0.0.0" || endpoint.host == "::";
    if (wildcard) {
      self.wildcard_ports.push_back(endpoint.port);
    } else {
      self.bound.emplace_back(*address, endpoint.port);
    }
  }
  return self;
}

}  // namespace

std::variant<std::string, ExplainError> explain_transparent(const Policy& policy,
                                                            const std::optional<config::IpAddress>& client,
                                                            std::string_view destination,
                                                            const std::optional<std::string>& sni) {
  const auto endpoint = config::parse_endpoint(destination);
  const auto address = endpoint ? config::parse_ip(endpoint->host) : std::nullopt;
  if (!address) return ExplainError{"a transparent flow's TARGET is its original destination, ADDRESS:PORT"};
  const OriginalDestination original{*address, endpoint->port};
  const auto& profile = policy.profile_for(client);
  const auto host = sni ? policy.match(*sni, profile) : HostMatch{};
  std::ostringstream out;
  out << "target: transparent flow to " << endpoint->to_string() << (sni ? " with SNI " + *sni : " without SNI")
      << '\n';
  out << "class: " << to_string(host.host_class) << '\n';
  if (host.host_class == HostClass::app) out << "app: " << policy.apps()[host.app].name << '\n';
  out << "profile: " << profile.name << '\n';
  const auto& c = policy.config();
  if (client && !client_allowed(c, *client)) {
    out << "action: deny (clients.allow)\n";
    return out.str();
  }
  if (const auto loop = check_transparent_destination(original, configured_listeners(c));
      loop != TransparentLoop::none) {
    out << "action: deny (transparent loop: " << to_string(loop) << ")\n";
    return out.str();
  }
  auto plan = plan_transparent(policy, original);
  if (const auto* refusal = std::get_if<Refusal>(&plan)) {
    out << "action: " << to_string(refusal->action) << " (" << rule_of(policy, *refusal, "", original.port, true)
        << ")\n";
    return out.str();
  }
  const auto& target = std::get<ConnectTarget>(plan);
  const HelloFacts hello{sni ? HelloKind::sni : HelloKind::no_sni, sni ? std::string_view(*sni) : std::string_view{}};
  const auto after = decide_after_hello(policy, target, hello, profile);
  if (const auto* intercept = std::get_if<InterceptPlan>(&after)) {
    out << "action: intercept (upstream: the proxy's own resolution of " << intercept->host
        << ", never the original destination)\n";
    print_profile_headers(out, profile, {intercept->host_class, intercept->app});
    return out.str();
  }
  if (const auto* refusal = std::get_if<Refusal>(&after)) {
    out << "action: " << to_string(refusal->action) << " (" << refusal->reason << ")\n";
    return out.str();
  }
  if (auto refused = check_egress_address(c.egress, SelfEndpoints{}, *address, original.port, false)) {
    out << "action: deny (egress.deny: " << refused->refusal.reason << ")\n";
    return out.str();
  }
  const auto guard = check_sign_in_guard(policy, *address, hello);
  if (guard.outcome == GuardOutcome::refused) {
    out << "action: deny (sign_in_guard: " << guard.reason << ")\n";
    return out.str();
  }
  if (guard.outcome == GuardOutcome::logged) out << "sign_in_guard: logged (action: log)\n";
  out << "action: tunnel (to the original destination " << endpoint->to_string() << ")\n";
  return out.str();
}

}  // namespace trproxy::policy
