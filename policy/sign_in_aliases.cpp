#include "policy/sign_in_aliases.hpp"

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

std::vector<AliasAction> sign_in_alias_actions(const HostClassifier& hosts) {
  std::vector<AliasAction> actions;
  for (const auto& alias : sign_in_aliases()) {
    const auto host_class = hosts.classify(alias.host);
    const auto action = is_intercepted(host_class)         ? Action::intercept
                        : host_class == HostClass::blocked ? Action::block
                                                           : Action::tunnel;
    actions.push_back({alias, action});
  }
  return actions;
}

std::string describe_sign_in_aliases(const HostClassifier& hosts) {
  std::string out;
  for (const auto& [alias, action] : sign_in_alias_actions(hosts)) {
    out +=
        "sign-in alias " + std::string(alias.host) + ": " + to_string(action) + " (" + std::string(alias.what) + ")\n";
  }
  return out;
}

}  // namespace trproxy::policy
