#pragma once
// The other names of Microsoft's sign-in service and the sovereign-cloud sign-in hosts
// (tenant-restrictions-facts.md, "Where the sign-in hosts live"). A client that signs in under
// one of them instead of login.microsoftonline.com carries no tenant-restriction header unless
// the configuration intercepts it (auth_hosts) or blocks it (block); --check shows which.

#include <string>
#include <string_view>
#include <vector>

#include "policy/action.hpp"
#include "policy/policy.hpp"

namespace trproxy::policy {

struct SignInAlias {
  std::string_view host;
  std::string_view what;  // one phrase: why it matters
};

// The alternative names first, then the sovereign clouds.
const std::vector<SignInAlias>& sign_in_aliases();

struct AliasAction {
  SignInAlias alias;
  Action action;  // intercept, tunnel or block
  // A tunnel that the sign-in address guard refuses wherever the name resolves to
  // sign_in_guard.addresses (the alias is not in sign_in_guard.tunnel_names).
  bool guarded = false;
};

// What the proxy does with each alias under this policy.
std::vector<AliasAction> sign_in_alias_actions(const Policy& policy);

// The lines --check prints, one per alias: "sign-in alias HOST: ACTION (what it is)", ACTION
// one of intercept, block, tunnel, guarded.
std::string describe_sign_in_aliases(const Policy& policy);

}  // namespace trproxy::policy
