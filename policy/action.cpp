#include "policy/action.hpp"

namespace trproxy::policy {

const char* to_string(Action action) {
  switch (action) {
    case Action::intercept: return "intercept";
    case Action::tunnel: return "tunnel";
    case Action::block: return "block";
    case Action::deny: return "deny";
    case Action::forward: return "forward";
    case Action::pac: return "pac";
    case Action::count: break;
  }
  return "unknown";
}

}  // namespace trproxy::policy
