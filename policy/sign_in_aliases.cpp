#include "policy/sign_in_aliases.hpp"

#include "config/syntax.hpp"

namespace trproxy::policy {

const std::vector<SignInAlias>& sign_in_aliases() {
  static const std::vector<SignInAlias> aliases{
      {"sts.windows.net", "token issuer name, an alias of the same cloud in Microsoft's auth library"},
      {"login.microsoftonline-p.com", "another name on the login.microsoftonline.com certificate"},
      {"loginex.microsoftonline.com", "another name on the login.microsoftonline.com certificate"},
      {"login2.microsoftonline.com", "another name on the login.microsoftonline.com certificate"},
      {"login-us.microsoftonline.com", "served from the Entra ID sign-in addresses"},
      {"login.microsoftonline.us", "US Government cloud sign-in"},
      {"login.partner.microsoftonline.cn", "China cloud (21Vianet) sign-in"},
      {"login.sovcloud-identity.fr", "French sovereign cloud sign-in"},
      {"login.sovcloud-identity.de", "German sovereign cloud sign-in"},
      {"login.sovcloud-identity.sg", "Singapore sovereign cloud sign-in"},
  };
  return aliases;
}

std::vector<AliasAction> sign_in_alias_actions(const Policy& policy) {
  const auto& guard = policy.config().sign_in_guard;
  std::vector<AliasAction> actions;
  for (const auto& alias : sign_in_aliases()) {
    const auto host_class = policy.hosts().classify(alias.host);
    const auto action = is_intercepted(host_class)         ? Action::intercept
                        : host_class == HostClass::blocked ? Action::block
                                                           : Action::tunnel;
    const bool guarded = action == Action::tunnel && host_class != HostClass::excluded && !guard.addresses.empty() &&
                         !config::host_matches_any(alias.host, guard.tunnel_names);
    actions.push_back({alias, action, guarded});
  }
  return actions;
}

std::string describe_sign_in_aliases(const Policy& policy) {
  std::string out;
  for (const auto& [alias, action, guarded] : sign_in_alias_actions(policy)) {
    // Appended piece by piece: a long operator+ chain trips GCC 12's -Warray-bounds false positive.
    out.append("sign-in alias ").append(alias.host).append(": ");
    out.append(guarded ? "guarded" : to_string(action)).append(" (").append(alias.what);
    if (guarded)
      out.append("; refused by sign_in_guard where it resolves to the sign-in addresses, tunnelled elsewhere");
    out.append(")\n");
  }
  return out;
}

}  // namespace trproxy::policy
